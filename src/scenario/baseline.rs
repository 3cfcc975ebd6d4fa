//! `[[baseline]]`: one request repeated, judged on the statistics of its figures and
//! compared with a stored baseline.
//!
//! The request is written with the keys of the kind it repeats, at the check's top level:
//! those of `[[inference]]` when the check names a `model` (a generation or embeddings),
//! else those of `[[smoke]]` (a plain HTTP request). The keys of the baseline itself
//! (iterations, thresholds, regression, ...) sit beside them. serde cannot split one table
//! between two structs and keep the positions every message needs, so [`from_toml`] splits
//! the parsed table by key and deserializes each part with its spans.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Deserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::metric::{FigureRef, resolve};
use crate::text::closest;

use super::inference::{EMBEDDINGS_FIGURES, GENERATION_FIGURES};
use super::{Dur, Endpoint, InferenceCheck, SmokeCheck, Threshold};

/// A baseline check: what is repeated, and how it is judged.
#[derive(Debug)]
pub struct BaselineCheck {
    pub request: BaselineRequest,
    pub settings: BaselineSettings,
}

/// The request a baseline repeats.
#[derive(Debug)]
pub enum BaselineRequest {
    /// A generation or embeddings request (the check names a `model`).
    Model(Box<InferenceCheck>),
    /// A plain HTTP request.
    Http(Box<SmokeCheck>),
}

/// The keys of a baseline check that are not the request's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSettings {
    /// Counted repetitions.
    #[serde(default = "defaults::iterations")]
    pub iterations: Spanned<u32>,
    /// Repetitions run first and not counted: the first request of a run pays for loading
    /// a model, filling caches and opening connections.
    #[serde(default = "defaults::warmup")]
    pub warmup: u32,
    /// Waited between iterations (not counted in any figure).
    pub pause: Option<Dur>,
    /// Warmup, iterations and pauses stop here, even in the middle of a request: a
    /// baseline never loops unbounded, whatever its iterations and the server's pace.
    #[serde(default = "defaults::max_duration")]
    pub max_duration: Dur,
    /// Thresholds on statistics over the iterations (`"ttft.p95" = "< 500ms"`) and on
    /// `error_rate`.
    #[serde(default)]
    pub thresholds: BTreeMap<Spanned<String>, Spanned<Threshold>>,
    #[serde(default)]
    pub regression: Option<Spanned<RegressionSpec>>,
}

/// `regression = { tolerance = "10%", metrics = [...], required = true }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionSpec {
    /// How far a median may move the worse way (default 10%).
    pub tolerance: Option<Share>,
    /// The metrics compared (default: the main rate and TTFT of a streamed generation,
    /// the rate and latency of one not streamed, the latency of the rest).
    pub metrics: Option<Vec<Spanned<String>>>,
    /// Whether a missing stored baseline fails the check under `CI` (default true).
    pub required: Option<bool>,
}

/// What a suite sets for the baseline checks it runs, where a check does not say:
/// `[regression] tolerance = "5%"`, `required = false`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionDefaults {
    pub tolerance: Option<Share>,
    pub required: Option<bool>,
}

/// A share written as a percentage, `"10%"`: from 0 up to (not including) 100%.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || {
            serde::de::Error::custom(format!(
                "invalid tolerance \"{text}\": expected a percentage from 0% up to (not including) 100%, such as \"10%\""
            ))
        };
        let number = text.trim().strip_suffix('%').ok_or_else(invalid)?;
        let percent: f64 = number.trim().parse().map_err(|_| invalid())?;
        if (0.0..100.0).contains(&percent) {
            Ok(Share(percent / 100.0))
        } else {
            Err(invalid())
        }
    }
}

mod defaults {
    use super::{Dur, Spanned};
    use std::time::Duration;

    /// Ten: the regression gate's numbers (README) are stated for ten values a side.
    pub fn iterations() -> Spanned<u32> {
        Spanned::new(0..0, 10)
    }
    pub fn warmup() -> u32 {
        1
    }
    pub fn max_duration() -> Dur {
        Dur(Duration::from_secs(600))
    }
}

