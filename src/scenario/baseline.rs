//! `[[baseline]]`: one request repeated, judged on the statistics of its figures and
//! compared with a stored baseline.
//!
//! The request is written with the keys of the kind it repeats, at the check's top level:
//! those of `[[inference]]` when the check names a `model` (a generation or embeddings),
//! else those of `[[smoke]]` (a plain HTTP request). The keys of the baseline itself
//! (iterations, thresholds, regression, ...) sit beside them; [`from_toml`] splits them
//! apart with [`super::request::split`].

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Deserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::metric::{FigureRef, resolve};
use crate::text::closest;

use super::inference::{EMBEDDINGS_FIGURES, GENERATION_FIGURES};
use super::request::{CheckRequest, Measured, Owner, Placed, Problem, split, table_value, tables};
use super::{Dur, Threshold};

/// A baseline check: what is repeated, and how it is judged.
#[derive(Debug)]
pub struct BaselineCheck {
    pub request: CheckRequest,
    pub settings: BaselineSettings,
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
    let checks = tables(value, "baseline", "a baseline check")?;
    checks
        .into_iter()
        .map(|(span, table)| one_check(span, table))
        .collect()
}

fn one_check(span: Range<usize>, table: DeTable<'_>) -> Result<Spanned<BaselineCheck>, Placed> {
    let owner = Owner {
        what: "a baseline check",
        label: "baseline keys",
        keys: SETTINGS_KEYS,
    };
    let parts = split(table, &owner)?;
    let settings = BaselineSettings::deserialize(table_value(span.clone(), parts.own))?;
    let request = CheckRequest::from_table(span.clone(), parts.request, parts.is_model)?;
    Ok(Spanned::new(span, BaselineCheck { request, settings }))
}

/// What a baseline reads of the kind of request it repeats.
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

impl BaselineCheck {
    pub fn name(&self) -> &Spanned<String> {
        self.request.name()
    }

    pub fn measured(&self) -> Measured {
        self.request.measured()
    }

    /// Checks what serde cannot, and returns every problem found; each may point at a
    /// value inside the check (`None`: the check as a whole).
    pub fn validate(&self) -> Vec<Problem> {
        let name = self.name().get_ref();
        let mut problems = self
            .request
            .validate(&format!("baseline check \"{name}\""), "a baseline");
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
        let CheckRequest::Model(request) = check.request else {
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
}
