//! The sla format read whole, through [`super::SlaCheck`] as a scenario file gives it:
//! the loads, mixes and thresholds it describes, and each rule it rejects with the place
//! and message the user sees. Most rules span the load, the mix and the thresholds
//! together, so the tests stay together here rather than beside each part.

use std::time::Duration;

use super::*;
use crate::scenario::parse_scenario;
use rstest::rstest;

const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[sla]]\nname = \"s\"\n";

fn parse(check: &str) -> Result<SlaCheck, String> {
    parse_scenario(&format!("{HEAD}{check}"), &|_: &str| None)
        .map(|mut doc| doc.sla.remove(0).into_inner())
        .map_err(|e| e.to_string())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[rstest]
#[case::closed(
    "get = \"/\"\nload = { users = 4, duration = \"10s\", think = \"0s\", warmup = \"2s\" }\n",
    LoadPlan {
        model: LoadModel::Closed {
            stages: vec![Stage { level: 4, duration: secs(10), ramp: Duration::ZERO }],
            think: Duration::ZERO,
        },
        warmup: secs(2),
        max_requests: None,
    }
)]
#[case::open(
    "get = \"/\"\nload = { rate = 200, duration = \"5s\", arrival = \"poisson\", max_in_flight = 256 }\nmax_requests = 1000\n",
    LoadPlan {
        model: LoadModel::Open {
            stages: vec![Stage { level: 200.0, duration: secs(5), ramp: Duration::ZERO }],
            arrival: Arrival::Poisson,
            max_in_flight: Some(256),
        },
        warmup: Duration::ZERO,
        max_requests: Some(1000),
    }
)]
#[case::stages(
    "get = \"/\"\nstages = [{ users = 1, duration = \"2s\" }, { users = 4, duration = \"3s\", ramp = \"1s\" }]\nwarmup = \"1s\"\nthink = \"100ms\"\n",
    LoadPlan {
        model: LoadModel::Closed {
            stages: vec![
                Stage { level: 1, duration: secs(2), ramp: Duration::ZERO },
                Stage { level: 4, duration: secs(3), ramp: secs(1) },
            ],
            think: Duration::from_millis(100),
        },
        warmup: secs(1),
        max_requests: None,
    }
)]
#[case::steady_with_a_ramp(
    "get = \"/\"\nload = { users = 8, duration = \"10m\", ramp = \"1m\" }\n",
    LoadPlan {
        model: LoadModel::Closed {
            stages: vec![Stage { level: 8, duration: secs(600), ramp: secs(60) }],
            think: Duration::ZERO,
        },
        warmup: Duration::ZERO,
        max_requests: None,
    }
)]
#[case::open_stages(
    "get = \"/\"\nstages = [{ rate = 0.5, duration = \"1m\" }, { rate = 10, duration = \"59m\" }]\n",
    LoadPlan {
        model: LoadModel::Open {
            stages: vec![
                Stage { level: 0.5, duration: secs(60), ramp: Duration::ZERO },
                Stage { level: 10.0, duration: secs(3540), ramp: Duration::ZERO },
            ],
            arrival: Arrival::Constant,
            max_in_flight: None,
        },
        warmup: Duration::ZERO,
        max_requests: None,
    }
)]
fn describes_the_load(#[case] check: &str, #[case] expected: LoadPlan) {
    assert_eq!(parse(check).unwrap().load(), Ok(expected));
}

#[test]
fn a_single_request_is_a_mix_of_one_named_after_the_check() {
    let check = parse(
        "model = \"m\"\nprompt = \"p\"\ntimeout = \"5s\"\nload = { users = 1, duration = \"1s\" }\nabort_on_fail = true\n",
    )
    .unwrap();
    let mix = check.mix();
    assert_eq!(mix.len(), 1);
    assert_eq!((mix[0].0, mix[0].1), ("s", 1));
    assert_eq!(mix[0].2.measured(), Measured::Generation { stream: true });
    assert!(check.abort_on_fail());
}

