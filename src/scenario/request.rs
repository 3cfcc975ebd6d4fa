//! The request of a kind that sends one request many times (`[[baseline]]`, `[[sla]]`).
//!
//! Such a request is written with the keys of the kind it repeats, in the same table as
//! the keys of the repeating kind itself: those of `[[inference]]` when the table names a
//! `model` (a generation or embeddings), else those of `[[smoke]]` (a plain HTTP
//! request). serde cannot split one table between two structs and keep the positions
//! every message needs, so [`split`] splits the parsed table by key, and each part is
//! deserialized with its spans ([`table_value`], [`CheckRequest::from_table`]).

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::text::closest;

use super::{Endpoint, InferenceCheck, SmokeCheck};

/// A problem of a check: its message, and the value it points at (`None`: the check as a
/// whole).
pub type Problem = (String, Option<Range<usize>>);

/// A request sent many times by a repeating kind.
#[derive(Debug)]
pub enum CheckRequest {
    /// A generation or embeddings request (the table names a `model`).
    Model(Box<InferenceCheck>),
    /// A plain HTTP request.
    Http(Box<SmokeCheck>),
}

/// The keys an HTTP request takes (those of `[[smoke]]`; a test holds this to it).
const HTTP_KEYS: &[&str] = &[
    "name", "get", "post", "method", "path", "query", "headers", "json", "body", "timeout",
    "max_body", "expect",
];

/// The keys a model request takes (those of `[[inference]]`; a test holds this to it).
const MODEL_KEYS: &[&str] = &[
    "name",
    "model",
    "prompt",
    "messages",
    "input",
    "endpoint",
    "stream",
    "params",
    "extra",
    "timeout",
    "first_token_timeout",
    "max_body",
    "max_line",
    "expect",
];

/// Who owns the keys that are not the request's, for messages: `what` is the table
/// ("a baseline check"), `label` names its keys ("baseline keys"), `keys` lists them.
pub struct Owner<'a> {
    pub what: &'a str,
    pub label: &'a str,
    pub keys: &'a [&'a str],
}

/// A table split by key: the owner's keys, the request's, and whether the request is a
/// model request.
pub struct Split<'a> {
    pub own: DeTable<'a>,
    pub request: DeTable<'a>,
    pub is_model: bool,
}

/// Splits a table into the owner's keys and the request's; a key of neither is an error
/// at the key, saying which kind of request it belongs to when it belongs to the other.
pub fn split<'a>(table: DeTable<'a>, owner: &Owner<'_>) -> Result<Split<'a>, Placed> {
    let is_model = table.get("model").is_some();
    let request_keys = if is_model { MODEL_KEYS } else { HTTP_KEYS };
    let mut own = DeTable::new();
    let mut request = DeTable::new();
    for (key, value) in table {
        if owner.keys.contains(&key.get_ref().as_ref()) {
            own.insert(key, value);
        } else if request_keys.contains(&key.get_ref().as_ref()) {
            request.insert(key, value);
        } else {
            return Err(error_at(
                key.span(),
                unknown_key(key.get_ref(), is_model, owner),
            ));
        }
    }
    Ok(Split {
        own,
        request,
        is_model,
    })
}

/// The tables of an array of tables, each with its span. `header` is how the array is
/// written (`sla.requests` for `[[sla.requests]]`), `item` what one table is ("an sla
/// check").
pub fn tables<'a>(
    value: Spanned<DeValue<'a>>,
    header: &str,
    item: &str,
) -> Result<Vec<(Range<usize>, DeTable<'a>)>, Placed> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        let key = header.rsplit('.').next().unwrap_or(header);
        return Err(error_at(
            span,
            format!("{key} is an array of tables: write [[{header}]]"),
        ));
    };
    let table = |value: Spanned<DeValue<'a>>| {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(table) => Ok((span, table)),
            _ => Err(error_at(
                span,
                format!("{item} is a table: write [[{header}]]"),
            )),
        }
    };
    items.into_iter().map(table).collect()
}

/// A table as a deserializer that keeps the spans of its values.
pub fn table_value(span: Range<usize>, table: DeTable<'_>) -> toml::de::ValueDeserializer<'_> {
    toml::de::ValueDeserializer::from(Spanned::new(span, DeValue::Table(table)))
}

/// A message and where it points, for the parser to place at `line:col`.
#[derive(Debug)]
pub struct Placed {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl From<toml::de::Error> for Placed {
    fn from(e: toml::de::Error) -> Placed {
        Placed {
            message: e.message().to_string(),
            span: e.span(),
        }
    }
}

pub fn error_at(span: Range<usize>, message: impl Into<String>) -> Placed {
    Placed {
        message: message.into(),
        span: Some(span),
    }
}

fn unknown_key(key: &str, is_model: bool, owner: &Owner<'_>) -> String {
    let (requests, kind_name) = if is_model {
        (MODEL_KEYS, "a model request")
    } else {
        (HTTP_KEYS, "an HTTP request")
    };
    let known: Vec<&str> = owner.keys.iter().chain(requests).copied().collect();
    let hint = closest(key, &known).map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
    let other = if is_model { HTTP_KEYS } else { MODEL_KEYS };
    let why = match (other.contains(&key), is_model) {
        (false, _) => "",
        (true, true) => " (it belongs to an HTTP request, and this check names a model)",
        (true, false) => " (it belongs to a model request: add model = \"...\")",
    };
    format!(
        "unknown key `{key}` in {} of {kind_name}{why}{hint}; {}: {}; request keys: {}",
        owner.what,
        owner.label,
        owner.keys.join(", "),
        requests.join(", ")
    )
}

/// What kind of request a check sends, for the figures it can be judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measured {
    Generation { stream: bool },
    Embeddings,
    Http,
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measured::Generation { stream: true } => "a streamed generation",
            Measured::Generation { stream: false } => "a generation not streamed",
            Measured::Embeddings => "an embeddings request",
            Measured::Http => "an HTTP request",
        })
    }
}