/// The keys of the baseline itself; every other key of the check is the request's.
pub const SETTINGS_KEYS: &[&str] = &[
    "iterations",
    "warmup",
    "pause",
    "max_duration",
    "thresholds",
    "regression",
];

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

/// The metrics one HTTP request produces, each a baseline statistic's metric.
pub const HTTP_METRICS: &[&str] = &["latency", "ttfb", "bytes"];

/// Counted iterations at most: a baseline is a handful to a few thousand repetitions;
/// more is a load test.
const MAX_ITERATIONS: u32 = 10_000;
/// Counted iterations at least: the regression gate compares medians of at least three
/// values a side (`judge::baseline::MIN_SAMPLES`), and says "inconclusive" with fewer.
const MIN_ITERATIONS: u32 = crate::judge::baseline::MIN_SAMPLES as u32;

/// The `baseline` array of a scenario file, each check split into its request and its
/// settings, with every span kept.
pub fn from_toml(value: Spanned<DeValue<'_>>) -> Result<Vec<Spanned<BaselineCheck>>, Placed> {
    let span = value.span();
    let DeValue::Array(checks) = value.into_inner() else {
        return Err(error_at(
            span,
            "baseline is an array of tables: write [[baseline]]",
        ));
    };
    checks.into_iter().map(one_check).collect()
}

fn one_check(value: Spanned<DeValue<'_>>) -> Result<Spanned<BaselineCheck>, Placed> {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        return Err(error_at(
            span,
            "a baseline check is a table: write [[baseline]]",
        ));
    };
    let is_model = table.get("model").is_some();
    let (request_keys, kind_name) = if is_model {
        (MODEL_KEYS, "a model request")
    } else {
        (HTTP_KEYS, "an HTTP request")
    };
    let mut settings = DeTable::new();
    let mut request = DeTable::new();
    for (key, value) in table {
        if SETTINGS_KEYS.contains(&key.get_ref().as_ref()) {
            settings.insert(key, value);
        } else if request_keys.contains(&key.get_ref().as_ref()) {
            request.insert(key, value);
        } else {
            return Err(error_at(
                key.span(),
                unknown_key(key.get_ref(), is_model, kind_name),
            ));
        }
    }
    let settings = BaselineSettings::deserialize(table_value(span.clone(), settings))?;
    let request = table_value(span.clone(), request);
    let request = if is_model {
        BaselineRequest::Model(Box::new(InferenceCheck::deserialize(request)?))
    } else {
        BaselineRequest::Http(Box::new(SmokeCheck::deserialize(request)?))
    };
    Ok(Spanned::new(span, BaselineCheck { request, settings }))
}

fn table_value(span: Range<usize>, table: DeTable<'_>) -> toml::de::ValueDeserializer<'_> {
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

fn error_at(span: Range<usize>, message: impl Into<String>) -> Placed {
    Placed {
        message: message.into(),
        span: Some(span),
    }
}

fn unknown_key(key: &str, is_model: bool, kind_name: &str) -> String {
    let requests = if is_model { MODEL_KEYS } else { HTTP_KEYS };
    let known: Vec<&str> = SETTINGS_KEYS.iter().chain(requests).copied().collect();
    let hint = closest(key, &known).map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
    let other = if is_model { HTTP_KEYS } else { MODEL_KEYS };
    let why = if other.contains(&key) {
        if is_model {
            " (it belongs to an HTTP request, and this check names a model)".to_string()
        } else {
            " (it belongs to a model request: add model = \"...\")".to_string()
        }
    } else {
        String::new()
    };
    format!(
        "unknown key `{key}` in a baseline check of {kind_name}{why}{hint}; baseline keys: {}; request keys: {}",
        SETTINGS_KEYS.join(", "),
        requests.join(", ")
    )
}

/// What kind of request a check repeats, for the figures it can be judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measured {
    Generation { stream: bool },
    Embeddings,
    Http,
}

impl Measured {
    /// The metrics one iteration produces. Within one generation `itl.mean` and `itl.max`
    /// summarise its stream; across iterations `itl` is the sample of each iteration's
    /// mean gap (`itl.p95` is the 95th percentile of those means).
    pub fn metrics(self) -> Vec<&'static str> {
        match self {
            Measured::Generation { stream } => GENERATION_FIGURES
                .iter()
                .filter_map(|name| match *name {
                    "itl.mean" => Some("itl"),
                    "itl.max" => None,
                    other => Some(other),
                })
                .filter(|name| stream || !STREAM_ONLY.contains(name))
                .collect(),
            Measured::Embeddings => EMBEDDINGS_FIGURES.to_vec(),
            Measured::Http => HTTP_METRICS.to_vec(),
        }
    }

    /// What the gate compares when the check does not say.
    pub fn default_compared(self) -> &'static [&'static str] {
        match self {
            Measured::Generation { stream: true } => &["tokens_per_s", "ttft"],
            Measured::Generation { stream: false } => &["e2e_tokens_per_s", "latency"],
            Measured::Embeddings | Measured::Http => &["latency"],
        }
    }
}

