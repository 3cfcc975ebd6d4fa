//! `[[baseline]]` end to end against servers whose timing is known: an in-process server
//! that answers after a fixed delay (no real server holds a delay on demand), for the
//! statistics, the regression gate, update modes, history and interruption; the real
//! llama-server cases are at the end of tests/llama.rs.

mod support;

use std::time::Duration;

use support::run::{Run, Workspace, csv_rows};
use support::scripted::{Route, ScriptedServer, Step, chunk, chunked_head, last_chunk, respond};
use support::serial::serial;

fn scenario(server: &ScriptedServer, check: &str) -> String {
    format!(
        "[target]\nbase_url = \"{}\"\ntimeout = \"5s\"\n\n[[baseline]]\nname = \"ok\"\nget = \"/ok\"\n{check}",
        server.url()
    )
}

/// A server whose every answer to `GET /ok` is a 500.
fn failing() -> ScriptedServer {
    ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/ok",
        steps: respond(500, "text/plain", "boom"),
    }])
}

const CASE: &str = "baseline::x::ok";

#[test]
fn statistics_of_a_fixed_delay_are_right_and_every_iteration_is_a_row() {
    let _serial = serial();
    let server = ScriptedServer::delayed(Duration::from_millis(20));
    let ws = Workspace::new(&[(
        "x.toml",
        &scenario(
            &server,
            "iterations = 12\nwarmup = 2\nthresholds = { \"latency.median\" = \"< 30ms\", \"latency.cov\" = \"< 20%\" }\nregression = { required = false }\n",
        ),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome(CASE, "ok");
    assert_eq!(server.requests().len(), 14, "2 warmup + 12 counted");
    // The server closes every connection, so each iteration also connects anew (a SYN, an
    // accept, a thread of the test server): about a millisecond on top of the delay.
    let median = run.figure(CASE, "latency.median");
    assert!((0.020..0.022).contains(&median), "median {median}");
    assert_eq!(run.figure(CASE, "latency.count"), 12.0);
    assert_eq!(run.figure(CASE, "error_rate"), 0.0);
    let samples = ws.read_out("samples/baseline__x__ok.csv");
    let rows = csv_rows(&samples);
    assert_eq!(rows.len(), 12, "{samples}");
    assert!(samples.starts_with("timestamp,iter,status,latency_ms,ttfb_ms,bytes,error\n"));
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["iter"], (i + 1).to_string());
        assert_eq!(row["status"], "200");
        let ms: f64 = row["latency_ms"].parse().unwrap();
        assert!((20.0..30.0).contains(&ms), "{row:?}");
    }
    // Without a stored baseline the comparison is reported as missing, never as passed.
    assert!(ws.read_out("summary.csv").contains(",missing,"));
    let report = ws.read_out("report.md");
    assert!(report.contains("GET /ok"), "{report}");
}

#[test]
fn failed_iterations_are_rows_and_fail_the_check_unless_an_error_rate_allows_them() {
    let _serial = serial();
    let server = failing();
    let ws = Workspace::new(&[(
        "x.toml",
        &scenario(
            &server,
            "iterations = 4\nwarmup = 0\nexpect = { status = 200 }\nregression = { required = false }\n",
        ),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("failed iterations: expected none (set an error_rate threshold to allow some), observed 4 of 4");
    let rows = csv_rows(&ws.read_out("samples/baseline__x__ok.csv"));
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "500" && r["error"].contains("status")),
        "{rows:?}"
    );
    assert_eq!(run.figure(CASE, "error_rate"), 1.0);

    let allowed = Workspace::new(&[(
        "x.toml",
        &scenario(
            &server,
            "iterations = 4\nwarmup = 0\nexpect = { status = 200 }\nthresholds = { error_rate = \"< 50%\" }\nregression = { required = false }\n",
        ),
    )]);
    let run = allowed.run(&[], &[]);
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("x.toml:11:29: error_rate: expected < 50%, observed 100%");
}

/// Runs the check against a server of `delay` with the stored baselines of `ws`.
fn run_with_delay(ws: &Workspace, delay: Duration, env: &[(&str, &str)]) -> Run {
    let server = ScriptedServer::delayed(delay);
    ws.write(
        "scenarios/x.toml",
        &scenario(
            &server,
            "iterations = 10\nwarmup = 1\nregression = { tolerance = \"10%\" }\n",
        ),
    );
    ws.run(&[], env)
}

#[test]
fn the_gate_passes_an_unchanged_server_and_catches_a_regression() {
    let _serial = serial();
    let ws = Workspace::new(&[]);
    let recorded = run_with_delay(
        &ws,
        Duration::from_millis(20),
        &[("PERFCASE_UPDATE", "always")],
    );
    recorded.assert_outcome(CASE, "ok");
    let stored = std::fs::read_to_string(ws.dir.path().join("baselines/x.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        json["checks"]["ok"]["samples"]["latency"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(json["checks"]["ok"]["against"]["api"], "http");

    // Five runs in a row of the same server: none regressed.
    for run in 0..5 {
        let again = run_with_delay(&ws, Duration::from_millis(20), &[("CI", "true")]);
        again.assert_outcome(CASE, "ok");
        let summary = csv_rows(&std::fs::read_to_string(again.out.join("summary.csv")).unwrap());
        assert_eq!(summary[0]["stored"], "compared", "run {run}");
        assert_ne!(summary[0]["verdict"], "regressed", "run {run}");
    }

    // The same server 50% slower: regressed, with stored vs measured and the tolerance,
    // placed at the check's regression table.
    let slower = run_with_delay(&ws, Duration::from_millis(30), &[("CI", "true")]);
    slower.assert_outcome(CASE, "FAILED");
    slower.assert_says("x.toml:10:14: latency against the stored baseline: expected median within 10% of the stored 2");
    slower.assert_says("regressed: median latency 3");
    slower.assert_says("beyond the 10% tolerance");
    let junit = std::fs::read_to_string(slower.out.join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"regression\""), "{junit}");
    assert!(
        std::fs::read_to_string(slower.out.join("report.md"))
            .unwrap()
            .contains("regressed")
    );

    // Faster: passes, and says so.
    let faster = run_with_delay(&ws, Duration::from_millis(10), &[("CI", "true")]);
    faster.assert_outcome(CASE, "ok");
    let summary = csv_rows(&std::fs::read_to_string(faster.out.join("summary.csv")).unwrap());
    assert_eq!(summary[0]["verdict"], "improved");

    // Eight runs (the recording, five unchanged, slower, faster), eight history rows.
    let history = csv_rows(&std::fs::read_to_string(faster.out.join("history.csv")).unwrap());
    assert_eq!(history.len(), 8, "{history:?}");
    assert_eq!(history[6]["verdict"], "regressed");
}

#[test]
fn update_modes_write_what_they_should() {
    let _serial = serial();
    let ws = Workspace::new(&[]);
    let stored = ws.dir.path().join("baselines/x.json");
    let new = ws.dir.path().join("baselines/x.json.new");
    // Under CI, by default: nothing written, and a missing required baseline fails.
    let ci = run_with_delay(&ws, Duration::from_millis(5), &[("CI", "true")]);
    ci.assert_outcome(CASE, "FAILED");
    ci.assert_says("stored baseline: expected an entry \"ok\" in baselines/x.json, observed none");
    let junit = std::fs::read_to_string(ci.out.join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"baseline\""), "{junit}");
    assert!(!stored.exists() && !new.exists());

    // Elsewhere, by default: `new`, a file for review beside the stored one.
    let local = run_with_delay(&ws, Duration::from_millis(5), &[]);
    local.assert_outcome(CASE, "ok");
    assert!(new.exists() && !stored.exists());

    // `always`: in place; another check's entry in the file is kept.
    std::fs::rename(&new, &stored).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    let entry = json["checks"]["ok"].clone();
    json["checks"]["other"] = entry;
    std::fs::write(&stored, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let always = run_with_delay(
        &ws,
        Duration::from_millis(5),
        &[("PERFCASE_UPDATE", "always")],
    );
    always.assert_outcome(CASE, "ok");
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert!(after["checks"]["other"].is_object(), "{after}");
    assert_ne!(
        after["checks"]["ok"]["recorded_at"],
        serde_json::Value::Null
    );

    // `no`: nothing; a bad value is an error that names the accepted ones.
    let before = std::fs::read(&stored).unwrap();
    run_with_delay(&ws, Duration::from_millis(5), &[("PERFCASE_UPDATE", "no")])
        .assert_outcome(CASE, "ok");
    assert_eq!(std::fs::read(&stored).unwrap(), before);
    let bad = run_with_delay(&ws, Duration::from_millis(5), &[("PERFCASE_UPDATE", "yes")]);
    bad.assert_outcome(CASE, "FAILED");
    bad.assert_says("yes");
}

#[test]
fn a_history_with_another_header_is_refused_and_left_as_it_was() {
    let _serial = serial();
    let ws = Workspace::new(&[]);
    let foreign = "when,what\n1,2\n";
    ws.write("out/history.csv", foreign);
    let run = run_with_delay(&ws, Duration::from_millis(5), &[("PERFCASE_UPDATE", "no")]);
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("history.csv");
    assert_eq!(
        std::fs::read_to_string(ws.out().join("history.csv")).unwrap(),
        foreign
    );
}

#[test]
fn an_interrupted_run_leaves_the_stored_baseline_untouched() {
    let _serial = serial();
    let ws = Workspace::new(&[]);
    let recorded = run_with_delay(
        &ws,
        Duration::from_millis(5),
        &[("PERFCASE_UPDATE", "always")],
    );
    recorded.assert_outcome(CASE, "ok");
    let stored = ws.dir.path().join("baselines/x.json");
    let before = std::fs::read(&stored).unwrap();
    let server = ScriptedServer::delayed(Duration::from_millis(5));
    ws.write(
        "scenarios/x.toml",
        &scenario(&server, "iterations = 50\nwarmup = 0\npause = \"200ms\"\n"),
    );
    let harness = ws
        .command(&[], &[("PERFCASE_UPDATE", "always")])
        .spawn()
        .unwrap();
    let mut harness = support::process::Guard::new(harness);
    let started =
        support::process::wait_until(Duration::from_secs(20), || server.requests().len() >= 3);
    assert!(started.is_some(), "{}", ws.output());
    harness.signal(libc::SIGINT);
    assert!(
        harness.wait(Duration::from_secs(20)).is_some(),
        "{}",
        ws.output()
    );
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        before,
        "the stored baseline changed"
    );
    assert!(!ws.dir.path().join("baselines/x.json.new").exists());
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("type=\"unfinished\""), "{junit}");
}

#[test]
fn a_baseline_overlaps_no_other_case() {
    let _serial = serial();
    let measured = ScriptedServer::delayed(Duration::from_millis(30));
    let other = ScriptedServer::delayed(Duration::from_millis(60));
    let smoke: String = (0..6)
        .map(|i| format!("[[smoke]]\nname = \"s{i}\"\nget = \"/ok\"\n"))
        .collect();
    let ws = Workspace::new(&[
        (
            "a.toml",
            &format!(
                "[target]\nbase_url = \"{}\"\n[[baseline]]\nname = \"b\"\nget = \"/ok\"\niterations = 8\nwarmup = 0\nregression = {{ required = false }}\n",
                measured.url()
            ),
        ),
        (
            "b.toml",
            &format!("[target]\nbase_url = \"{}\"\n{smoke}", other.url()),
        ),
    ]);
    let run = ws.run(&["--test-threads", "4"], &[]);
    run.assert_outcome("baseline::a::b", "ok");
    // Each request is in service from its arrival until its delay has passed.
    let busy =
        |server: &ScriptedServer, delay: u64| -> Vec<(std::time::Instant, std::time::Instant)> {
            server
                .requests()
                .iter()
                .map(|r| (r.received_at, r.received_at + Duration::from_millis(delay)))
                .collect()
        };
    let baseline = busy(&measured, 30);
    let (start, end) = (baseline[0].0, baseline[baseline.len() - 1].1);
    let smoke = busy(&other, 60);
    assert_eq!(smoke.len(), 6);
    for (arrived, served) in smoke {
        assert!(
            served <= start || arrived >= end,
            "a smoke request was in service while the baseline ran"
        );
    }
}

/// Ollama's wire format replayed at a known pace (Ollama cannot run here): the first token
/// 100 ms after the request, three more 20 ms apart, and the server's own durations.
fn ollama_paced() -> ScriptedServer {
    let line = |text: &str| Step::Write(chunk(format!("{text}\n").as_bytes()));
    let mut generate = vec![Step::Write(chunked_head(200, "application/x-ndjson"))];
    for (i, token) in ["Bridges", " are", " old", "."].iter().enumerate() {
        generate.push(Step::Sleep(Duration::from_millis(if i == 0 {
            100
        } else {
            20
        })));
        generate.push(line(&format!(
            r#"{{"model":"phi3:latest","response":"{token}","done":false}}"#
        )));
    }
    generate.push(line(r#"{"model":"phi3:latest","response":"","done":true,"done_reason":"length","total_duration":200000000,"load_duration":1000000,"prompt_eval_count":12,"prompt_eval_duration":80000000,"eval_count":4,"eval_duration":60000000}"#));
    generate.push(Step::Write(last_chunk()));
    generate.push(Step::Close);
    ScriptedServer::start(vec![
        Route {
            method: "GET",
            path: "/api/tags",
            steps: respond(
                200,
                "application/json",
                r#"{"models":[{"name":"phi3:latest","model":"phi3:latest","digest":"4f2222927938"}]}"#,
            ),
        },
        Route {
            method: "GET",
            path: "/api/version",
            steps: respond(200, "application/json", r#"{"version":"0.5.7"}"#),
        },
        Route {
            method: "POST",
            path: "/api/generate",
            steps: generate,
        },
    ])
}

#[test]
fn an_ollama_throughput_baseline_keeps_the_servers_durations_and_what_it_ran_against() {
    let _serial = serial();
    let server = ollama_paced();
    let ws = Workspace::new(&[(
        "ollama.toml",
        &format!(
            "[target]\nbase_url = \"{}\"\napi = \"ollama\"\n\n[[baseline]]\nname = \"throughput_phi3\"\nmodel = \"phi3:latest\"\nprompt = \"p\"\niterations = 5\nwarmup = 0\nthresholds = {{ \"ttft.median\" = \"< 150ms\" }}\n",
            server.url()
        ),
    )]);
    let run = ws.run(&[], &[("PERFCASE_UPDATE", "always")]);
    let case = "baseline::ollama::throughput_phi3";
    run.assert_outcome(case, "ok");
    let ttft = run.figure(case, "ttft.median");
    assert!((0.100..0.110).contains(&ttft), "ttft {ttft}");
    // (4 - 1) tokens over the 60 ms from the first token to the last.
    let rate = run.figure(case, "tokens_per_s.median");
    assert!((45.0..50.5).contains(&rate), "tokens/s {rate}");
    let server_rate = run.figure(case, "server_tokens_per_s.median");
    assert!((server_rate - 4.0 / 0.060).abs() < 1e-6, "{server_rate}");
    let rows = csv_rows(&ws.read_out("samples/baseline__ollama__throughput_5fphi3.csv"));
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert_eq!(
            (
                row["model"].as_str(),
                row["prompt_tokens"].as_str(),
                row["prompt_eval_ms"].as_str()
            ),
            ("phi3:latest", "12", "80.000")
        );
        assert_eq!(
            (row["gen_tokens"].as_str(), row["gen_eval_ms"].as_str()),
            ("4", "60.000")
        );
        assert_eq!(row["gen_tokens_source"], "ollama.eval_count");
    }
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.dir.path().join("baselines/ollama.json")).unwrap(),
    )
    .unwrap();
    let against = &stored["checks"]["throughput_phi3"]["against"];
    assert_eq!(against["server_version"], "0.5.7");
    assert_eq!(against["model_digest"], "4f2222927938");
    assert_eq!(against["api"], "ollama");
}

#[test]
fn max_duration_bounds_the_check_even_inside_a_request() {
    let _serial = serial();
    let server = ScriptedServer::delayed(Duration::from_secs(3));
    let ws = Workspace::new(&[(
        "x.toml",
        &scenario(
            &server,
            "iterations = 3\nwarmup = 0\nmax_duration = \"1s\"\nregression = { required = false }\n",
        ),
    )]);
    let started = std::time::Instant::now();
    let run = ws.run(&[], &[]);
    let took = started.elapsed();
    run.assert_outcome(CASE, "FAILED");
    run.assert_says(
        "iterations: expected 3 within max_duration 1s, observed 0 ran before the time was up",
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    // The request cut off is no row: it measured the deadline, not the server.
    assert_eq!(
        csv_rows(&ws.read_out("samples/baseline__x__ok.csv")).len(),
        0
    );
}

#[test]
fn a_baseline_that_measured_nothing_is_still_in_history_summary_and_report() {
    let _serial = serial();
    // Nothing listens on port 1.
    let ws = Workspace::new(&[(
        "x.toml",
        "[target]\nbase_url = \"http://127.0.0.1:1\"\napi = \"openai\"\n[[baseline]]\nname = \"ok\"\nmodel = \"m\"\nprompt = \"p\"\n",
    )]);
    let run = ws.run(&[], &[("CI", "true")]);
    run.assert_outcome(CASE, "FAILED");
    let history = csv_rows(&ws.read_out("history.csv"));
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0]["status"].as_str(),
            history[0]["verdict"].as_str(),
            history[0]["error_rate"].as_str()
        ),
        ("error", "not measured", "")
    );
    let summary = csv_rows(&ws.read_out("summary.csv"));
    assert_eq!(
        (summary[0]["name"].as_str(), summary[0]["stored"].as_str()),
        (CASE, "not measured")
    );
    let report = ws.read_out("report.md");
    assert!(
        report.contains("1 baseline cases: 0 passed, 0 failed, 1 errors"),
        "{report}"
    );
    assert!(report.contains("- x::ok: error (request)"), "{report}");
}