/// A mix of an HTTP request and a generation, with `keys` at the check's top level.
fn mix(keys: &str) -> String {
    format!(
        "load = {{ rate = 10, duration = \"10s\" }}\n{keys}\
         [[sla.requests]]\nname = \"search\"\nweight = 60\nget = \"/search\"\n\
         [[sla.requests]]\nname = \"gen\"\nweight = 40\nmodel = \"m\"\nprompt = \"p\"\n"
    )
}

#[test]
fn a_mix_is_named_weighted_requests() {
    let check = parse(&mix("")).unwrap();
    let mix: Vec<(&str, u32, Measured)> = check
        .mix()
        .into_iter()
        .map(|(name, weight, request)| (name, weight, request.measured()))
        .collect();
    assert_eq!(
        mix,
        [
            ("search", 60, Measured::Http),
            ("gen", 40, Measured::Generation { stream: true })
        ]
    );
}

#[test]
fn thresholds_resolve_with_their_scope_and_stage() {
    let check = parse(
        "model = \"m\"\nprompt = \"p\"\n\
         stages = [{ rate = 1, duration = \"1s\" }, { rate = 2, duration = \"1s\" }]\n\
         slo = { ttft = \"< 1s\", tpot = \"<= 50ms\" }\n\
         thresholds = { \"latency.p99\" = \"< 10ms\", error_rate = \"< 1%\", throughput = \">= 100/s\", goodput = \"> 95%\", \"ttft.p99.9{s}@2\" = \"< 1s\", dropped = \"== 0\" }\n",
    )
    .unwrap();
    let resolved: Vec<(String, Option<String>, Option<usize>, String)> = check
        .thresholds()
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                t.figure.to_string(),
                t.scope,
                t.stage,
                t.threshold.to_string(),
            )
        })
        .collect();
    let expected = [
        ("latency.p99", None, None, "< 10ms"),
        ("error_rate", None, None, "< 1%"),
        ("throughput", None, None, ">= 100/s"),
        ("goodput", None, None, "> 95%"),
        ("ttft.p99.9", Some("s"), Some(2), "< 1s"),
        ("dropped", None, None, "== 0"),
    ]
    .map(|(f, scope, stage, t)| {
        (
            f.to_string(),
            scope.map(str::to_string),
            stage,
            t.to_string(),
        )
    });
    assert_eq!(resolved, expected);
}

const GET: &str = "get = \"/\"\n";
const USERS: &str = "get = \"/\"\nload = { users = 2, duration = \"10s\" }\n";
const RATE: &str = "get = \"/\"\nload = { rate = 2, duration = \"10s\" }\n";
const GEN: &str = "model = \"m\"\nprompt = \"p\"\nload = { users = 2, duration = \"10s\" }\n";

