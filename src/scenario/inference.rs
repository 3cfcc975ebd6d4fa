//! `[[inference]]`: one generation request to a model, judged on its answer and timing.

use std::ops::Range;

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::metric::unit_of;
use crate::text::closest;

use super::{Dur, OneOrMany, Pattern, SchemaSource, Threshold};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceCheck {
    pub name: Spanned<String>,
    pub model: String,
    /// A single prompt: Ollama `/api/generate`, OpenAI `/v1/completions` (unless
    /// `endpoint = "chat"`, which sends it as one user message).
    pub prompt: Option<String>,
    /// A conversation: Ollama `/api/chat`, OpenAI `/v1/chat/completions`.
    pub messages: Option<Vec<Message>>,
    pub endpoint: Option<Endpoint>,
    /// `[true, false]` makes two cases, `::stream` and `::no_stream`.
    #[serde(default = "stream_default")]
    pub stream: OneOrMany<bool>,
    /// Sampling options: Ollama `options`, top-level fields for OpenAI.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Top-level request fields passed through as they are (`grammar`, `keep_alive`,
    /// `cache_prompt`, `response_format`, ...).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// The whole response must be in within this (default: the target's timeout).
    pub timeout: Option<Dur>,
    /// The first generated token must arrive within this (default: the whole timeout).
    pub first_token_timeout: Option<Dur>,
    #[serde(default)]
    pub expect: InferenceExpect,
}

fn stream_default() -> OneOrMany<bool> {
    OneOrMany::One(true)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Chat,
    Completion,
}

/// What the answer must be, and thresholds on the figures of the request. Every entry
/// keeps where it was written, so that a failed one is reported at `file:line:col`.
#[derive(Debug, Default)]
pub struct InferenceExpect {
    /// The answer exactly, byte for byte.
    pub text: Option<Spanned<String>>,
    /// The answer with leading and trailing white space removed.
    pub text_trimmed: Option<Spanned<String>>,
    pub text_contains: Option<Spanned<OneOrMany<String>>>,
    pub text_regex: Option<Spanned<Pattern>>,
    /// The answer parsed as JSON must match this schema.
    pub json_schema: Option<Spanned<SchemaSource>>,
    pub finish_reason: Option<Spanned<String>>,
    pub min_output_tokens: Option<Spanned<u64>>,
    pub max_output_tokens: Option<Spanned<u64>>,
    /// Keys that name a figure of the request (`ttft`, `"itl.max"`); validation checks
    /// that the threshold's unit fits it.
    pub thresholds: Vec<(Spanned<String>, Spanned<Threshold>)>,
    /// Keys that are neither: reported by validation, each at its own position.
    pub unknown: Vec<Spanned<String>>,
}

/// The keys of `expect` that are not thresholds.
const ANSWER_KEYS: &[&str] = &[
    "text",
    "text_trimmed",
    "text_contains",
    "text_regex",
    "json_schema",
    "finish_reason",
    "min_output_tokens",
    "max_output_tokens",
];

/// The figures one inference request produces, each a threshold key; every name is in the
/// metric registry (a test holds the metrics code to this list).
pub const INFERENCE_FIGURES: &[&str] = &[
    "ttfb",
    "ttft",
    "latency",
    "itl.mean",
    "itl.max",
    "tpot",
    "output_tokens",
    "content_chunks",
    "tokens_per_s",
    "e2e_tokens_per_s",
    "server_tokens_per_s",
    "prompt_tokens",
    "prompt_tokens_per_s",
    "load_duration",
];

/// Figures that exist only when chunks are streamed: without a stream the first token
/// arrives with the last, so there are no gaps and no decode time to divide by.
const STREAM_ONLY: &[&str] = &["itl.mean", "itl.max", "tpot", "tokens_per_s"];

/// A hand-written map visitor instead of derived fields: the threshold keys come from the
/// metric registry, not from one struct field per metric, and a key that is neither an
/// answer key nor a figure is reported by validation at its own position with a "did you
/// mean" over both lists.
impl<'de> Deserialize<'de> for InferenceExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ExpectVisitor)
    }
}

struct ExpectVisitor;

impl<'de> Visitor<'de> for ExpectVisitor {
    type Value = InferenceExpect;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of expectations")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InferenceExpect, A::Error> {
        let mut expect = InferenceExpect::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match key.get_ref().as_str() {
                "text" => expect.text = Some(map.next_value()?),
                "text_trimmed" => expect.text_trimmed = Some(map.next_value()?),
                "text_contains" => expect.text_contains = Some(map.next_value()?),
                "text_regex" => expect.text_regex = Some(map.next_value()?),
                "json_schema" => expect.json_schema = Some(map.next_value()?),
                "finish_reason" => expect.finish_reason = Some(map.next_value()?),
                "min_output_tokens" => expect.min_output_tokens = Some(map.next_value()?),
                "max_output_tokens" => expect.max_output_tokens = Some(map.next_value()?),
                figure if INFERENCE_FIGURES.contains(&figure) => {
                    expect.thresholds.push((key, map.next_value()?));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    expect.unknown.push(key);
                }
            }
        }
        // Tables arrive in key order; messages follow the order of the file.
        expect.thresholds.sort_by_key(|(key, _)| key.span().start);
        expect.unknown.sort_by_key(|key| key.span().start);
        Ok(expect)
    }
}