#[test]
fn a_stored_entry_without_a_compared_metric_is_missing_not_passed() {
    let _serial = serial();
    let ws = Workspace::new(&[]);
    run_with_delay(
        &ws,
        Duration::from_millis(5),
        &[("PERFCASE_UPDATE", "always")],
    )
    .assert_outcome(CASE, "ok");
    let stored = ws.dir.path().join("baselines/x.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    json["checks"]["ok"]["samples"]
        .as_object_mut()
        .unwrap()
        .remove("latency");
    std::fs::write(&stored, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let run = run_with_delay(&ws, Duration::from_millis(5), &[("CI", "true")]);
    run.assert_outcome(CASE, "FAILED");
    run.assert_says(
        "stored baseline of latency: expected values of latency in the stored entry, observed none",
    );
    let summary = csv_rows(&std::fs::read_to_string(run.out.join("summary.csv")).unwrap());
    assert_eq!(summary[0]["stored"], "missing");
}

#[test]
fn a_run_whose_iterations_failed_is_not_recorded() {
    let _serial = serial();
    let server = failing();
    let ws = Workspace::new(&[(
        "x.toml",
        &scenario(
            &server,
            "iterations = 3\nwarmup = 0\nexpect = { status = 200 }\n",
        ),
    )]);
    let run = ws.run(&[], &[("PERFCASE_UPDATE", "always")]);
    run.assert_outcome(CASE, "FAILED");
    assert!(!ws.dir.path().join("baselines/x.json").exists());
}
