//! `[[inference]]`: one generation request to a model, judged on its answer and timing.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::metric::{STREAM_ONLY, check_unit, unit_of};
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

/// What the answer must be, and thresholds on every per-request metric.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceExpect {
    /// The answer exactly, byte for byte.
    pub text: Option<String>,
    /// The answer with leading and trailing white space removed.
    pub text_trimmed: Option<String>,
    pub text_contains: Option<OneOrMany<String>>,
    pub text_regex: Option<Pattern>,
    /// The answer parsed as JSON must match this schema.
    pub json_schema: Option<SchemaSource>,
    pub finish_reason: Option<String>,
    pub min_output_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub ttfb: Option<Spanned<Threshold>>,
    pub ttft: Option<Spanned<Threshold>>,
    pub latency: Option<Spanned<Threshold>>,
    #[serde(rename = "itl.mean")]
    pub itl_mean: Option<Spanned<Threshold>>,
    #[serde(rename = "itl.max")]
    pub itl_max: Option<Spanned<Threshold>>,
    pub tpot: Option<Spanned<Threshold>>,
    pub output_tokens: Option<Spanned<Threshold>>,
    pub tokens_per_s: Option<Spanned<Threshold>>,
    pub e2e_tokens_per_s: Option<Spanned<Threshold>>,
    pub server_tokens_per_s: Option<Spanned<Threshold>>,
    pub prompt_tokens: Option<Spanned<Threshold>>,
    pub prompt_tokens_per_s: Option<Spanned<Threshold>>,
    pub load_duration: Option<Spanned<Threshold>>,
}

impl InferenceExpect {
    /// The metric thresholds that are set, under the metric names of the reports.
    pub fn thresholds(&self) -> Vec<(&'static str, Threshold)> {
        self.spanned_thresholds()
            .into_iter()
            .map(|(name, threshold)| (name, *threshold.get_ref()))
            .collect()
    }

    /// The same with where each is written, for load errors that point at the value.
    pub fn spanned_thresholds(&self) -> Vec<(&'static str, &Spanned<Threshold>)> {
        [
            ("ttfb", &self.ttfb),
            ("ttft", &self.ttft),
            ("latency", &self.latency),
            ("itl.mean", &self.itl_mean),
            ("itl.max", &self.itl_max),
            ("tpot", &self.tpot),
            ("output_tokens", &self.output_tokens),
            ("tokens_per_s", &self.tokens_per_s),
            ("e2e_tokens_per_s", &self.e2e_tokens_per_s),
            ("server_tokens_per_s", &self.server_tokens_per_s),
            ("prompt_tokens", &self.prompt_tokens),
            ("prompt_tokens_per_s", &self.prompt_tokens_per_s),
            ("load_duration", &self.load_duration),
        ]
        .into_iter()
        .filter_map(|(name, threshold)| Some((name, threshold.as_ref()?)))
        .collect()
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

    /// Checks what serde cannot; an error may point at a value inside the check.
    pub fn validate(&self) -> Result<(), (String, Option<Range<usize>>)> {
        self.validate_shape().map_err(|message| (message, None))?;
        let name = self.name.get_ref();
        let modes = self.stream.as_slice();
        for (metric, threshold) in self.expect.spanned_thresholds() {
            let unit = unit_of(metric).expect("every threshold field is a known metric");
            let at = Some(threshold.span());
            check_unit(metric, unit, threshold.get_ref())
                .map_err(|e| (format!("inference check \"{name}\": {e}"), at.clone()))?;
            if STREAM_ONLY.contains(&metric) && modes.contains(&false) {
                return Err((
                    format!(
                        "inference check \"{name}\": {metric} is only measured when streaming; set stream = true or drop the threshold"
                    ),
                    at,
                ));
            }
        }
        Ok(())
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
