//! The scenario file format: what a user writes, parsed and validated without any I/O.
//!
//! A scenario file describes one target and the checks run against it. Parsing is strict:
//! every unknown key, malformed duration or threshold, unset variable and impossible
//! combination is an error with a line and column, never a silently ignored setting.

pub mod baseline;
pub mod diagnostic;
pub mod duration;
pub mod inference;
pub mod interpolate;
pub mod parse;
pub mod request;
pub mod size;
pub mod sla;
pub mod smoke;
pub mod threshold;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

pub use baseline::BaselineCheck;
pub use duration::Dur;
pub use inference::{Endpoint, InferenceCheck, InferenceExpect, Message};
pub use parse::{ParseError, ParseErrors, parse_scenario};
pub use request::CheckRequest;
pub use size::Size;
pub use sla::SlaCheck;
pub use smoke::{JsonExpect, SmokeCheck, SmokeExpect};
pub use threshold::Threshold;

/// A whole scenario file as written, with the spans that later validation errors point at.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioDoc {
    pub target: TargetSpec,
    #[serde(default)]
    pub smoke: Vec<Spanned<SmokeCheck>>,
    #[serde(default)]
    pub inference: Vec<Spanned<InferenceCheck>>,
    /// Filled by [`parse_scenario`] from the `baseline` array (see [`baseline::from_toml`]).
    #[serde(skip)]
    pub baseline: Vec<Spanned<BaselineCheck>>,
    /// Filled by [`parse_scenario`] from the `sla` array (see [`sla::from_toml`]).
    #[serde(skip)]
    pub sla: Vec<Spanned<SlaCheck>>,
}

/// Which wire protocol the target speaks; decides the endpoints model checks use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    #[default]
    Http,
    Ollama,
    Openai,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub base_url: Spanned<String>,
    #[serde(default)]
    pub api: Api,
    /// Whole-request timeout unless a check sets its own.
    #[serde(default = "defaults::timeout")]
    pub timeout: Dur,
    /// Short on purpose: a target that is down should fail in seconds, not hang.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: Dur,
    /// The most a response may send, streamed or not, unless a check sets its own: reading
    /// stops there, so a server that never ends its body cannot take the harness's memory.
    #[serde(default = "defaults::max_body")]
    pub max_body: Size,
    /// The longest line (an NDJSON line, an SSE line or event) a stream may send, unless an
    /// inference check sets its own: the unfinished tail of a line is kept until its end
    /// arrives, so without a bound one endless line would be kept whole.
    #[serde(default = "defaults::max_line")]
    pub max_line: Size,
    /// Sent with every request. Values are secrets: never written to an artifact or log.
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
    /// Names of environment variables whose values are secrets wherever they appear (a
    /// key interpolated into the spawn command, a token a server prints): the harness
    /// cannot guess those the way it knows header values.
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    /// Name of an environment variable; when it is unset or empty the target's checks are
    /// reported as ignored with a reason instead of failing on a server that isn't there.
    pub enabled_if: Option<String>,
    /// Programs the target needs, each with how to install it: a managed server, say. One
    /// that is missing makes the target's checks ignored with that hint instead of failing
    /// on a server that cannot start, so a machine without nginx still runs the rest.
    #[serde(default)]
    pub requires: BTreeMap<String, Spanned<String>>,
    /// Checks that measure timing take turns on a server unless this is set: for servers
    /// meant to be measured while serving several requests at once.
    #[serde(default)]
    pub measure_concurrently: bool,
    pub spawn: Option<SpawnSpec>,
}

/// A target the harness starts itself before its first check, and stops after its last.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnSpec {
    /// Run with `sh -c`, in its own process group so that stopping it stops its children.
    pub command: Spanned<String>,
    /// Polled with GET until it answers 200.
    #[serde(default = "defaults::ready_path")]
    pub ready_path: String,
    #[serde(default = "defaults::ready_timeout")]
    pub ready_timeout: Dur,
    /// Extra environment for the command. Values are secrets: what else would a server
    /// be given in its environment rather than on its command line?
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A value that may be written as one item or as a list of items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(item) => std::slice::from_ref(item),
            OneOrMany::Many(items) => items,
        }
    }
}

/// A regular expression, compiled while parsing so that a bad one is a load error.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::Regex::new(&text)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("invalid regex: {e}")))
    }
}

/// An RFC 6901 JSON pointer: empty (the whole document) or starting with `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JsonPointer(pub String);

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() || text.starts_with('/') {
            Ok(JsonPointer(text))
        } else {
            Err(serde::de::Error::custom(format!(
                "invalid JSON pointer \"{text}\": it must start with / (for example \"/models/0/name\")"
            )))
        }
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "(document)"
        } else {
            &self.0
        })
    }
}

/// A JSON Schema: a file path (relative to the scenario file) or the schema inline.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaSource {
    File(String),
    Inline(serde_json::Value),
}

impl<'de> Deserialize<'de> for SchemaSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(path) => Ok(SchemaSource::File(path)),
            schema @ serde_json::Value::Object(_) => Ok(SchemaSource::Inline(schema)),
            other => Err(serde::de::Error::custom(format!(
                "invalid json_schema {other}: expected a file path or an inline table"
            ))),
        }
    }
}

/// Header names and values are checked while parsing, so that a bad one (a space in a
/// name, a line break from an interpolated variable) is reported where the table is
/// written, not when the client is built.
pub(crate) fn headers<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    use reqwest::header::{HeaderName, HeaderValue};
    let headers = BTreeMap::<String, String>::deserialize(deserializer)?;
    for (name, value) in &headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(serde::de::Error::custom(format!(
                "invalid header name \"{name}\": use letters, digits and '-'"
            )));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(serde::de::Error::custom(format!(
                "invalid value for header \"{name}\": it must be visible ASCII without line breaks"
            )));
        }
    }
    Ok(headers)
}

/// Splits `"1.5MiB"` or `"500ms"` into its number and its unit, where the first character
/// that is neither a digit nor a dot starts the unit: durations and sizes are written alike.
fn split_quantity(text: &str) -> (&str, &str) {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(split)
}

mod defaults {
    use super::{Dur, Size};
    use std::time::Duration;

    pub fn timeout() -> Dur {
        Dur(Duration::from_secs(30))
    }
    pub fn connect_timeout() -> Dur {
        Dur(Duration::from_secs(3))
    }
    /// Fits any real answer with room to spare: the largest model listings are hundreds of
    /// KB, a long non-streamed generation a few MB, a batch of embeddings tens of MB. Yet
    /// a check whose server never stops sending holds no more than this, not gigabytes.
    pub fn max_body() -> Size {
        Size(256 << 20)
    }
    /// A stream line carries one token in well under a KB, but its last object may carry
    /// much more: Ollama's `context` (every token id of the conversation, about 7 bytes
    /// each) is some 7MB for a context of a million tokens. 16MiB holds that twice over.
    pub fn max_line() -> Size {
        Size(16 << 20)
    }
    pub fn ready_path() -> String {
        "/".into()
    }
    pub fn ready_timeout() -> Dur {
        Dur(Duration::from_secs(60))
    }
}