/// Request fields the harness sets itself; overriding them in `extra` would make the
/// response something the check does not read (a stream when it expects one body).
const RESERVED: &[&str] = &["model", "stream", "messages", "prompt", "stream_options"];

impl InferenceCheck {
    pub fn endpoint(&self) -> Endpoint {
        match (self.endpoint, &self.messages) {
            (Some(endpoint), _) => endpoint,
            (None, Some(_)) => Endpoint::Chat,
            (None, None) => Endpoint::Completion,
        }
    }

    /// The variants this check runs as: `(suffix, stream)`; no suffix for a single mode.
    pub fn variants(&self) -> Vec<(Option<&'static str>, bool)> {
        match self.stream.as_slice() {
            [single] => vec![(None, *single)],
            many => many
                .iter()
                .map(|&stream| (Some(if stream { "stream" } else { "no_stream" }), stream))
                .collect(),
        }
    }

    /// Checks what serde cannot, and returns every problem found; each may point at a
    /// value inside the check (`None`: the check as a whole).
    pub fn validate(&self) -> Vec<(String, Option<Range<usize>>)> {
        let name = self.name.get_ref();
        let problem = |message: String, at: Range<usize>| {
            (format!("inference check \"{name}\": {message}"), Some(at))
        };
        let mut problems = Vec::new();
        if let Err(message) = self.validate_shape() {
            problems.push((message, None));
        }
        for key in &self.expect.unknown {
            problems.push(problem(unknown_key(key.get_ref()), key.span()));
        }
        let modes = self.stream.as_slice();
        for (figure, threshold) in &self.expect.thresholds {
            let at = figure.span();
            let figure = figure.get_ref().as_str();
            let unit = unit_of(figure).expect("every inference figure is a registered metric");
            if let Err(e) = threshold.get_ref().check_fits(figure, unit) {
                problems.push(problem(e, threshold.span()));
            }
            if STREAM_ONLY.contains(&figure) && modes.contains(&false) {
                problems.push(problem(
                    format!(
                        "{figure} is only measured when streaming; set stream = true or drop the threshold"
                    ),
                    at,
                ));
            }
        }
        problems
    }

    fn validate_shape(&self) -> Result<(), String> {
        let name = self.name.get_ref();
        match (&self.prompt, &self.messages) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "inference check \"{name}\" has both prompt and messages: keep one"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "inference check \"{name}\" has no input: add prompt = \"...\" or messages = [...]"
                ));
            }
            _ => {}
        }
        if self.messages.is_some() && self.endpoint == Some(Endpoint::Completion) {
            return Err(format!(
                "inference check \"{name}\": messages need endpoint = \"chat\""
            ));
        }
        let modes = self.stream.as_slice();
        if modes.is_empty() || (modes.len() == 2 && modes[0] == modes[1]) || modes.len() > 2 {
            return Err(format!(
                "inference check \"{name}\": stream is true, false or [true, false]"
            ));
        }
        if let Some(key) = RESERVED.iter().find(|key| self.extra.contains_key(**key)) {
            return Err(format!(
                "inference check \"{name}\": extra sets \"{key}\", which the check sets itself; use the check's own field instead"
            ));
        }
        Ok(())
    }
}

/// Why a key of `expect` is neither an answer key nor a figure, with the nearest of both.
/// A statistic of a metric (`ttft.p95`) is a figure of kinds that repeat a request; one
/// inference request has the metric itself.
fn unknown_key(key: &str) -> String {
    if key.contains('.') {
        match crate::metric::resolve(key) {
            Ok(figure) => {
                return format!(
                    "{figure} is a statistic over repeated requests; one inference request measures {} itself",
                    figure.metric.name
                );
            }
            Err(e @ crate::metric::FigureError::UnknownStat { .. }) => {
                return format!("{e} (in expect)");
            }
            Err(_) => {}
        }
    }
    let known: Vec<&str> = ANSWER_KEYS
        .iter()
        .chain(INFERENCE_FIGURES)
        .copied()
        .collect();
    let dotted: Vec<String> = INFERENCE_FIGURES
        .iter()
        .filter(|figure| {
            figure
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.'))
        })
        .map(|figure| format!("\"{figure}\""))
        .collect();
    let hint = if !dotted.is_empty() {
        // `itl.max = "< 1s"` unquoted is a table `itl` holding `max`.
        format!(
            "; quote a dotted figure name: {} = ...",
            dotted.join(" or ")
        )
    } else {
        closest(key, &known).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
    };
    format!(
        "unknown key `{key}` in expect{hint} (answer keys: {}; figures: {})",
        ANSWER_KEYS.join(", "),
        INFERENCE_FIGURES.join(", ")
    )
}
