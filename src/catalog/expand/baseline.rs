//! A `[[baseline]]` check becomes one case: the request it repeats built as its own kind
//! builds it (`[[smoke]]` for HTTP, `[[inference]]` for a model), its thresholds resolved
//! against the metric registry and its regression gate settled.

use std::sync::Arc;

use toml::Spanned;

use super::{FileScope, inference, smoke};
use crate::catalog::case::{BaselineSpec, Case, Gate, RepeatedRequest, Spec, StatThreshold};
use crate::judge::baseline::Tolerance;
use crate::metric::find_metric;
use crate::scenario::baseline::{BaselineSettings, RegressionDefaults, threshold_figure};
use crate::scenario::request::Measured;
use crate::scenario::{BaselineCheck, CheckRequest};

/// The gate's tolerance when neither the check nor the suite says.
const DEFAULT_TOLERANCE: f64 = 0.10;

pub fn expand(scope: &FileScope<'_>, spanned: Spanned<BaselineCheck>) -> Result<Case, String> {
    let span = spanned.span();
    let check = spanned.into_inner();
    let measured = check.measured();
    let name = check.name().get_ref().clone();
    let request = match check.request {
        CheckRequest::Http(http) => {
            RepeatedRequest::Http(Box::new(smoke::spec(scope, *http, &span)?))
        }
        CheckRequest::Model(model) => {
            let mut specs = inference::specs(scope, Arc::new(*model), &span)?;
            // Validation allows one stream mode, hence one variant.
            RepeatedRequest::Model(specs.remove(0).1)
        }
    };
    let settings = check.settings;
    let spec = BaselineSpec {
        request,
        measured,
        iterations: *settings.iterations.get_ref(),
        warmup: settings.warmup,
        pause: settings.pause.map(|p| p.0),
        max_duration: settings.max_duration.0,
        thresholds: thresholds(&settings, measured),
        gate: gate(&settings, scope.regression, measured, span),
    };
    Ok(Case::check(
        scope.scenario,
        name,
        scope.file.clone(),
        scope.target.clone(),
        Spec::Baseline(Arc::new(spec)),
    ))
}

/// The thresholds resolved; validation has checked every key.
fn thresholds(settings: &BaselineSettings, measured: Measured) -> Vec<StatThreshold> {
    let metrics = measured.metrics();
    let mut written: Vec<_> = settings.thresholds.iter().collect();
    // Kept in the order of the file, which the messages follow.
    written.sort_by_key(|(key, _)| key.span().start);
    written
        .into_iter()
        .filter_map(|(key, threshold)| {
            let figure = threshold_figure(key.get_ref(), measured, &metrics).ok()?;
            Some(StatThreshold {
                figure,
                threshold: *threshold.get_ref(),
                at: threshold.span(),
            })
        })
        .collect()
}

