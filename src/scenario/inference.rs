//! `[[inference]]`: one request to a model, judged on its answer and timing: a generation
//! (from `prompt` or `messages`), or embeddings of one text or a batch (from `input`).

use std::ops::Range;

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::metric::unit_of;
use crate::text::closest;

use super::{Dur, OneOrMany, Pattern, SchemaSource, Size, Threshold};

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
    /// Texts to embed, one (`"text"`) or a batch (`["a", "b"]`): Ollama `/api/embed`,
    /// OpenAI `/v1/embeddings`. Kept with its position, where the checks that every input
    /// got a vector are reported.
    pub input: Option<Spanned<OneOrMany<String>>>,
    pub endpoint: Option<Spanned<Endpoint>>,
    /// `[true, false]` makes two cases, `::stream` and `::no_stream` (default true). Kept
    /// with its position: an embeddings check refuses it there.
    pub stream: Option<Spanned<OneOrMany<bool>>>,
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
    pub first_token_timeout: Option<Spanned<Dur>>,
    /// The most the response may send, streamed or not (default: the target's `max_body`).
    pub max_body: Option<Size>,
    /// The longest line or SSE event of a stream (default: the target's `max_line`). Kept
    /// with its position: an embeddings check, which reads no stream, refuses it there.
    pub max_line: Option<Spanned<Size>>,
    #[serde(default)]
    pub expect: InferenceExpect,
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
    Embeddings,
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
    /// Embeddings: every vector has exactly this many dimensions (`dimensions = 576`). A
    /// threshold string (`dimensions = ">= 384"`) is a threshold on the figure instead.
    pub dimensions: Option<Spanned<u64>>,
    /// Keys that name a figure of the request (`ttft`, `"itl.max"`); validation checks
    /// that the threshold's unit fits it.
    pub thresholds: Vec<(Spanned<String>, Spanned<Threshold>)>,
    /// Keys that are neither: reported by validation, each at its own position.
    pub unknown: Vec<Spanned<String>>,
}

/// The keys of `expect` on a generated answer that are not thresholds.
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

/// The keys of `expect` on embeddings that are not thresholds (`dimensions` is both: a
/// number is an expectation on every vector, a threshold string one on the figure).
const EMBEDDINGS_KEYS: &[&str] = &["dimensions"];

/// The figures one generation request produces, each a threshold key; every name is in the
/// metric registry (a test holds the metrics code to this list).
pub const GENERATION_FIGURES: &[&str] = &[
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

/// The figures one embeddings request produces, each a threshold key; every name is in the
/// metric registry (a test holds `inference::embed` to this list).
pub const EMBEDDINGS_FIGURES: &[&str] = &[
    "latency",
    "dimensions",
    "inputs_per_s",
    "prompt_tokens",
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
                "dimensions" => {
                    let value: Spanned<Dimensions> = map.next_value()?;
                    let span = value.span();
                    match value.into_inner() {
                        Dimensions::Exact(n) => expect.dimensions = Some(Spanned::new(span, n)),
                        Dimensions::Threshold(threshold) => {
                            expect.thresholds.push((key, Spanned::new(span, threshold)));
                        }
                    }
                }
                figure if is_figure(figure) => {
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

/// `dimensions` in `expect`: a number (every vector has exactly that many) or a threshold
/// on the figure. Read by hand so that any other value gets a message naming both forms.
enum Dimensions {
    Exact(u64),
    Threshold(Threshold),
}

impl<'de> Deserialize<'de> for Dimensions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DimensionsVisitor)
    }
}

struct DimensionsVisitor;

impl Visitor<'_> for DimensionsVisitor {
    type Value = Dimensions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a number of dimensions such as 576 (every vector has exactly that many) or a threshold such as \">= 384\"",
        )
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Dimensions, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(no_dimensions(n)),
        }
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Dimensions, E> {
        match n {
            0 => Err(no_dimensions(n)),
            n => Ok(Dimensions::Exact(n)),
        }
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Dimensions, E> {
        super::threshold::parse_threshold(text)
            .map(Dimensions::Threshold)
            .map_err(E::custom)
    }
}

fn no_dimensions<E: serde::de::Error>(n: impl fmt::Display) -> E {
    E::custom(format!(
        "dimensions = {n}: a vector has at least one dimension"
    ))
}

fn is_figure(name: &str) -> bool {
    GENERATION_FIGURES.contains(&name) || EMBEDDINGS_FIGURES.contains(&name)
}

