//! An `[[sla]]` check becomes one case when this perfcase can run its load: a single plain
//! HTTP GET on an `http://` target, which the engine's lean client ([`HttpGet`]) sends
//! without headers or body and judges by its status alone; or a single streamed model
//! generation, which the inference client sends with its target's client settings (so
//! https and the target's headers are fine there). Anything else is a load error at the
//! check that says what is not run yet, so a file never passes without a check it asks for.
//!
//! [`HttpGet`]: crate::load::HttpGet

use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::{FileScope, inference};
use crate::catalog::case::{Case, GenerationLoad, SlaSpec, Spec};
use crate::inference::request::{InferenceRequest, build};
use crate::load::plan::{Arrival, Model, Plan, Stage};
use crate::scenario::inference::InferenceExpect;
use crate::scenario::request::Measured;
use crate::scenario::sla::{self, LoadModel, LoadPlan};
use crate::scenario::{CheckRequest, InferenceCheck, SlaCheck, SmokeCheck};
use crate::target::Target;

/// Requests in flight at most in an open loop that does not say: far above what a 2-core
/// generator sustains against a slow server, yet a bounded number of connections.
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// The seed of Poisson arrivals: fixed, so that a check sends at the same instants on every
/// run and two runs differ by the server only.
const POISSON_SEED: u64 = 0x5eed_5a1a;

pub fn expand(scope: &FileScope<'_>, spanned: Spanned<SlaCheck>) -> Result<Case, String> {
    let span = spanned.span();
    let check = spanned.into_inner();
    let name = check.name.get_ref().clone();
    let at = |message: String| scope.at(&span, format!("sla check \"{name}\": {message}"));
    let load = check
        .load()
        .map_err(|_| at("its load is not valid".into()))?;
    let runnable = runnable(&check, &load, scope.target).map_err(|missing| {
        at(format!(
            "not run yet: {}; this perfcase runs an sla check whose request is one plain HTTP GET (no headers, body or expect) on an http:// target, or one streamed generation (no expect); change the check, or keep it in a file outside the scenario folder",
            missing.join("; ")
        ))
    })?;
    let thresholds = check
        .thresholds()
        .map_err(|_| at("its thresholds are not valid".into()))?;
    // What it sends, where, and how long one request may take.
    let (url, request, timeout, generation) = match runnable {
        Runnable::Get(http) => (
            url(scope.target, http),
            format!("GET {}", http.request_path()),
            http.timeout.as_ref().map_or(scope.target.timeout, |t| t.0),
            None,
        ),
        Runnable::Generate(model) => {
            let InferenceRequest::Generation(request) =
                build(scope.target.api, model, true).map_err(at)?
            else {
                unreachable!("runnable() lets generations through only")
            };
            let limits = inference::limits(scope, model);
            (
                scope.target.url(request.path),
                format!("POST {}", request.path),
                limits.total,
                Some(GenerationLoad {
                    target: scope.target.clone(),
                    request,
                    limits,
                    slo: check.slo(),
                }),
            )
        }
    };
    let spec = SlaSpec {
        url,
        request,
        generation,
        plan: plan(&load, timeout).map_err(|e| at(e.to_string()))?,
        thresholds,
        abort_on_fail: check.abort_on_fail(),
    };
    Ok(Case::check(
        scope.scenario,
        name,
        scope.file.clone(),
        scope.target.clone(),
        Spec::Sla(Arc::new(spec)),
    ))
}

/// What an sla check sends, when this perfcase runs it.
enum Runnable<'c> {
    Get(&'c SmokeCheck),
    Generate(&'c InferenceCheck),
}

/// The check's one request, or every part of the check this perfcase does not run yet.
fn runnable<'c>(
    check: &'c SlaCheck,
    load: &LoadPlan,
    target: &Target,
) -> Result<Runnable<'c>, Vec<&'static str>> {
    let mut missing = Vec::new();
    let runnable = match check.single() {
        None => {
            missing.push("a mix of requests ([[sla.requests]])");
            None
        }
        Some(request @ CheckRequest::Model(model)) => {
            missing.extend(unrun_model(request.measured(), model));
            Some(Runnable::Generate(model.as_ref()))
        }
        Some(CheckRequest::Http(http)) => {
            missing.extend(unrun_http(http, target));
            Some(Runnable::Get(http.as_ref()))
        }
    };
    missing.extend(unrun_ramps(load));
    match runnable {
        Some(runnable) if missing.is_empty() => Ok(runnable),
        _ => Err(missing),
    }
}