impl CheckRequest {
    /// The request part of a split table, deserialized as the kind it is.
    pub fn from_table(
        span: Range<usize>,
        table: DeTable<'_>,
        is_model: bool,
    ) -> Result<CheckRequest, Placed> {
        let request = table_value(span, table);
        Ok(if is_model {
            CheckRequest::Model(Box::new(InferenceCheck::deserialize(request)?))
        } else {
            CheckRequest::Http(Box::new(SmokeCheck::deserialize(request)?))
        })
    }

    pub fn name(&self) -> &Spanned<String> {
        match self {
            CheckRequest::Model(check) => &check.name,
            CheckRequest::Http(check) => &check.name,
        }
    }

    pub fn measured(&self) -> Measured {
        match self {
            CheckRequest::Http(_) => Measured::Http,
            CheckRequest::Model(check) if check.endpoint() == Endpoint::Embeddings => {
                Measured::Embeddings
            }
            CheckRequest::Model(check) => Measured::Generation {
                stream: check.variants().first().is_none_or(|(_, stream)| *stream),
            },
        }
    }

    /// The request's own validation, and what a repeated request may not say. `ours`
    /// replaces the request kind's name in its messages (`baseline check "b"`); `noun`
    /// names the repeating kind (`a baseline`).
    pub fn validate(&self, ours: &str, noun: &str) -> Vec<Problem> {
        let restate = |message: &str| restate(message, self.name().get_ref(), ours);
        match self {
            CheckRequest::Http(check) => {
                let mut problems: Vec<_> = check
                    .validate()
                    .err()
                    .map(|message| (restate(&message), None))
                    .into_iter()
                    .collect();
                // A slow answer counted as a failed request would leave the figures of
                // the slowest out of the statistics: the tail would look better than it is.
                if let Some(limit) = &check.expect.max_latency {
                    problems.push((
                        format!(
                            "{ours}: max_latency does not apply to {noun}, whose slow requests must count in its statistics; put a threshold such as \"latency.max\" = ... in thresholds"
                        ),
                        Some(limit.span()),
                    ));
                }
                problems
            }
            CheckRequest::Model(check) => {
                let mut problems: Vec<_> = check
                    .validate()
                    .into_iter()
                    .map(|(message, at)| (restate(&message), at))
                    .collect();
                if let Some(stream) = &check.stream
                    && stream.get_ref().as_slice().len() > 1
                {
                    problems.push((
                        format!(
                            "{ours}: stream takes one mode in {noun} (its figures are one distribution); write two checks to measure both"
                        ),
                        Some(stream.span()),
                    ));
                }
                for (figure, _) in &check.expect.thresholds {
                    problems.push((
                        format!(
                            "{ours}: a threshold on one request's {} does not apply to {noun}; put a statistic in thresholds, such as \"{}.p95\" = ...",
                            figure.get_ref(),
                            figure.get_ref().split('.').next().unwrap_or_default()
                        ),
                        Some(figure.span()),
                    ));
                }
                problems
            }
        }
    }
}

/// The request kinds' messages name their own kind; here they are the repeating kind's.
fn restate(message: &str, name: &str, ours: &str) -> String {
    message
        .replacen(&format!("smoke check \"{name}\""), ours, 1)
        .replacen(&format!("inference check \"{name}\""), ours, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\n";

    /// The key lists that split a check hold every key the request kinds take: serde's
    /// message for an unknown field lists the struct's fields.
    #[rstest]
    #[case(HTTP_KEYS, "get = \"/\"\n", "smoke")]
    #[case(MODEL_KEYS, "model = \"m\"\nprompt = \"p\"\n", "inference")]
    fn request_keys_are_those_of_the_request_kind(
        #[case] keys: &[&str],
        #[case] request: &str,
        #[case] kind: &str,
    ) {
        let text = format!("{HEAD}[[{kind}]]\nname = \"b\"\n{request}zzz = 1\n");
        let error = parse_scenario(&text, &|_: &str| None)
            .unwrap_err()
            .to_string();
        let listed: Vec<&str> = error
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{error}"))
            .split(", ")
            .map(|field| field.trim_matches(|c: char| c == '`' || c.is_whitespace()))
            .map(|field| field.split('`').next().unwrap_or_default())
            .collect();
        let mut listed = listed;
        listed.sort_unstable();
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        assert_eq!(listed, keys);
    }

    #[rstest]
    #[case(
        "smoke check \"a\" has no request",
        "sla check \"s\", request \"a\" has no request"
    )]
    #[case("inference check \"a\": x", "sla check \"s\", request \"a\": x")]
    #[case("smoke check \"b\" has no request", "smoke check \"b\" has no request")]
    fn messages_are_restated_as_the_repeating_kinds(#[case] message: &str, #[case] expected: &str) {
        assert_eq!(
            restate(message, "a", "sla check \"s\", request \"a\""),
            expected
        );
    }
}