/// The check's regression table, else the suite's defaults, else 10% and required.
fn gate(
    settings: &BaselineSettings,
    defaults: &RegressionDefaults,
    measured: Measured,
    check: std::ops::Range<usize>,
) -> Gate {
    let regression = settings.regression.as_ref();
    let spec = regression.map(Spanned::get_ref);
    let share = spec
        .and_then(|r| r.tolerance)
        .or(defaults.tolerance)
        .map_or(DEFAULT_TOLERANCE, |t| t.0);
    let names: Vec<&str> = match spec.and_then(|r| r.metrics.as_ref()) {
        Some(metrics) => metrics.iter().map(|m| m.get_ref().as_str()).collect(),
        None => measured.default_compared().to_vec(),
    };
    Gate {
        tolerance: Tolerance::new(share).unwrap_or_else(|_| {
            Tolerance::new(DEFAULT_TOLERANCE).expect("the default tolerance is a share")
        }),
        metrics: names.into_iter().filter_map(find_metric).collect(),
        required: spec
            .and_then(|r| r.required)
            .or(defaults.required)
            .unwrap_or(true),
        at: regression.map_or(check, Spanned::span),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::only_spec;
    use crate::catalog::case::{BaselineSpec, RepeatedRequest, Schedule, Spec};
    use rstest::rstest;
    use std::sync::Arc;
    use std::time::Duration;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\napi = \"openai\"\n";

    fn spec(check: &str) -> Arc<BaselineSpec> {
        match only_spec(HEAD, "baseline", check, Schedule::Alone) {
            Spec::Baseline(spec) => spec,
            _ => panic!("not a baseline case"),
        }
    }

    fn compared(spec: &BaselineSpec) -> Vec<&str> {
        spec.gate.metrics.iter().map(|m| m.name).collect()
    }

    #[rstest]
    #[case("model = \"m\"\nprompt = \"p\"\n", &["tokens_per_s", "ttft"], "/v1/completions")]
    #[case(
        "model = \"m\"\nprompt = \"p\"\nstream = false\n",
        &["e2e_tokens_per_s", "latency"],
        "/v1/completions"
    )]
    #[case("model = \"m\"\ninput = [\"a\", \"b\"]\n", &["latency"], "/v1/embeddings")]
    #[case("get = \"/health\"\n", &["latency"], "/health")]
    fn the_request_and_what_the_gate_compares_by_default(
        #[case] request: &str,
        #[case] metrics: &[&str],
        #[case] path: &str,
    ) {
        let spec = spec(request);
        assert_eq!(compared(&spec), metrics);
        let sent = match &spec.request {
            RepeatedRequest::Http(http) => http.request.path.clone(),
            RepeatedRequest::Model(model) => model.request.path().to_string(),
        };
        assert_eq!(sent, path);
    }

    #[test]
    fn settings_default_and_can_be_set() {
        let defaults = spec("get = \"/\"\n");
        assert_eq!((defaults.iterations, defaults.warmup), (10, 1));
        assert_eq!(defaults.pause, None);
        assert_eq!(defaults.max_duration, Duration::from_secs(600));
        assert_eq!(defaults.gate.tolerance.share(), 0.10);
        assert!(defaults.gate.required);
        let set = spec(
            "get = \"/\"\niterations = 5\nwarmup = 0\npause = \"50ms\"\nmax_duration = \"1m\"\n\
             regression = { tolerance = \"5%\", metrics = [\"ttfb\"], required = false }\n",
        );
        assert_eq!((set.iterations, set.warmup), (5, 0));
        assert_eq!(set.pause, Some(Duration::from_millis(50)));
        assert_eq!(set.max_duration, Duration::from_secs(60));
        assert_eq!(set.gate.tolerance.share(), 0.05);
        assert_eq!(compared(&set), ["ttfb"]);
        assert!(!set.gate.required);
    }

    #[test]
    fn thresholds_resolve_to_statistics() {
        let spec = spec(
            "model = \"m\"\nprompt = \"p\"\n\
             thresholds = { \"tokens_per_s.mean\" = \"> 100\", \"ttft.p95\" = \"< 500ms\", error_rate = \"< 5%\" }\n",
        );
        let figures: Vec<String> = spec
            .thresholds
            .iter()
            .map(|t| t.figure.to_string())
            .collect();
        assert_eq!(figures, ["tokens_per_s.mean", "ttft.p95", "error_rate"]);
    }

    #[rstest]
    #[case::suite_fills_in("", 0.05, false)]
    #[case::check_wins("regression = { tolerance = \"20%\", required = true }\n", 0.20, true)]
    fn the_suite_sets_what_a_check_does_not(
        #[case] regression: &str,
        #[case] tolerance: f64,
        #[case] required: bool,
    ) {
        use crate::scenario::baseline::{RegressionDefaults, Share};
        let text = format!("{HEAD}[[baseline]]\nname = \"b\"\nget = \"/\"\n{regression}");
        let mut doc = crate::scenario::parse_scenario(&text, &|_: &str| None).unwrap();
        let check = doc.baseline.remove(0).into_inner();
        let defaults = RegressionDefaults {
            tolerance: Some(Share(0.05)),
            required: Some(false),
        };
        let gate = super::gate(&check.settings, &defaults, check.measured(), 0..1);
        assert_eq!(
            (gate.tolerance.share(), gate.required),
            (tolerance, required)
        );
    }
}