/// What the engine's lean client cannot send of an HTTP request.
fn unrun_http(http: &SmokeCheck, target: &Target) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if http.method() != "GET" {
        missing.push("a method other than GET");
    }
    if http.json.is_some() || http.body.is_some() {
        missing.push("a request body");
    }
    if !http.headers.is_empty() {
        missing.push("request headers");
    }
    if !http.expect.is_empty() {
        missing.push("expect (an answer under load is judged by its 2xx status)");
    }
    if http.max_body.is_some() {
        missing.push("max_body");
    }
    if target.base_url.scheme() != "http" {
        missing.push("an https:// target");
    }
    if target.has_headers() {
        missing.push("a target with headers");
    }
    missing
}

/// What is not run of a model request under load: only a streamed generation is, judged by
/// its figures and SLOs (its answer is not checked).
fn unrun_model(measured: Measured, model: &InferenceCheck) -> Vec<&'static str> {
    let mut missing = Vec::new();
    match measured {
        Measured::Generation { stream: true } => {}
        Measured::Generation { stream: false } => {
            missing.push("a generation that is not streamed (stream = false)");
        }
        _ => missing.push("an embeddings request"),
    }
    if expects(&model.expect) {
        missing.push("expect (an answer under load is judged by its figures and slo)");
    }
    missing
}

/// Whether `expect` asks anything of the answer.
fn expects(expect: &InferenceExpect) -> bool {
    expect.text.is_some()
        || expect.text_trimmed.is_some()
        || expect.text_contains.is_some()
        || expect.text_regex.is_some()
        || expect.json_schema.is_some()
        || expect.finish_reason.is_some()
        || expect.min_output_tokens.is_some()
        || expect.max_output_tokens.is_some()
        || expect.dimensions.is_some()
        || !expect.thresholds.is_empty()
        || !expect.unknown.is_empty()
}

/// What the engine cannot run of the stages' ramps: it ramps over a whole stage or not
/// at all, and runs the warmup as part of the first stage.
fn unrun_ramps(load: &LoadPlan) -> Vec<&'static str> {
    let ramps = levels(load)
        .into_iter()
        .map(|(_, duration, ramp)| (duration, ramp));
    let mut missing = Vec::new();
    for (i, (duration, ramp)) in ramps.enumerate() {
        if !ramp.is_zero() && ramp != duration {
            missing.push("a ramp shorter than its stage (write the ramp as a stage of its own)");
        }
        if i == 0 && !ramp.is_zero() && !load.warmup.is_zero() {
            missing.push("a warmup before a first stage that ramps");
        }
    }
    missing.dedup();
    missing
}

/// Each stage as (level, duration, ramp): users or requests per second.
fn levels(load: &LoadPlan) -> Vec<(f64, Duration, Duration)> {
    match &load.model {
        LoadModel::Closed { stages, .. } => stages
            .iter()
            .map(|s| (f64::from(s.level), s.duration, s.ramp))
            .collect(),
        LoadModel::Open { stages, .. } => stages
            .iter()
            .map(|s| (s.level, s.duration, s.ramp))
            .collect(),
    }
}

/// The load as the engine runs it. The warmup is run at the first stage's level, so it
/// is the start of the first stage, which the engine leaves out of every figure. The run
/// may last a request's timeout past the stages, for the last requests to end.
fn plan(load: &LoadPlan, timeout: Duration) -> Result<Plan, crate::load::plan::PlanError> {
    let mut stages: Vec<Stage> = levels(load)
        .into_iter()
        .map(|(level, duration, ramp)| Stage {
            level,
            duration,
            ramp: !ramp.is_zero(),
        })
        .collect();
    if let Some(first) = stages.first_mut() {
        first.duration += load.warmup;
    }
    let model = match &load.model {
        LoadModel::Closed { think, .. } => Model::Closed { think: *think },
        LoadModel::Open {
            arrival,
            max_in_flight,
            ..
        } => Model::Open {
            arrival: match arrival {
                sla::Arrival::Constant => Arrival::Constant,
                sla::Arrival::Poisson => Arrival::Poisson { seed: POISSON_SEED },
            },
            max_in_flight: max_in_flight.map_or(DEFAULT_MAX_IN_FLIGHT, |n| n as usize),
        },
    };
    let duration: Duration = stages.iter().map(|s| s.duration).sum();
    let plan = Plan {
        model,
        stages,
        warmup: load.warmup,
        timeout,
        time_limit: duration + timeout,
        max_requests: load.max_requests,
    };
    plan.validate()?;
    Ok(plan)
}