/// Each rule, at the key or value it is about (`line:col` of the scenario file).
#[rstest]
#[case::no_load(GET, "3:1: sla check \"s\" has no load: add load = {")]
#[case::load_and_stages(
    "get = \"/\"\nload = { users = 1, duration = \"1s\" }\nstages = [{ users = 1, duration = \"1s\" }]\n",
    "7:10: sla check \"s\" has both load and stages"
)]
#[case::users_and_rate(
    "get = \"/\"\nload = { users = 1, rate = 2, duration = \"1s\" }\n",
    "6:28: sla check \"s\" gives both users and rate"
)]
#[case::no_level(
    "get = \"/\"\nload = { duration = \"1s\" }\n",
    "6:8: sla check \"s\" gives neither users (a closed loop) nor rate (an open loop)"
)]
#[case::load_not_a_table("get = \"/\"\nload = 4\n", "6:8: load is a table: write load = {")]
#[case::unknown_load_key(
    "get = \"/\"\nload = { users = 1, duration = \"1s\", thnk = \"1s\" }\n",
    "6:38: unknown key `thnk` in load; did you mean `think`?; load keys: users, rate, duration, ramp, warmup, think, arrival, max_in_flight"
)]
#[case::no_duration("get = \"/\"\nload = { users = 1 }\n", "6:8: missing field `duration`")]
#[case::zero_duration(
    "get = \"/\"\nload = { users = 1, duration = \"0s\" }\n",
    "6:32: duration \"0s\" is zero"
)]
#[case::mixed_models(
    "get = \"/\"\nstages = [{ users = 1, duration = \"1s\" }, { rate = 3, duration = \"1s\" }]\n",
    "6:52: sla check \"s\": stage 2 gives rate, and stage 1 users: every stage is of one model"
)]
#[case::fractional_users(
    "get = \"/\"\nload = { users = 1.5, duration = \"1s\" }\n",
    "6:18: sla check \"s\": users = 1.5: give a whole number from 1 to 1000000"
)]
#[case::no_users(
    "get = \"/\"\nload = { users = 0, duration = \"1s\" }\n",
    "users = 0: give a whole number from 1 to 1000000"
)]
#[case::too_many_users(
    "get = \"/\"\nload = { users = 1000001, duration = \"1s\" }\n",
    "users = 1000001: give a whole number"
)]
#[case::zero_rate(
    "get = \"/\"\nload = { rate = 0, duration = \"1s\" }\n",
    "6:17: sla check \"s\": rate = 0: give requests per second above 0 and at most 1000000"
)]
#[case::too_high_rate(
    "get = \"/\"\nload = { rate = 2e6, duration = \"1s\" }\n",
    "rate = 2000000: give requests per second"
)]
#[case::ramp_longer_than_stage(
    "get = \"/\"\nstages = [{ users = 1, duration = \"1s\", ramp = \"2s\" }]\n",
    "6:48: sla check \"s\": ramp 2s is longer than its stage (1s)"
)]
#[case::empty_stages(
    "get = \"/\"\nstages = []\n",
    "6:10: sla check \"s\": stages is an empty list"
)]
#[case::over_an_hour(
    "get = \"/\"\nstages = [{ users = 1, duration = \"59m\" }]\nwarmup = \"2m\"\n",
    "6:10: sla check \"s\": the stages and warmup take 3660s, more than 1h"
)]
#[case::warmup_as_long_as_the_load(
    "get = \"/\"\nload = { users = 1, duration = \"2s\", warmup = \"2s\" }\n",
    "6:47: sla check \"s\": warmup 2s is not shorter than the stages (2s)"
)]
#[case::warmup_beside_load(
    "get = \"/\"\nload = { users = 1, duration = \"2s\" }\nwarmup = \"1s\"\n",
    "7:10: sla check \"s\": warmup goes inside load = { ... } with a steady load"
)]
#[case::think_in_an_open_loop(
    "get = \"/\"\nload = { rate = 1, duration = \"2s\", think = \"1s\" }\n",
    "6:45: sla check \"s\": think applies to a closed loop (users)"
)]
#[case::arrival_in_a_closed_loop(
    "get = \"/\"\nstages = [{ users = 1, duration = \"2s\" }]\narrival = \"poisson\"\n",
    "7:11: sla check \"s\": arrival applies to an open loop (rate), and this load is closed (users): drop arrival"
)]
#[case::max_in_flight_in_a_closed_loop(
    "get = \"/\"\nload = { users = 1, duration = \"2s\", max_in_flight = 4 }\n",
    "max_in_flight applies to an open loop (rate), and this load is closed (users): drop max_in_flight; a closed loop has as many requests in flight as users"
)]
#[case::no_max_in_flight(
    "get = \"/\"\nload = { rate = 1, duration = \"2s\", max_in_flight = 0 }\n",
    "6:53: sla check \"s\": max_in_flight = 0: give a whole number from 1 to 1000000"
)]
#[case::no_max_requests(
    &format!("{USERS}max_requests = -1\n"),
    "7:16: sla check \"s\": max_requests = -1: give a whole number from 1"
)]
#[case::unknown_arrival(
    "get = \"/\"\nload = { rate = 1, duration = \"2s\", arrival = \"posson\" }\n",
    "unknown variant `posson`, expected `constant` or `poisson`"
)]
#[case::unknown_key(
    &format!("{USERS}treshold = 1\n"),
    "7:1: unknown key `treshold` in an sla check of an HTTP request; did you mean `thresholds`?"
)]
#[case::abort_not_a_bool(&format!("{USERS}abort_on_fail = \"yes\"\n"), "7:17: invalid type: string \"yes\", expected a boolean")]
#[case::request_and_mix(
    "get = \"/\"\nload = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nget = \"/\"\n",
    "5:1: an sla check has a request at its top level (get) and [[sla.requests]]"
)]
#[case::empty_mix(
    "load = { users = 1, duration = \"2s\" }\nrequests = []\n",
    "6:12: sla check \"s\": requests is an empty list"
)]
#[case::duplicate_mix_name(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nget = \"/\"\n[[sla.requests]]\nname = \"a\"\nweight = 2\nget = \"/x\"\n",
    "11:8: sla check \"s\": request name \"a\" is used twice in the mix"
)]
#[case::invalid_mix_name(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a{b}\"\nweight = 1\nget = \"/\"\n",
    "7:8: sla check \"s\": invalid request name \"a{b}\""
)]
#[case::no_weight(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nget = \"/\"\n",
    "6:1: missing field `weight`"
)]
#[case::zero_weight(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 0\nget = \"/\"\n",
    "8:10: sla check \"s\": weight = 0: give a whole number from 1 to 1000000"
)]
#[case::weights_too_fine(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1000000\nget = \"/\"\n[[sla.requests]]\nname = \"b\"\nweight = 999999\nget = \"/\"\n",
    "6:1: sla check \"s\": the weights of the mix add up to 1999999, over the 1000000 a mix may have: a share finer than one in a million is finer than any run; use coarser weights (60, 30, 10)"
)]
#[case::broken_mix_request(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\n",
    "6:1: sla check \"s\", request \"a\" has no request: add get"
)]
#[case::model_key_in_an_http_entry(
    "load = { users = 1, duration = \"2s\" }\n[[sla.requests]]\nname = \"a\"\nweight = 1\nprompt = \"p\"\n",
    "9:1: unknown key `prompt` in a request of an sla mix of an HTTP request (it belongs to a model request: add model = \"...\")"
)]
#[case::no_statistic(
    &format!("{USERS}thresholds = {{ latency = \"< 1s\" }}\n"),
    "7:16: sla check \"s\": latency varies from request to request: name a statistic of it, such as \"latency.p99\""
)]
#[case::median(
    &format!("{USERS}thresholds = {{ \"latency.median\" = \"< 1s\" }}\n"),
    "median is not taken under load (p50 is the median)"
)]
#[case::stddev(
    &format!("{USERS}thresholds = {{ \"latency.stddev\" = \"< 1s\" }}\n"),
    "stddev is not taken under load: an sla keeps each duration in a histogram, read as p50, p90, p95, p99, p99.9, min, max or mean"
)]
#[case::unknown_metric(
    &format!("{USERS}thresholds = {{ \"latncy.p99\" = \"< 1s\" }}\n"),
    "unknown metric \"latncy.p99\"; did you mean \"latency\"? in thresholds"
)]
#[case::run_figure_statistic(
    &format!("{USERS}thresholds = {{ \"throughput.p99\" = \"> 1\" }}\n"),
    "throughput is one figure of the whole run: write throughput = ..., without a statistic"
)]
#[case::wrong_unit(
    &format!("{USERS}thresholds = {{ throughput = \"> 1%\" }}\n"),
    "7:29: sla check \"s\": threshold \"> 1%\" does not fit throughput"
)]
#[case::ratio_without_percent(
    &format!("{USERS}thresholds = {{ error_rate = \"< 0.01\" }}\n"),
    "threshold \"< 0.01\" does not fit error_rate: it takes a percentage"
)]
#[case::http_ttft(
    &format!("{USERS}thresholds = {{ \"ttft.p95\" = \"< 1s\" }}\n"),
    "ttft is not measured under load for request \"s\" (an HTTP request); it measures latency, error_rate, throughput, goodput, late, dropped"
)]
#[case::tokens_of_embeddings(
    "model = \"m\"\ninput = \"a\"\nload = { users = 1, duration = \"2s\" }\nthresholds = { output_tokens_per_s = \"> 1\" }\n",
    "output_tokens_per_s is not measured under load for request \"s\" (an embeddings request)"
)]
#[case::itl_not_streamed(
    "model = \"m\"\nprompt = \"p\"\nstream = false\nload = { users = 1, duration = \"2s\" }\nthresholds = { \"itl.p99\" = \"< 1s\" }\n",
    "itl is not measured under load for request \"s\" (a generation not streamed)"
)]
#[case::unscoped_in_a_mix(
    &mix("thresholds = { \"ttft.p95\" = \"< 1s\" }\n"),
    "ttft is not measured under load for request \"search\" (an HTTP request); it measures latency, error_rate, throughput, goodput, late, dropped; scope the threshold to a request that measures it"
)]
#[case::unknown_scope(
    &mix("thresholds = { \"latency.p99{serch}\" = \"< 1s\" }\n"),
    "{serch}: no request of this check is named \"serch\"; did you mean \"search\"?; its requests: search, gen"
)]
#[case::scope_to_http(
    &mix("thresholds = { \"ttft.p99{search}\" = \"< 1s\" }\n"),
    "ttft is not measured under load for request \"search\" (an HTTP request); it measures latency"
)]
#[case::stage_out_of_range(
    &format!("{USERS}thresholds = {{ \"latency.p99@2\" = \"< 1s\" }}\n"),
    "7:16: sla check \"s\": @2: this load has 1 stage(s), numbered from 1"
)]
#[case::stage_zero(
    &format!("{USERS}thresholds = {{ \"latency.p99@0\" = \"< 1s\" }}\n"),
    "@0: this load has 1 stage(s)"
)]
#[case::stage_not_a_number(
    &format!("{USERS}thresholds = {{ \"latency.p99@x\" = \"< 1s\" }}\n"),
    "invalid stage in threshold \"latency.p99@x\": write @N"
)]
#[case::late_in_a_closed_loop(
    &format!("{USERS}thresholds = {{ late = \"== 0\" }}\n"),
    "late counts requests an open loop sent late or dropped, and this load is closed (users)"
)]
#[case::dropped_as_a_duration(
    &format!("{RATE}thresholds = {{ dropped = \"< 1s\" }}\n"),
    "does not fit dropped: it takes a plain number"
)]
#[case::goodput_without_slo(
    &format!("{GEN}thresholds = {{ goodput = \"> 95%\" }}\n"),
    "8:16: sla check \"s\": goodput is the share of requests that meet the slo"
)]
#[case::unknown_slo(
    &format!("{GEN}slo = {{ tfft = \"< 1s\" }}\n"),
    "8:9: sla check \"s\": unknown slo key `tfft`; did you mean `ttft`?; slo keys: ttft, tpot, itl, latency"
)]
#[case::slo_lower_bound(
    &format!("{GEN}slo = {{ ttft = \"> 1s\" }}\n"),
    "8:16: sla check \"s\": slo ttft is an upper bound on each request"
)]
#[case::slo_not_a_duration(
    &format!("{GEN}slo = {{ ttft = \"< 1\" }}\n"),
    "threshold \"< 1\" does not fit ttft: it takes a duration"
)]
#[case::slo_of_http(
    &format!("{USERS}slo = {{ latency = \"< 1s\" }}\n"),
    "7:9: sla check \"s\": slo applies to model requests, and request \"s\" is an HTTP request"
)]
#[case::slo_of_embeddings(
    "model = \"m\"\ninput = \"a\"\nload = { users = 1, duration = \"2s\" }\nslo = { ttft = \"< 1s\" }\n",
    "slo ttft is not measured for request \"s\" (an embeddings request)"
)]
#[case::per_request_threshold(
    &format!("{GEN}expect = {{ ttft = \"< 1s\" }}\n"),
    "8:12: sla check \"s\": a threshold on one request's ttft does not apply to an sla check"
)]
#[case::max_latency(
    &format!("{USERS}expect = {{ max_latency = \"1s\" }}\n"),
    "max_latency does not apply to an sla check"
)]
#[case::both_stream_modes(
    "model = \"m\"\nprompt = \"p\"\nstream = [true, false]\nload = { users = 1, duration = \"2s\" }\n",
    "stream takes one mode in an sla check"
)]
fn rejects(#[case] check: &str, #[case] message: &str) {
    let error = parse(check).expect_err("an error");
    assert!(error.contains(message), "{error}");
}