/// Metrics only a streamed generation has: without a stream there are no gaps and no
/// decode time to divide by.
const STREAM_ONLY: &[&str] = &["itl", "tpot", "tokens_per_s"];

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

impl BaselineCheck {
    pub fn name(&self) -> &Spanned<String> {
        match &self.request {
            BaselineRequest::Model(check) => &check.name,
            BaselineRequest::Http(check) => &check.name,
        }
    }

    pub fn measured(&self) -> Measured {
        match &self.request {
            BaselineRequest::Http(_) => Measured::Http,
            BaselineRequest::Model(check) if check.endpoint() == Endpoint::Embeddings => {
                Measured::Embeddings
            }
            BaselineRequest::Model(check) => Measured::Generation {
                stream: check.variants().first().is_none_or(|(_, stream)| *stream),
            },
        }
    }

    /// Checks what serde cannot, and returns every problem found; each may point at a
    /// value inside the check (`None`: the check as a whole).
    pub fn validate(&self) -> Vec<(String, Option<Range<usize>>)> {
        let name = self.name().get_ref();
        let mut problems = self.validate_request();
        let mut problem = |message: String, at: Range<usize>| {
            problems.push((format!("baseline check \"{name}\": {message}"), Some(at)));
        };
        let settings = &self.settings;
        let iterations = *settings.iterations.get_ref();
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            problem(
                format!(
                    "iterations = {iterations}: give {MIN_ITERATIONS} to {MAX_ITERATIONS} (the regression gate compares medians of at least {MIN_ITERATIONS} values)"
                ),
                settings.iterations.span(),
            );
        }
        let measured = self.measured();
        let metrics = measured.metrics();
        for (key, threshold) in &settings.thresholds {
            match threshold_figure(key.get_ref(), measured, &metrics) {
                Ok(figure) => {
                    if let Err(e) = threshold.get_ref().check_fits(key.get_ref(), figure.unit()) {
                        problem(e, threshold.span());
                    }
                }
                Err(message) => problem(message, key.span()),
            }
        }
        if let Some(regression) = &settings.regression {
            for metric in regression.get_ref().metrics.iter().flatten() {
                if let Err(message) = compared_metric(metric.get_ref(), measured, &metrics) {
                    problem(message, metric.span());
                }
            }
        }
        problems
    }

    /// The request's own validation, and what a repeated request may not say.
    fn validate_request(&self) -> Vec<(String, Option<Range<usize>>)> {
        match &self.request {
            BaselineRequest::Http(check) => {
                let name = check.name.get_ref();
                let mut problems: Vec<_> = check
                    .validate()
                    .err()
                    .map(|message| (as_baseline(&message, name), None))
                    .into_iter()
                    .collect();
                // A slow answer counted as a failed iteration would leave the figures of
                // the slowest out of the statistics: the tail would look better than it is.
                if let Some(limit) = &check.expect.max_latency {
                    problems.push((
                        format!(
                            "baseline check \"{name}\": max_latency does not apply to a baseline, whose slow iterations must count in its statistics; put a threshold such as \"latency.max\" = ... in thresholds"
                        ),
                        Some(limit.span()),
                    ));
                }
                problems
            }
            BaselineRequest::Model(check) => {
                let mut problems: Vec<_> = check
                    .validate()
                    .into_iter()
                    .map(|(message, at)| (as_baseline(&message, check.name.get_ref()), at))
                    .collect();
                if let Some(stream) = &check.stream
                    && stream.get_ref().as_slice().len() > 1
                {
                    problems.push((
                        format!(
                            "baseline check \"{}\": stream takes one mode in a baseline (its figures are compared run to run); write two checks to measure both",
                            check.name.get_ref()
                        ),
                        Some(stream.span()),
                    ));
                }
                for (figure, _) in &check.expect.thresholds {
                    problems.push((
                        format!(
                            "baseline check \"{}\": a threshold on one request's {} does not apply to a baseline; put a statistic in thresholds, such as \"{}.p95\" = ...",
                            check.name.get_ref(),
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

/// The request kinds' messages name their own kind; here they are a baseline's.
fn as_baseline(message: &str, name: &str) -> String {
    let ours = format!("baseline check \"{name}\"");
    message
        .replacen(&format!("smoke check \"{name}\""), &ours, 1)
        .replacen(&format!("inference check \"{name}\""), &ours, 1)
}

/// A threshold key of a baseline: `<metric>.<stat>` of a metric the request measures, or
/// `error_rate`.
pub fn threshold_figure(
    key: &str,
    measured: Measured,
    metrics: &[&str],
) -> Result<FigureRef, String> {
    let figure = resolve(key).map_err(|e| format!("{e} in thresholds"))?;
    let metric = figure.metric.name;
    if metric == "error_rate" {
        return match figure.stat {
            None => Ok(figure),
            Some(_) => Err(
                "error_rate is one figure of the whole run (failed iterations / iterations); write error_rate = \"< 5%\"".into(),
            ),
        };
    }
    if !metrics.contains(&metric) {
        return Err(not_measured(metric, measured, metrics));
    }
    match figure.stat {
        Some(_) => Ok(figure),
        None => Err(format!(
            "{metric} varies over the iterations: name a statistic of it, such as \"{metric}.p95\", \"{metric}.median\" or \"{metric}.cov\""
        )),
    }
}

/// A metric the regression gate compares: measured by the request, and one of its medians.
fn compared_metric(name: &str, measured: Measured, metrics: &[&str]) -> Result<(), String> {
    if name.contains('.') {
        return Err(format!(
            "regression compares medians of a metric: write \"{}\", not a statistic",
            name.split('.').next().unwrap_or_default()
        ));
    }
    if metrics.contains(&name) {
        Ok(())
    } else {
        Err(not_measured(name, measured, metrics))
    }
}

fn not_measured(metric: &str, measured: Measured, metrics: &[&str]) -> String {
    let hint =
        closest(metric, metrics).map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
    format!(
        "{metric} is not measured for {measured}{hint}; it measures {}",
        metrics.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\n";

    fn parse(check: &str) -> Result<BaselineCheck, String> {
        let text = format!("{HEAD}[[baseline]]\nname = \"b\"\n{check}");
        parse_scenario(&text, &|_: &str| None)
            .map(|mut doc| doc.baseline.remove(0).into_inner())
            .map_err(|e| e.to_string())
    }

    #[rstest]
    #[case("get = \"/\"\n", Measured::Http)]
    #[case("model = \"m\"\nprompt = \"p\"\n", Measured::Generation { stream: true })]
    #[case(
        "model = \"m\"\nprompt = \"p\"\nstream = false\n",
        Measured::Generation { stream: false }
    )]
    #[case("model = \"m\"\ninput = \"a\"\n", Measured::Embeddings)]
    fn the_request_kind_follows_from_its_keys(#[case] check: &str, #[case] measured: Measured) {
        assert_eq!(parse(check).unwrap().measured(), measured);
    }

    #[test]
    fn settings_sit_beside_the_request() {
        let check = parse(
            "model = \"m\"\nprompt = \"p\"\niterations = 5\nwarmup = 2\npause = \"1s\"\n\
             expect = { text_contains = \"x\" }\n\
             thresholds = { \"ttft.p95\" = \"< 1s\" }\nregression = { tolerance = \"5%\" }\n",
        )
        .unwrap();
        assert_eq!(*check.settings.iterations.get_ref(), 5);
        assert_eq!(check.settings.warmup, 2);
        let regression = check.settings.regression.unwrap().into_inner();
        assert_eq!(regression.tolerance, Some(Share(0.05)));
        let BaselineRequest::Model(request) = check.request else {
            panic!("a model request");
        };
        assert!(request.expect.text_contains.is_some());
    }

    #[rstest]
    #[case::typo(
        "get = \"/\"\niteration = 3\n",
        "6:1: unknown key `iteration` in a baseline check of an HTTP request; did you mean `iterations`?"
    )]
    #[case::http_key_in_model_request(
        "model = \"m\"\nprompt = \"p\"\nget = \"/\"\n",
        "unknown key `get` in a baseline check of a model request (it belongs to an HTTP request"
    )]
    #[case::model_key_without_model(
        "prompt = \"p\"\n",
        "unknown key `prompt` in a baseline check of an HTTP request (it belongs to a model request: add model = \"...\")"
    )]
    #[case::no_request("iterations = 3\n", "baseline check \"b\" has no request")]
    #[case::metric_without_statistic(
        "get = \"/\"\nthresholds = { latency = \"< 1s\" }\n",
        "6:16: baseline check \"b\": latency varies over the iterations: name a statistic of it, such as \"latency.p95\""
    )]
    #[case::unknown_statistic(
        "get = \"/\"\nthresholds = { \"latency.p95x\" = \"< 1s\" }\n",
        "unknown statistic \"p95x\" of latency; did you mean \"p95\"?"
    )]
    #[case::not_measured(
        "get = \"/\"\nthresholds = { \"tokens_per_s.mean\" = \"> 1\" }\n",
        "tokens_per_s is not measured for an HTTP request"
    )]
    #[case::stream_only(
        "model = \"m\"\nprompt = \"p\"\nstream = false\nthresholds = { \"itl.p95\" = \"< 1s\" }\n",
        "itl is not measured for a generation not streamed"
    )]
    #[case::unit(
        "get = \"/\"\nthresholds = { \"latency.cov\" = \"< 1s\" }\n",
        "latency.cov"
    )]
    #[case::error_rate_statistic(
        "get = \"/\"\nthresholds = { \"error_rate.p95\" = \"< 1%\" }\n",
        "error_rate is one figure of the whole run"
    )]
    #[case::both_stream_modes(
        "model = \"m\"\nprompt = \"p\"\nstream = [true, false]\n",
        "stream takes one mode in a baseline"
    )]
    #[case::per_request_threshold(
        "model = \"m\"\nprompt = \"p\"\nexpect = { ttft = \"< 1s\" }\n",
        "a threshold on one request's ttft does not apply to a baseline; put a statistic in thresholds, such as \"ttft.p95\""
    )]
    #[case::per_request_latency(
        "get = \"/\"\nexpect = { max_latency = \"1s\" }\n",
        "max_latency does not apply to a baseline"
    )]
    #[case::no_iterations(
        "get = \"/\"\niterations = 0\n",
        "6:14: baseline check \"b\": iterations = 0: give 3 to 10000"
    )]
    #[case::tolerance_without_percent(
        "get = \"/\"\nregression = { tolerance = \"10\" }\n",
        "invalid tolerance \"10\": expected a percentage"
    )]
    #[case::tolerance_of_everything(
        "get = \"/\"\nregression = { tolerance = \"100%\" }\n",
        "invalid tolerance \"100%\""
    )]
    #[case::compared_statistic(
        "get = \"/\"\nregression = { metrics = [\"latency.p95\"] }\n",
        "regression compares medians of a metric: write \"latency\""
    )]
    #[case::compared_unmeasured(
        "model = \"m\"\ninput = \"a\"\nregression = { metrics = [\"ttft\"] }\n",
        "ttft is not measured for an embeddings request"
    )]
    fn rejects(#[case] check: &str, #[case] message: &str) {
        let error = parse(check).expect_err("an error");
        assert!(error.contains(message), "{error}");
    }

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
}
