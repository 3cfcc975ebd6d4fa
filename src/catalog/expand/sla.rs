//! An `[[sla]]` check becomes one case when this perfcase can run its load: its request,
//! or each request of its mix with its name and weight, built as its own kind builds it
//! (`[[smoke]]` for HTTP, `[[inference]]` for a model), so a load sends and judges what
//! that kind would. A plain GET on an `http://` target sent alone, with nothing to judge
//! but its status, goes to the engine's lean client ([`HttpGet`], the fast path); any other
//! request to a client of the target's settings, which the parts of a mix share.
//! Anything else is a load error at the check that says what is not run yet, so a file
//! never passes without a check it asks for.
//!
//! [`HttpGet`]: crate::load::HttpGet

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::{FileScope, inference, smoke};
use crate::catalog::case::{Case, SlaPart, SlaRequest, SlaSpec, Spec};
use crate::load::plan::{Arrival, Model, Plan, Stage};
use crate::scenario::request::Measured;
use crate::scenario::sla::{self, LoadModel, LoadPlan, Slo};
use crate::scenario::{CheckRequest, SlaCheck, SmokeCheck};
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
    runnable(&check, &load).map_err(|missing| {
        at(format!(
            "not run yet: {}; this perfcase runs an sla check of one request or a mix of requests of any kind (HTTP, a generation or embeddings); change the check, or keep it in a file outside the scenario folder",
            missing.join("; ")
        ))
    })?;
    let thresholds = check
        .thresholds()
        .map_err(|_| at("its thresholds are not valid".into()))?;
    let slo = check.slo();
    let abort_on_fail = check.abort_on_fail();
    let mix = check.into_mix();
    // A request of a mix shares its worker's client with the others, so only a request
    // sent alone takes the lean client.
    let alone = mix.len() == 1;
    let mut parts = Vec::with_capacity(mix.len());
    let mut described = Vec::with_capacity(mix.len());
    let mut timeout = Duration::ZERO;
    let total: u64 = mix.iter().map(|(_, weight, _)| u64::from(*weight)).sum();
    for (part, weight, request) in mix {
        let built = build(scope, request, slo, alone, &span)?;
        timeout = timeout.max(built.timeout);
        described.push(if alone {
            built.described
        } else {
            let share = 100.0 * f64::from(weight) / total as f64;
            let share = if share.fract() == 0.0 {
                format!("{share}%")
            } else {
                format!("{share:.1}%")
            };
            format!("{part} ({share}: {})", built.described)
        });
        parts.push(SlaPart {
            name: part,
            weight: weight.into(),
            request: built.sends,
        });
    }
    let request = if alone {
        described.remove(0)
    } else {
        format!("a mix of {}", described.join(", "))
    };
    let spec = SlaSpec {
        request,
        sends: parts,
        plan: plan(&load, timeout).map_err(|e| at(e.to_string()))?,
        thresholds,
        abort_on_fail,
    };
    Ok(Case::check(
        scope.scenario,
        name,
        scope.file.clone(),
        scope.target.clone(),
        Spec::Sla(Arc::new(spec)),
    ))
}

/// One request of an sla check, built for the engine.
struct Built {
    /// In words: `GET /health`.
    described: String,
    sends: SlaRequest,
    /// How long one request may take: the engine gives up on it then.
    timeout: Duration,
}

/// The request built as its kind builds it; errors are placed at `span`, the check. An
/// HTTP request sent `alone` that the lean client can send goes to it.
fn build(
    scope: &FileScope<'_>,
    request: CheckRequest,
    slo: Option<Slo>,
    alone: bool,
    span: &Range<usize>,
) -> Result<Built, String> {
    let target = scope.target.clone();
    match request {
        CheckRequest::Http(http) if alone && lean(&http, scope.target) => Ok(Built {
            described: format!("GET {}", http.request_path()),
            sends: SlaRequest::Get {
                url: url(scope.target, &http),
            },
            timeout: http.timeout.as_ref().map_or(scope.target.timeout, |t| t.0),
        }),
        CheckRequest::Http(http) => {
            let spec = smoke::spec(scope, *http, span)?;
            Ok(Built {
                described: format!("{} {}", spec.request.method, spec.request.path),
                timeout: spec.timeout,
                sends: SlaRequest::Http {
                    target,
                    spec: Box::new(spec),
                },
            })
        }
        CheckRequest::Model(model) => {
            // Validation allows one stream mode, hence one variant.
            let (_, spec) = inference::specs(scope, Arc::new(*model), span)?.remove(0);
            Ok(Built {
                described: format!("POST {}", spec.request.path()),
                timeout: spec.limits.total,
                sends: SlaRequest::Model {
                    target,
                    spec: Box::new(spec),
                    slo,
                },
            })
        }
    }
}

