//! `[[sla]]` end to end, through the harness binary: against an in-process server with a
//! fixed delay (whose figures are known in advance), and against a real nginx at a rate.

mod support;

use std::time::Duration;

use support::nginx::Nginx;
use support::run::{Run, Workspace, csv_rows};
use support::scripted::ScriptedServer;
use support::serial::serial;

const CASE: &str = "sla::x::ok";

/// The file `x.toml` of one sla check `ok` that GETs `/ok` of `url`, and its run.
fn run_check(url: &str, check: &str) -> (Workspace, Run) {
    let text = format!(
        "[target]\nbase_url = \"{url}\"\ntimeout = \"5s\"\n\n[[sla]]\nname = \"ok\"\nget = \"/ok\"\n{check}"
    );
    let ws = Workspace::new(&[("x.toml", &text)]);
    let run = ws.run(&[], &[]);
    (ws, run)
}

#[test]
fn a_closed_loop_on_a_fixed_delay_measures_it_and_writes_its_timeline_and_histograms() {
    let _serial = serial();
    let server = ScriptedServer::delayed(Duration::from_millis(20));
    let (ws, run) = run_check(
        &server.url(),
        "load = { users = 2, duration = \"2s\" }\nthresholds = { \"latency.p99\" = \"< 100ms\", error_rate = \"== 0%\" }\n",
    );
    run.assert_outcome(CASE, "ok");
    assert!(
        run.stderr
            .contains("perfcase: sla::x::ok: stage 1 of 1: 2 users for 2s"),
        "{}",
        run.explain()
    );
    // The server closes every connection: each request also connects anew (about a
    // millisecond on top of the delay).
    let p50 = run.figure(CASE, "latency.p50");
    assert!((0.020..0.022).contains(&p50), "p50 {p50}");
    let throughput = run.figure(CASE, "throughput");
    assert!((85.0..=115.0).contains(&throughput), "{throughput}/s");
    assert_eq!(run.figure(CASE, "error_rate"), 0.0);

    let timeline = ws.read_out("samples/sla__x__ok.timeline.csv");
    assert!(
        timeline
            .starts_with("second,stage,requests,errors,achieved_rate,p50_ms,p99_ms,in_flight\n"),
        "{timeline}"
    );
    let rows = csv_rows(&timeline);
    assert!((2..=3).contains(&rows.len()), "{timeline}");
    assert!(rows.iter().all(|r| r["stage"] == "1" && r["errors"] == "0"));
    let hlog = ws.read_out("samples/sla__x__ok.hlog");
    assert!(
        hlog.starts_with("#perfcase load: latencies in microseconds\n#[StartTime: "),
        "{hlog}"
    );
    assert!(hlog.contains("\nTag=stage-1,0.000,1.000,"), "{hlog}");
}

#[test]
fn a_threshold_that_fails_is_placed_where_it_is_written() {
    let _serial = serial();
    let server = ScriptedServer::delayed(Duration::from_millis(20));
    let (_ws, run) = run_check(
        &server.url(),
        "load = { users = 1, duration = \"1s\" }\nthresholds = { \"latency.p50\" = \"< 5ms\" }\n",
    );
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("x.toml:9:32: latency.p50: expected < 5ms, observed 2");
}

#[test]
fn an_open_loop_at_200_per_s_on_nginx_sends_every_request() {
    let _serial = serial();
    let nginx = Nginx::start(r#"location = /ok { return 200 '{"ok":true}'; }"#);
    let (ws, run) = run_check(
        &nginx.url(),
        "load = { rate = 200, duration = \"2s\" }\nthresholds = { error_rate = \"== 0%\", dropped = \"== 0\" }\n",
    );
    run.assert_outcome(CASE, "ok");
    let throughput = run.figure(CASE, "throughput");
    assert!((190.0..=210.0).contains(&throughput), "{throughput}/s");
    let rows = csv_rows(&ws.read_out("samples/sla__x__ok.timeline.csv"));
    let requests: u64 = rows
        .iter()
        .map(|r| r["requests"].parse::<u64>().unwrap())
        .sum();
    assert!((395..=400).contains(&requests), "{requests}");
    assert_eq!(run.figure(CASE, "dropped"), 0.0);
}