/// The URL of the check's GET: the target's base URL, the path, then the check's query.
fn url(target: &Target, http: &SmokeCheck) -> String {
    let joined = target.url(http.request_path());
    if http.query.is_empty() {
        return joined;
    }
    let mut url = url::Url::parse(&joined).expect("a base URL joined with a path is a URL");
    url.query_pairs_mut().extend_pairs(&http.query);
    url.into()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{expand_text, only_spec};
    use crate::catalog::case::{Schedule, SlaSpec, Spec};
    use crate::load::plan::{Arrival, Model};
    use rstest::rstest;
    use std::sync::Arc;
    use std::time::Duration;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1/api\"\ntimeout = \"3s\"\n";

    fn spec(check: &str) -> Arc<SlaSpec> {
        match only_spec(HEAD, "sla", check, Schedule::Alone) {
            Spec::Sla(spec) => spec,
            _ => panic!("not a sla case"),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The stages as (level, seconds, ramp).
    fn stages(spec: &SlaSpec) -> Vec<(f64, f64, bool)> {
        let stages = spec.plan.stages.iter();
        stages
            .map(|s| (s.level, s.duration.as_secs_f64(), s.ramp))
            .collect()
    }

    #[test]
    fn a_closed_ladder_becomes_a_plan_with_the_warmup_in_its_first_stage() {
        let spec = spec(
            "get = \"/health\"\nquery = { a = \"1 2\" }\nwarmup = \"1s\"\nthink = \"10ms\"\n\
             stages = [{ users = 1, duration = \"2s\" }, { users = 4, duration = \"2s\", ramp = \"2s\" }]\n\
             thresholds = { \"latency.p99@2\" = \"< 1s\", error_rate = \"< 1%\" }\n",
        );
        assert_eq!(spec.url, "http://127.0.0.1:1/api/health?a=1+2");
        assert_eq!(spec.request, "GET /health");
        let plan = &spec.plan;
        assert_eq!(
            plan.model,
            Model::Closed {
                think: Duration::from_millis(10)
            }
        );
        assert_eq!(stages(&spec), [(1.0, 3.0, false), (4.0, 2.0, true)]);
        assert_eq!(
            (plan.warmup, plan.timeout, plan.time_limit),
            (secs(1.0), secs(3.0), secs(8.0))
        );
        let stages: Vec<_> = spec.thresholds.iter().map(|t| t.stage).collect();
        assert_eq!(stages, [Some(2), None]);
    }

    #[rstest]
    #[case::constant("", Arrival::Constant, 1024)]
    #[case::poisson(
        ", arrival = \"poisson\", max_in_flight = 8",
        Arrival::Poisson { seed: crate::catalog::expand::sla::POISSON_SEED },
        8
    )]
    fn an_open_load_keeps_its_arrival_and_bounds_its_requests_in_flight(
        #[case] keys: &str,
        #[case] arrival: Arrival,
        #[case] max_in_flight: usize,
    ) {
        let spec = spec(&format!(
            "get = \"/\"\ntimeout = \"500ms\"\nmax_requests = 10\nload = {{ rate = 200, duration = \"2s\"{keys} }}\n"
        ));
        let plan = &spec.plan;
        assert_eq!(
            plan.model,
            Model::Open {
                arrival,
                max_in_flight
            }
        );
        assert_eq!(stages(&spec), [(200.0, 2.0, false)]);
        assert_eq!(
            (plan.timeout, plan.time_limit, plan.max_requests),
            (secs(0.5), secs(2.5), Some(10))
        );
    }

    const NOT_RUN: &str = "; this perfcase runs an sla check whose request is one plain HTTP GET (no headers, body or expect) on an http:// target, or one streamed generation (no expect); change the check, or keep it in a file outside the scenario folder";

    #[rstest]
    #[case::mix(
        HEAD,
        "[[sla.requests]]\nname = \"a\"\nget = \"/\"\nweight = 1\n",
        "a mix of requests ([[sla.requests]])"
    )]
    #[case::embeddings(OPENAI, "model = \"m\"\ninput = \"p\"\n", "an embeddings request")]
    #[case::not_streamed(
        OPENAI,
        "model = \"m\"\nprompt = \"p\"\nstream = false\n",
        "a generation that is not streamed (stream = false)"
    )]
    #[case::model_expect(
        OPENAI,
        "model = \"m\"\nprompt = \"p\"\nexpect = { text_contains = \"a\" }\n",
        "expect (an answer under load is judged by its figures and slo)"
    )]
    #[case::post(
        HEAD,
        "post = \"/\"\njson = { a = 1 }\n",
        "a method other than GET; a request body"
    )]
    #[case::headers(HEAD, "get = \"/\"\nheaders = { X-A = \"b\" }\n", "request headers")]
    #[case::expect(
        HEAD,
        "get = \"/\"\nexpect = { status = 200 }\n",
        "expect (an answer under load is judged by its 2xx status)"
    )]
    #[case::https(
        "[target]\nbase_url = \"https://127.0.0.1:1\"\n",
        "get = \"/\"\n",
        "an https:// target"
    )]
    #[case::target_headers(
        "[target]\nbase_url = \"http://127.0.0.1:1\"\nheaders = { X-Key = \"k\" }\n",
        "get = \"/\"\n",
        "a target with headers"
    )]
    #[case::short_ramp(
        HEAD,
        "get = \"/\"\nstages = [{ users = 2, duration = \"2s\", ramp = \"1s\" }]\n",
        "a ramp shorter than its stage (write the ramp as a stage of its own)"
    )]
    #[case::warmup_ramp(
        HEAD,
        "get = \"/\"\nwarmup = \"1s\"\nstages = [{ users = 2, duration = \"2s\", ramp = \"2s\" }]\n",
        "a warmup before a first stage that ramps"
    )]
    fn what_is_not_run_yet_is_a_load_error_at_the_check(
        #[case] head: &str,
        #[case] check: &str,
        #[case] missing: &str,
    ) {
        let load = if check.contains("stages") {
            ""
        } else {
            "load = { users = 1, duration = \"1s\" }\n"
        };
        let text = format!("{head}[[sla]]\nname = \"s\"\n{load}{check}");
        let line = head.lines().count() + 1;
        let error = expand_text(&text).err().unwrap();
        assert_eq!(
            error,
            format!("s/x.toml:{line}:1: sla check \"s\": not run yet: {missing}{NOT_RUN}")
        );
    }

    const OPENAI: &str = "[target]\nbase_url = \"https://127.0.0.1:1/x\"\napi = \"openai\"\nheaders = { X-Key = \"k\" }\n";

    #[test]
    fn a_streamed_generation_is_run_through_its_target_with_its_slo_and_limits() {
        let check = "model = \"m\"\nprompt = \"p\"\nparams = { max_tokens = 16 }\ntimeout = \"7s\"\n\
             load = { users = 4, duration = \"2s\" }\nslo = { ttft = \"< 1s\" }\nthresholds = { goodput = \">= 90%\" }\n";
        let Spec::Sla(spec) = only_spec(OPENAI, "sla", check, Schedule::Alone) else {
            panic!("not a sla case")
        };
        assert_eq!(spec.url, "https://127.0.0.1:1/x/v1/completions");
        assert_eq!(spec.request, "POST /v1/completions");
        let generation = spec.generation.as_ref().unwrap();
        assert!(generation.request.stream);
        assert_eq!(generation.request.body["max_tokens"], 16);
        assert_eq!(generation.limits.total, secs(7.0));
        assert_eq!(spec.plan.timeout, secs(7.0));
        let slo = generation.slo.unwrap();
        assert!(slo.ttft.is_some() && slo.itl.is_none());
    }

    #[test]
    fn a_plan_the_engine_refuses_is_a_load_error_at_the_check() {
        let text = format!(
            "{HEAD}[[sla]]\nname = \"s\"\nget = \"/\"\nload = {{ users = 1, duration = \"1h\" }}\n"
        );
        assert_eq!(
            expand_text(&text).err().unwrap(),
            "s/x.toml:4:1: sla check \"s\": the time limit (3603s) is over an hour, the most a run records"
        );
    }
}