/// Whether the engine's lean client sends this request: a GET with nothing but its status
/// to judge (no headers, body, expect or max_body), on `http://` to a target without
/// headers of its own or credentials in its URL (which the full client sends as Basic
/// auth, and the lean one would not).
fn lean(http: &SmokeCheck, target: &Target) -> bool {
    http.method() == "GET"
        && http.json.is_none()
        && http.body.is_none()
        && http.headers.is_empty()
        && http.expect.is_empty()
        && http.max_body.is_none()
        && target.base_url.scheme() == "http"
        && target.base_url.username().is_empty()
        && target.base_url.password().is_none()
        && !target.has_headers()
}

/// Every part of the check this perfcase does not run yet; none when it runs it.
fn runnable(check: &SlaCheck, load: &LoadPlan) -> Result<(), Vec<&'static str>> {
    let mut missing = Vec::new();
    let embeds = check
        .mix()
        .iter()
        .any(|(_, _, request)| request.measured() == Measured::Embeddings);
    if embeds && check.slo().is_some() {
        missing.push("an slo on an embeddings request (goodput counts generations)");
    }
    missing.extend(unrun_ramps(load));
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// What the engine cannot run of the stages' ramps: it runs the warmup as the start of the
/// first stage, at that stage's level, which a stage ramping up from zero does not have.
fn unrun_ramps(load: &LoadPlan) -> Vec<&'static str> {
    let first_ramps = levels(load)
        .first()
        .is_some_and(|(_, _, ramp)| !ramp.is_zero());
    if first_ramps && !load.warmup.is_zero() {
        vec!["a warmup before a first stage that ramps"]
    } else {
        Vec::new()
    }
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
/// may last a request's timeout past the stages, for the last requests to end, within the
/// hour a run may last (a check of a whole hour leaves its last requests unfinished).
fn plan(load: &LoadPlan, timeout: Duration) -> Result<Plan, crate::load::plan::PlanError> {
    let mut stages: Vec<Stage> = levels(load)
        .into_iter()
        .map(|(level, duration, ramp)| Stage {
            level,
            duration,
            ramp,
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
        time_limit: (duration + timeout).min(crate::load::plan::MAX_TIME.max(duration)),
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
    use crate::catalog::case::{Schedule, SlaRequest, SlaSpec, Spec};
    use crate::inference::request::InferenceRequest;
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

    /// The stages as (level, seconds, seconds of ramp).
    fn stages(spec: &SlaSpec) -> Vec<(f64, f64, f64)> {
        let stages = spec.plan.stages.iter();
        stages
            .map(|s| (s.level, s.duration.as_secs_f64(), s.ramp.as_secs_f64()))
            .collect()
    }

    #[test]
    fn an_hour_of_stages_runs_with_no_time_past_them() {
        let spec = spec("get = \"/\"\nload = { users = 1, duration = \"1h\" }\ntimeout = \"5s\"\n");
        assert_eq!(spec.plan.time_limit, secs(3600.0));
    }

    #[test]
    fn a_ramp_shorter_than_its_stage_is_passed_to_the_engine() {
        let spec =
            spec("get = \"/\"\nstages = [{ users = 2, duration = \"2s\", ramp = \"1s\" }]\n");
        assert_eq!(stages(&spec), [(2.0, 2.0, 1.0)]);
    }

    #[test]
    fn a_closed_ladder_becomes_a_plan_with_the_warmup_in_its_first_stage() {
        let spec = spec(
            "get = \"/health\"\nquery = { a = \"1 2\" }\nwarmup = \"1s\"\nthink = \"10ms\"\n\
             stages = [{ users = 1, duration = \"2s\" }, { users = 4, duration = \"2s\", ramp = \"2s\" }]\n\
             thresholds = { \"latency.p99@2\" = \"< 1s\", error_rate = \"< 1%\" }\n",
        );
        assert!(
            matches!(&spec.sends[0].request, SlaRequest::Get { url } if url == "http://127.0.0.1:1/api/health?a=1+2")
        );
        assert_eq!(spec.request, "GET /health");
        let plan = &spec.plan;
        assert_eq!(
            plan.model,
            Model::Closed {
                think: Duration::from_millis(10)
            }
        );
        assert_eq!(stages(&spec), [(1.0, 3.0, 0.0), (4.0, 2.0, 2.0)]);
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
        assert_eq!(stages(&spec), [(200.0, 2.0, 0.0)]);
        assert_eq!(
            (plan.timeout, plan.time_limit, plan.max_requests),
            (secs(0.5), secs(2.5), Some(10))
        );
    }

    const NOT_RUN: &str = "; this perfcase runs an sla check of one request or a mix of requests of any kind (HTTP, a generation or embeddings); change the check, or keep it in a file outside the scenario folder";

    #[rstest]
    #[case::embeddings_slo(
        OPENAI,
        "model = \"m\"\ninput = \"p\"\nslo = { latency = \"< 1s\" }\n",
        "an slo on an embeddings request (goodput counts generations)"
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

    /// A mix is sent as its parts, named and weighted as written, each by a client of the
    /// target's settings (one per worker, shared by the parts); the case's request names
    /// each part with its share.
    #[test]
    fn a_mix_becomes_its_named_weighted_parts() {
        let spec = spec(&format!(
            "{LOAD}[[sla.requests]]\nname = \"search\"\nweight = 3\nget = \"/search\"\n\
             [[sla.requests]]\nname = \"home\"\nweight = 1\nget = \"/\"\ntimeout = \"7s\"\n"
        ));
        let parts: Vec<(&str, u64)> = spec
            .sends
            .iter()
            .map(|part| (part.name.as_str(), part.weight))
            .collect();
        assert_eq!(parts, [("search", 3), ("home", 1)]);
        assert!(
            spec.sends
                .iter()
                .all(|part| matches!(part.request, SlaRequest::Http { .. }))
        );
        assert_eq!(
            spec.request,
            "a mix of search (75%: GET /search), home (25%: GET /)"
        );
        // The engine gives up on a request at the longest timeout of the parts.
        assert_eq!(spec.plan.timeout, secs(7.0));
    }

    #[test]
    fn a_mix_of_one_is_sent_as_one_request() {
        let spec = spec(&format!(
            "{LOAD}[[sla.requests]]\nname = \"a\"\nweight = 2\nget = \"/\"\n"
        ));
        assert_eq!(spec.sends.len(), 1);
        assert!(matches!(spec.sends[0].request, SlaRequest::Get { .. }));
        assert_eq!(spec.request, "GET /");
    }

    const OPENAI: &str = "[target]\nbase_url = \"https://127.0.0.1:1/x\"\napi = \"openai\"\nheaders = { X-Key = \"k\" }\n";

    /// What an sla check's request becomes, in words: `get`, `http`, `generation`,
    /// `streamed generation`, `embeddings`.
    fn variant(spec: &SlaSpec) -> &'static str {
        match &spec.sends[0].request {
            SlaRequest::Get { .. } => "get",
            SlaRequest::Http { .. } => "http",
            SlaRequest::Model { spec, .. } => match &spec.request {
                InferenceRequest::Generation(r) if r.stream => "streamed generation",
                InferenceRequest::Generation(_) => "generation",
                InferenceRequest::Embeddings(_) => "embeddings",
            },
        }
    }

    const LOAD: &str = "load = { users = 1, duration = \"1s\" }\n";

    /// Only a plain GET, with nothing but its status to judge, on http:// to a target
    /// without headers goes to the lean client; every other request is sent as its kind
    /// sends it.
    #[rstest]
    #[case::plain_get(
        HEAD,
        "get = \"/\"\nquery = { a = \"b\" }\ntimeout = \"1s\"\n",
        "get",
        "GET /"
    )]
    #[case::get_with_headers(HEAD, "get = \"/\"\nheaders = { X-A = \"b\" }\n", "http", "GET /")]
    #[case::get_with_expect(HEAD, "get = \"/\"\nexpect = { status = 200 }\n", "http", "GET /")]
    #[case::get_with_max_body(HEAD, "get = \"/\"\nmax_body = \"1KiB\"\n", "http", "GET /")]
    #[case::post_json(HEAD, "post = \"/q\"\njson = { a = 1 }\n", "http", "POST /q")]
    #[case::delete(HEAD, "method = \"DELETE\"\npath = \"/d\"\n", "http", "DELETE /d")]
    #[case::https(
        "[target]\nbase_url = \"https://127.0.0.1:1\"\n",
        "get = \"/\"\n",
        "http",
        "GET /"
    )]
    #[case::target_headers(
        "[target]\nbase_url = \"http://127.0.0.1:1\"\nheaders = { X-Key = \"k\" }\n",
        "get = \"/\"\n",
        "http",
        "GET /"
    )]
    #[case::credentials_in_the_url(
        "[target]\nbase_url = \"http://user:pw@127.0.0.1:1\"\n",
        "get = \"/\"\n",
        "http",
        "GET /"
    )]
    #[case::streamed(
        OPENAI,
        "model = \"m\"\nprompt = \"p\"\n",
        "streamed generation",
        "POST /v1/completions"
    )]
    #[case::not_streamed(
        OPENAI,
        "model = \"m\"\nprompt = \"p\"\nstream = false\nslo = { latency = \"< 1s\" }\nexpect = { text_contains = \"a\" }\n",
        "generation",
        "POST /v1/completions"
    )]
    #[case::embeddings(
        OPENAI,
        "model = \"m\"\ninput = [\"a\", \"b\"]\nexpect = { dimensions = 4 }\n",
        "embeddings",
        "POST /v1/embeddings"
    )]
    fn each_request_becomes_the_variant_that_sends_it(
        #[case] head: &str,
        #[case] check: &str,
        #[case] expected: &str,
        #[case] described: &str,
    ) {
        let spec = match only_spec(head, "sla", &format!("{LOAD}{check}"), Schedule::Alone) {
            Spec::Sla(spec) => spec,
            _ => panic!("not a sla case"),
        };
        assert_eq!(variant(&spec), expected);
        assert_eq!(spec.request, described);
    }

    #[test]
    fn an_http_request_is_built_as_a_smoke_check_with_its_limits() {
        let spec = spec(
            "post = \"/q\"\njson = { a = 1 }\nheaders = { X-A = \"b\" }\nmax_body = \"1KiB\"\ntimeout = \"2s\"\n\
             expect = { status = 201, body_contains = \"ok\" }\nload = { rate = 10, duration = \"1s\" }\n",
        );
        let SlaRequest::Http { spec: http, .. } = &spec.sends[0].request else {
            panic!("not sent as HTTP")
        };
        assert_eq!(http.request.method.as_str(), "POST");
        assert_eq!(http.request.headers["x-a"], "b");
        assert_eq!((http.max_body.0, http.timeout), (1024, secs(2.0)));
        assert!(http.check.expect.body_contains.is_some());
        assert_eq!(spec.plan.timeout, secs(2.0));
    }

    #[test]
    fn a_streamed_generation_is_run_through_its_target_with_its_slo_and_limits() {
        let check = "model = \"m\"\nprompt = \"p\"\nparams = { max_tokens = 16 }\ntimeout = \"7s\"\n\
             load = { users = 4, duration = \"2s\" }\nslo = { ttft = \"< 1s\" }\nthresholds = { goodput = \">= 90%\" }\n";
        let Spec::Sla(spec) = only_spec(OPENAI, "sla", check, Schedule::Alone) else {
            panic!("not a sla case")
        };
        assert_eq!(spec.request, "POST /v1/completions");
        let SlaRequest::Model {
            target,
            spec: model,
            slo,
        } = &spec.sends[0].request
        else {
            panic!("not a model request")
        };
        assert_eq!(
            target.url(model.request.path()),
            "https://127.0.0.1:1/x/v1/completions"
        );
        let InferenceRequest::Generation(request) = &model.request else {
            panic!("not a generation")
        };
        assert!(request.stream);
        assert_eq!(request.body["max_tokens"], 16);
        assert_eq!(model.limits.total, secs(7.0));
        assert_eq!(spec.plan.timeout, secs(7.0));
        let slo = slo.unwrap();
        assert!(slo.ttft.is_some() && slo.itl.is_none());
    }
}