/// Request fields the harness sets itself; overriding them in `extra` would make the
/// response something the check does not read (a stream when it expects one body, vectors
/// in base64 when it reads numbers).
const RESERVED: &[&str] = &["model", "stream", "messages", "prompt", "stream_options"];
/// The same for an embeddings request.
const RESERVED_EMBEDDINGS: &[&str] = &["model", "input", "encoding_format"];

/// The stream mode of a generation that does not say.
const STREAM_DEFAULT: &[bool] = &[true];

impl InferenceCheck {
    pub fn endpoint(&self) -> Endpoint {
        match (&self.endpoint, &self.input, &self.messages) {
            (Some(endpoint), _, _) => *endpoint.get_ref(),
            (None, Some(_), _) => Endpoint::Embeddings,
            (None, None, Some(_)) => Endpoint::Chat,
            (None, None, None) => Endpoint::Completion,
        }
    }

    /// The texts to embed; empty for a generation.
    pub fn inputs(&self) -> &[String] {
        self.input
            .as_ref()
            .map_or(&[], |input| input.get_ref().as_slice())
    }

    fn stream_modes(&self) -> &[bool] {
        self.stream
            .as_ref()
            .map_or(STREAM_DEFAULT, |modes| modes.get_ref().as_slice())
    }

    /// The variants this check runs as: `(suffix, stream)`; no suffix for a single mode.
    /// Embeddings come in one body: one variant, not streamed.
    pub fn variants(&self) -> Vec<(Option<&'static str>, bool)> {
        if self.endpoint() == Endpoint::Embeddings {
            return vec![(None, false)];
        }
        match self.stream_modes() {
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
        let mut problems = Vec::new();
        if let Err(message) = self.validate_shape() {
            problems.push((message, None));
        }
        let mut problem = |message: String, at: Range<usize>| {
            problems.push((format!("inference check \"{name}\": {message}"), Some(at)));
        };
        let embeddings = self.endpoint() == Endpoint::Embeddings;
        for (message, at) in self.validate_input() {
            problem(message, at);
        }
        for key in &self.expect.unknown {
            problem(unknown_key(key.get_ref(), embeddings), key.span());
        }
        let modes = self.stream_modes();
        for (figure, threshold) in &self.expect.thresholds {
            let at = figure.span();
            let figure = figure.get_ref().as_str();
            let unit = unit_of(figure).expect("every inference figure is a registered metric");
            if let Err(e) = threshold.get_ref().check_fits(figure, unit) {
                problem(e, threshold.span());
            }
            if embeddings && !EMBEDDINGS_FIGURES.contains(&figure) {
                problem(
                    format!(
                        "{figure} is not measured for embeddings, which generate no text; an embeddings check takes thresholds on {}",
                        EMBEDDINGS_FIGURES.join(", ")
                    ),
                    at,
                );
            } else if !embeddings && !GENERATION_FIGURES.contains(&figure) {
                problem(generation_has_no(figure), at);
            } else if !embeddings && STREAM_ONLY.contains(&figure) && modes.contains(&false) {
                problem(
                    format!(
                        "{figure} is only measured when streaming; set stream = true or drop the threshold"
                    ),
                    at,
                );
            }
        }
        if embeddings {
            for (key, at) in self.expect.answer_keys() {
                problem(
                    format!(
                        "{key} is about generated text; an embeddings check expects {} and thresholds on {}",
                        EMBEDDINGS_KEYS.join(", "),
                        EMBEDDINGS_FIGURES.join(", ")
                    ),
                    at,
                );
            }
        } else if let Some(dimensions) = &self.expect.dimensions {
            problem(generation_has_no("dimensions"), dimensions.span());
        }
        problems
    }

    /// What only an embeddings check, or only a generation, may say; each at its place.
    fn validate_input(&self) -> Vec<(String, Range<usize>)> {
        let mut problems = Vec::new();
        let endpoint = self.endpoint.as_ref().map(|e| (*e.get_ref(), e.span()));
        match (&self.input, endpoint) {
            (Some(input), _) if input.get_ref().as_slice().is_empty() => problems.push((
                "input is an empty list: give at least one text to embed".into(),
                input.span(),
            )),
            (Some(_), Some((Endpoint::Chat | Endpoint::Completion, at))) => problems.push((
                "input is the text to embed, and this endpoint generates: drop endpoint or set endpoint = \"embeddings\"".into(),
                at,
            )),
            (None, Some((Endpoint::Embeddings, at))) if self.prompt.is_some() || self.messages.is_some() => {
                problems.push((
                    "endpoint = \"embeddings\" takes input = \"text\" or input = [\"a\", \"b\"], not prompt or messages".into(),
                    at,
                ));
            }
            _ => {}
        }
        if self.endpoint() != Endpoint::Embeddings {
            return problems;
        }
        if let Some(stream) = &self.stream {
            problems.push((
                "stream does not apply to embeddings: the vectors come in one body; drop stream"
                    .into(),
                stream.span(),
            ));
        }
        if let Some(limit) = &self.first_token_timeout {
            problems.push((
                "first_token_timeout does not apply to embeddings: no token is generated; timeout limits the whole request".into(),
                limit.span(),
            ));
        }
        if let Some(limit) = &self.max_line {
            problems.push((
                "max_line does not apply to embeddings: the vectors come in one body, held to max_body".into(),
                limit.span(),
            ));
        }
        problems
    }

    fn validate_shape(&self) -> Result<(), String> {
        let name = self.name.get_ref();
        let given: Vec<&str> = [
            ("prompt", self.prompt.is_some()),
            ("messages", self.messages.is_some()),
            ("input", self.input.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect();
        match given.as_slice() {
            [] => {
                return Err(format!(
                    "inference check \"{name}\" has no input: add prompt = \"...\" or messages = [...] (a generation), or input = \"...\" (embeddings)"
                ));
            }
            [first, second, ..] => {
                return Err(format!(
                    "inference check \"{name}\" has both {first} and {second}: keep one"
                ));
            }
            [_] => {}
        }
        if self.messages.is_some() && self.endpoint() == Endpoint::Completion {
            return Err(format!(
                "inference check \"{name}\": messages need endpoint = \"chat\""
            ));
        }
        let modes = self.stream_modes();
        if modes.is_empty() || (modes.len() == 2 && modes[0] == modes[1]) || modes.len() > 2 {
            return Err(format!(
                "inference check \"{name}\": stream is true, false or [true, false]"
            ));
        }
        let reserved = if self.endpoint() == Endpoint::Embeddings {
            RESERVED_EMBEDDINGS
        } else {
            RESERVED
        };
        if let Some(key) = reserved.iter().find(|key| self.extra.contains_key(**key)) {
            return Err(format!(
                "inference check \"{name}\": extra sets \"{key}\", which the check sets itself; use the check's own field instead"
            ));
        }
        Ok(())
    }
}

impl InferenceExpect {
    /// The expectations on a generated answer that are given, each with its place.
    fn answer_keys(&self) -> Vec<(&'static str, Range<usize>)> {
        [
            ("text", self.text.as_ref().map(Spanned::span)),
            (
                "text_trimmed",
                self.text_trimmed.as_ref().map(Spanned::span),
            ),
            (
                "text_contains",
                self.text_contains.as_ref().map(Spanned::span),
            ),
            ("text_regex", self.text_regex.as_ref().map(Spanned::span)),
            ("json_schema", self.json_schema.as_ref().map(Spanned::span)),
            (
                "finish_reason",
                self.finish_reason.as_ref().map(Spanned::span),
            ),
            (
                "min_output_tokens",
                self.min_output_tokens.as_ref().map(Spanned::span),
            ),
            (
                "max_output_tokens",
                self.max_output_tokens.as_ref().map(Spanned::span),
            ),
        ]
        .into_iter()
        .filter_map(|(key, at)| Some((key, at?)))
        .collect()
    }
}

fn generation_has_no(key: &str) -> String {
    format!(
        "{key} is measured only for embeddings (input = ...); a generation takes thresholds on {}",
        GENERATION_FIGURES.join(", ")
    )
}

/// Why a key of `expect` is neither an answer key nor a figure, with the nearest of those
/// the check takes. A statistic of a metric (`ttft.p95`) is a figure of kinds that repeat a
/// request; one inference request has the metric itself.
fn unknown_key(key: &str, embeddings: bool) -> String {
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
    let (answer_keys, figures) = if embeddings {
        (EMBEDDINGS_KEYS, EMBEDDINGS_FIGURES)
    } else {
        (ANSWER_KEYS, GENERATION_FIGURES)
    };
    let known: Vec<&str> = answer_keys.iter().chain(figures).copied().collect();
    let dotted: Vec<String> = figures
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
        answer_keys.join(", "),
        figures.join(", ")
    )
}