#[test]
fn every_problem_of_a_check_is_reported_in_file_order() {
    let error = parse(
        "get = \"/\"\nload = { users = 0, duration = \"2s\", arrival = \"poisson\" }\nthresholds = { latency = \"< 1s\", \"ttfb.p99\" = \"< 1s\" }\n",
    )
    .unwrap_err();
    let places: Vec<&str> = error
        .lines()
        .map(|line| line.split(": ").next().unwrap())
        .collect();
    assert_eq!(places, ["6:18", "6:48", "7:16", "7:34"], "{error}");
}

#[rstest]
#[case("sla = 1\n", "1:7: sla is an array of tables: write [[sla]]")]
#[case(
    "[sla]\nname = \"s\"\n",
    "1:1: sla is an array of tables: write [[sla]]"
)]
#[case(
    "[[sla]]\nname = \"s\"\nload = { users = 1, duration = \"1s\" }\nrequests = [1]\n",
    "4:13: a request of the mix is a table: write [[sla.requests]]"
)]
fn sla_checks_are_arrays_of_tables(#[case] body: &str, #[case] message: &str) {
    let text = format!("{body}[target]\nbase_url = \"http://127.0.0.1:1\"\n");
    let error = parse_scenario(&text, &|_: &str| None)
        .unwrap_err()
        .to_string();
    assert_eq!(error, message);
}

/// The README's example is a valid file, with the loads it says.
#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../../README.md");
    let section = readme.split("### `[[sla]]`").nth(1).unwrap();
    let example = section.split("```toml\n").nth(1).unwrap();
    let example = example.split("```").next().unwrap();
    let text = format!("[target]\nbase_url = \"http://127.0.0.1:1\"\n{example}");
    let doc = parse_scenario(&text, &|_: &str| None).unwrap();
    let stages: Vec<usize> = doc
        .sla
        .iter()
        .map(|check| check.get_ref().load().unwrap().stage_count())
        .collect();
    assert_eq!(stages, [1, 1, 2]);
    let ladder = doc.sla[2].get_ref();
    assert_eq!(ladder.mix().len(), 3);
    assert_eq!(ladder.thresholds().unwrap().len(), 3);
}

#[test]
fn sla_check_names_are_unique() {
    let text = format!("{HEAD}{USERS}[[sla]]\nname = \"s\"\n{USERS}");
    let error = parse_scenario(&text, &|_: &str| None)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("8:8: duplicate sla check name \"s\": also defined at 4:8"),
        "{error}"
    );
}
