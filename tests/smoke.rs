//! Smoke checks against a real nginx: passing and failing expectations, JSON Schema,
//! artifacts read by real consumers, secrets redacted, transport errors named. An
//! in-process scripted server stands in only for a slow first byte and a reset connection,
//! which nginx does not produce on demand.

mod support;

use std::time::{Duration, Instant};

use support::nginx::Nginx;
use support::run::Workspace;
use support::scripted::{Route, ScriptedServer, Step, head};

const LOCATIONS: &str = r#"
location = /api/version { default_type application/json; return 200 '{"version":"0.5.7"}'; }
location = /api/tags { default_type application/json; return 200 '{"models":[{"name":"phi3:latest","model":"phi3:latest","size":1,"digest":"x"},{"name":"bad"}]}'; }
location = / { return 200 'Ollama is running'; }
location = /echo { return 200 "$http_authorization"; }
location = /down { return 503 'maintenance'; }
"#;

fn scenario(base_url: &str, extra_target: &str, checks: &str) -> String {
    format!("[target]\nbase_url = \"{base_url}\"\n{extra_target}\n{checks}")
}

#[test]
fn passing_and_failing_checks_reach_junit_csv_and_the_summary() {
    let nginx = Nginx::start(LOCATIONS);
    let checks = r#"
[[smoke]]
name = "root"
get = "/"
expect = { status = 200, body_contains = "Ollama is running" }

[[smoke]]
name = "version"
get = "/api/version"
expect = { status = 200, json_schema = "schemas/version.json", max_latency = "2s", json = { "/version" = { regex = "^0\\." } } }

[[smoke]]
name = "tags"
get = "/api/tags"
expect = { json_schema = { type = "object", properties = { models = { type = "array", items = { required = ["name", "size"] } } } } }

[[smoke]]
name = "down"
get = "/down"
expect = { status = [200, 204] }
"#;
    let ws = Workspace::new(&[("node.toml", &scenario(&nginx.url(), "", checks))]);
    ws.write(
        "scenarios/schemas/version.json",
        r#"{"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}}"#,
    );
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 101, "{}", run.explain());
    run.assert_outcome("smoke::node::root", "ok");
    run.assert_outcome("smoke::node::version", "ok");
    assert_eq!(run.outcome("smoke::node::tags").as_deref(), Some("FAILED"));
    assert_eq!(run.outcome("smoke::node::down").as_deref(), Some("FAILED"));
    run.assert_says(
        "json schema at /models/1: expected valid, observed \"size\" is a required property",
    );
    run.assert_says("status: expected 200 or 204, observed 503");

    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains("<testsuite id=\"0\" name=\"smoke::node\""),
        "{junit}"
    );
    assert!(
        junit.contains("<failure type=\"schema\" message=\"GET "),
        "{junit}"
    );
    assert!(
        junit.contains("<failure type=\"status\" message=\"GET "),
        "{junit}"
    );
    let file = ws.scenarios().join("node.toml").display().to_string();
    assert!(
        run.stdout.lines().any(|l| l.contains(&format!("{file}:"))
            && l.contains("status: expected 200 or 204, observed 503")),
        "the violated status is placed at file:line:col\n{}",
        run.explain()
    );
    assert!(junit.contains(&format!(
        "file=\"{}\"",
        ws.scenarios().join("node.toml").display()
    )));
    assert!(
        junit.contains("http_status = 200"),
        "key figures go to system-out: {junit}"
    );

    let csv_text = ws.read_out("results.csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let fixed: Vec<&str> = headers.iter().take(8).collect();
    assert_eq!(
        fixed,
        [
            "timestamp",
            "name",
            "kind",
            "scenario",
            "check",
            "status",
            "duration_s",
            "message"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    let status_col = headers.iter().position(|h| h == "http_status").unwrap();
    let down = rows.iter().find(|r| &r[1] == "smoke::node::down").unwrap();
    assert_eq!((&down[5], &down[status_col]), ("failed", "503"));
    assert!(
        ws.read_out("summary.md")
            .contains("4 cases: 2 passed, 2 failed, 0 errors, 0 skipped")
    );
}

#[test]
fn junit_is_read_cleanly_by_junitparser() {
    let nginx = Nginx::start(LOCATIONS);
    let checks =
        "[[smoke]]\nname = \"ok\"\nget = \"/\"\n[[smoke]]\nname = \"bad\"\nget = \"/down\"\n";
    let optional = "[target]\nbase_url = \"http://127.0.0.1:9\"\nenabled_if = \"UNSET_FOR_TEST\"\n[[smoke]]\nname = \"x\"\nget = \"/\"\n";
    let broken = "[target]\nbase_url = 5\n";
    let ws = Workspace::new(&[
        ("node.toml", &scenario(&nginx.url(), "", checks)),
        ("optional.toml", optional),
        ("broken.toml", broken),
    ]);
    ws.run(&[], &[]);
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    for case in suite:
        kind = "passed"
        for result in case.result:
            kind = {Failure: "failure", Error: "error", Skipped: "skipped"}[type(result)]
        print(f"{case.classname}|{case.name}|{kind}|{case.time > 0 or kind == 'skipped'}")
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(ws.out().join("junit.xml"))
        .output()
        .expect("python3 is needed to read JUnit with junitparser");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "junitparser failed (install it with bash ci/setup-dev.sh): {stderr}"
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "load|broken|error|True",
            "smoke::node|bad|failure|True",
            "smoke::node|ok|passed|True",
            "smoke::optional|x|skipped|True",
        ]
    );
}

#[test]
fn secret_headers_never_reach_an_artifact_or_the_output() {
    let nginx = Nginx::start(LOCATIONS);
    let secret = "sk-live-7f3a9c1e5b";
    let target = "headers = { Authorization = \"Bearer ${TEST_API_KEY}\" }";
    // The server echoes the header; the failing expectation quotes the body.
    let checks =
        "[[smoke]]\nname = \"echo\"\nget = \"/echo\"\nexpect = { body_equals = \"nope\" }\n";
    let ws = Workspace::new(&[("node.toml", &scenario(&nginx.url(), target, checks))]);
    let run = ws.run(&[], &[("TEST_API_KEY", secret)]);
    run.assert_outcome("smoke::node::echo", "FAILED");
    assert!(
        run.stdout.contains("observed \"[REDACTED]\""),
        "the echo is masked: {}",
        run.explain()
    );
    assert_nothing_leaks(&ws, &run, &[secret]);
}

/// Asserts that neither the run's output nor any file it wrote holds any of `secrets`.
#[track_caller]
fn assert_nothing_leaks(ws: &Workspace, run: &support::run::Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "the output leaks {secret:?}: {}",
            run.explain()
        );
        for entry in walk(&ws.out()) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(
                !text.contains(secret),
                "{} leaks {secret:?}:\n{text}",
                entry.display()
            );
        }
    }
}

/// The Basic auth a URL's credentials become, the credential-like query parameters of
/// `base_url` and of a check: a server that echoes them (nginx, from the request it got)
/// has them masked in every artifact, also where the quoted body is cut in the middle.
#[test]
fn url_credentials_and_query_secrets_never_reach_an_artifact_or_the_output() {
    let echo = "$http_authorization $args";
    let nginx = Nginx::start(&format!(
        "location = /echo {{ return 200 \"{echo}\"; }}\n\
         location = /padded {{ return 200 \"{} {echo}\"; }}\n",
        "x".repeat(290)
    ));
    let (password, decoded) = ("pw%40-7f3a9c1e", "pw@-7f3a9c1e");
    let basic = "cGVyZjpwd0AtN2YzYTljMWU="; // base64 of perf:pw@-7f3a9c1e
    let (base_token, api_key) = ("bt-5d4c3b2a19", "ak-0f1e2d3c4b");
    let base_url = nginx
        .url()
        .replace("http://", &format!("http://perf:{password}@"))
        + &format!("/?token={base_token}");
    let checks = "[[smoke]]\nname = \"echo\"\nget = \"/echo\"\nquery = { api_key = \"${TEST_API_KEY}\" }\n\
         expect = { body_equals = \"nope\" }\n\
         [[smoke]]\nname = \"padded\"\nget = \"/padded\"\nquery = { API_KEY = \"${TEST_API_KEY}\" }\n\
         expect = { body_equals = \"nope\" }\n";
    let ws = Workspace::new(&[("node.toml", &scenario(&base_url, "", checks))]);
    let run = ws.run(&[], &[("TEST_API_KEY", api_key)]);
    run.assert_outcome("smoke::node::echo", "FAILED");
    run.assert_outcome("smoke::node::padded", "FAILED");
    run.assert_says("observed \"Basic [REDACTED] token=[REDACTED]&api_key=[REDACTED]\"");
    // Masked before the cut: the base64 would have shown its first three characters.
    run.assert_says(&format!("observed \"{} Basic [RE… (", "x".repeat(290)));
    let summary = ws.read_out("summary.md");
    assert!(
        summary.contains("Basic [REDACTED] token=[REDACTED]"),
        "{summary}"
    );
    assert_nothing_leaks(
        &ws,
        &run,
        &[password, decoded, basic, &basic[..4], base_token, api_key],
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    assert!(!files.is_empty() || dir.ends_with("targets"));
    files
}

#[test]
fn tls_to_a_plain_http_port_is_an_error_naming_tls() {
    let nginx = Nginx::start(LOCATIONS);
    let url = format!("https://127.0.0.1:{}", nginx.port());
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(&url, "", "[[smoke]]\nname = \"up\"\nget = \"/\"\n"),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::node::up", "FAILED");
    run.assert_says(&format!("TLS handshake with {url}/ failed"));
}

#[test]
fn an_unresolvable_host_is_a_dns_error() {
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(
            "http://perfcase-test.invalid",
            "connect_timeout = \"2s\"",
            "[[smoke]]\nname = \"up\"\nget = \"/\"\n",
        ),
    )]);
    let started = Instant::now();
    let run = ws.run(&[], &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.explain()
    );
    run.assert_says("cannot resolve the host of http://perfcase-test.invalid/");
}

#[test]
fn a_slow_first_byte_times_out_with_the_timeout_in_the_message() {
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/slow",
        steps: vec![
            Step::Sleep(Duration::from_secs(20)),
            Step::Write(head(200, "text/plain", &[])),
        ],
    }]);
    let checks = "[[smoke]]\nname = \"slow\"\nget = \"/slow\"\ntimeout = \"500ms\"\n";
    let ws = Workspace::new(&[("node.toml", &scenario(&server.url(), "", checks))]);
    let started = Instant::now();
    let run = ws.run(&[], &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.explain()
    );
    run.assert_says(&format!(
        "{}/slow did not answer within 500ms",
        server.url()
    ));
    assert!(ws.read_out("junit.xml").contains("<error type=\"request\""));
}

#[test]
fn a_reset_connection_is_an_error_not_a_hang() {
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/reset",
        steps: vec![Step::Reset],
    }]);
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(
            &server.url(),
            "",
            "[[smoke]]\nname = \"r\"\nget = \"/reset\"\n",
        ),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::node::r", "FAILED");
    run.assert_says(&format!("{}/reset reset the connection", server.url()));
}

#[test]
fn requests_carry_method_query_headers_and_json_body() {
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/search",
        steps: support::scripted::respond(200, "application/json", "{\"hits\": [1, 2]}"),
    }]);
    let checks = r#"
[[smoke]]
name = "search"
post = "/search"
query = { k = "2" }
headers = { X-Tenant = "blue" }
json = { q = "hello" }
expect = { json = { "/hits" = { min_len = 2 } } }
"#;
    let ws = Workspace::new(&[("node.toml", &scenario(&server.url(), "", checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::node::search", "ok");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/search?k=2");
    assert_eq!(request.header("x-tenant"), Some("blue"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body_text(), "{\"q\":\"hello\"}");
}

#[test]
fn an_interrupted_run_still_writes_the_cases_that_finished() {
    let server = ScriptedServer::start(vec![
        Route {
            method: "GET",
            path: "/fast",
            steps: support::scripted::respond(200, "text/plain", "ok"),
        },
        Route {
            method: "GET",
            path: "/slow",
            steps: vec![Step::Sleep(Duration::from_secs(30))],
        },
    ]);
    let checks = "[[smoke]]\nname = \"fast\"\nget = \"/fast\"\n[[smoke]]\nname = \"slow\"\nget = \"/slow\"\n";
    let ws = Workspace::new(&[("node.toml", &scenario(&server.url(), "", checks))]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_perfcase"))
        .args(["--test-threads", "1"])
        .env("PERFCASE_SCENARIOS", ws.scenarios())
        .env("PERFCASE_OUT", ws.out())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.requests().iter().any(|r| r.path == "/slow") {
        assert!(Instant::now() < deadline, "the slow check never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<testcase name=\"fast\""), "{junit}");
    assert!(
        junit.contains("<testcase name=\"slow\"")
            && junit.contains("not finished: the run was interrupted"),
        "the case cut short is an error, so the run does not read as green: {junit}"
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A real server as a managed target (Python's http.server), with `checks` smoke checks.
fn python_server(port: u16, checks: usize, extra_target: &str, command_prefix: &str) -> String {
    let mut text = format!(
        "[target]\nbase_url = \"http://127.0.0.1:{port}\"\n{extra_target}\n[target.spawn]\ncommand = \"{command_prefix}python3 -m http.server {port} --bind 127.0.0.1\"\nready_timeout = \"20s\"\n"
    );
    for i in 1..=checks {
        text.push_str(&format!(
            "[[smoke]]\nname = \"c{i}\"\nget = \"/\"\nexpect = {{ status = 200, body_contains = \"Directory listing\" }}\n"
        ));
    }
    text
}

#[test]
fn a_managed_target_is_stopped_after_its_last_check_before_the_next_scenario() {
    let port = free_port();
    // The next scenario looks at the same port, where nothing must listen any more.
    let after = format!(
        "[target]\nbase_url = \"http://127.0.0.1:{port}\"\n[[smoke]]\nname = \"gone\"\nget = \"/\"\n"
    );
    let ws = Workspace::new(&[
        ("a.toml", &python_server(port, 4, "", "")),
        ("b.toml", &after),
    ]);
    // Checks running in parallel all find the server up: it is not stopped early.
    let run = ws.run(&["--test-threads", "2", "smoke::a::"], &[]);
    for check in ["c1", "c2", "c3", "c4"] {
        run.assert_outcome(&format!("smoke::a::{check}"), "ok");
    }
    // With one check skipped, the server still stops after the last one that runs.
    let run = ws.run(&["--test-threads", "1", "--skip", "smoke::a::c4"], &[]);
    run.assert_outcome("smoke::a::c3", "ok");
    run.assert_outcome("smoke::b::gone", "FAILED");
    run.assert_says(&format!("connection refused by http://127.0.0.1:{port}/"));
    assert!(ws.out().join("targets/a.log").exists());
}

#[test]
fn secrets_are_masked_in_a_managed_target_log() {
    let port = free_port();
    let secret = "sk-live-9b8a7c6d5e";
    // The server's command prints the secret, as a verbose server may print a header.
    let text = python_server(
        port,
        1,
        "headers = { Authorization = \"Bearer ${TEST_API_KEY}\" }",
        "sh -c 'echo token=${TEST_API_KEY}; exec ",
    )
    .replace("--bind 127.0.0.1\"", "--bind 127.0.0.1'\"");
    let ws = Workspace::new(&[("a.toml", &text)]);
    let run = ws.run(&[], &[("TEST_API_KEY", secret)]);
    run.assert_outcome("smoke::a::c1", "ok");
    let log = ws.read_out("targets/a.log");
    assert!(log.contains("token=[REDACTED]"), "{log}");
    assert!(!log.contains(secret), "{log}");
}

/// A managed target prints a value of its spawn environment and a declared secret, then
/// fails to start: the last lines of its log, quoted by every case of the target, are
/// masked in the log itself and in every artifact.
#[test]
fn a_managed_target_that_fails_to_start_quotes_its_log_masked() {
    let (spawn_token, declared) = ("hf-4e5d6c7b8a", "dk-9a8b7c6d5e");
    let text = format!(
        "[target]\nbase_url = \"http://127.0.0.1:{port}\"\nsecrets = [\"TEST_DECLARED\"]\n\
         [target.spawn]\ncommand = \"echo starting with $SPAWN_TOKEN and $TEST_DECLARED; exit 3\"\n\
         env = {{ SPAWN_TOKEN = \"{spawn_token}\" }}\nready_timeout = \"10s\"\n\
         [[smoke]]\nname = \"up\"\nget = \"/\"\n",
        port = free_port()
    );
    let ws = Workspace::new(&[("a.toml", &text)]);
    let run = ws.run(&[], &[("TEST_DECLARED", declared)]);
    run.assert_outcome("smoke::a::up", "FAILED");
    run.assert_says("starting with [REDACTED] and [REDACTED]");
    for artifact in ["junit.xml", "results.csv", "summary.md", "targets/a.log"] {
        let text = ws.read_out(artifact);
        assert!(
            text.contains("starting with [REDACTED] and [REDACTED]"),
            "{artifact}: {text}"
        );
    }
    assert_nothing_leaks(&ws, &run, &[spawn_token, declared]);
}

/// The command is a shell command line, as the README says: `cd` and `export` work, and
/// the stop ends the server that `sh` started, not only the `sh`.
#[test]
fn a_spawn_command_is_run_by_sh() {
    let port = free_port();
    let ws = Workspace::new(&[]);
    ws.write("site/marker.txt", "served from site/, with X=1");
    let mut text = python_server(port, 0, "", "cd site && export X=1; echo x=$X > x.txt; ");
    text.push_str(
        "[[smoke]]\nname = \"cd\"\nget = \"/marker.txt\"\nexpect = { body_contains = \"served from site/\" }\n\
         [[smoke]]\nname = \"export\"\nget = \"/x.txt\"\nexpect = { body_equals = \"x=1\\n\" }\n",
    );
    ws.write("scenarios/a.toml", &text);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    run.assert_outcome("smoke::a::cd", "ok");
    run.assert_outcome("smoke::a::export", "ok");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server `sh` started is stopped with it"
    );
}

#[test]
fn a_run_whose_output_is_cut_still_writes_its_artifacts() {
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/",
        steps: support::scripted::respond(200, "text/plain", "ok"),
    }]);
    let mut checks = String::new();
    for i in 0..50 {
        checks.push_str(&format!("[[smoke]]\nname = \"c{i}\"\nget = \"/\"\n"));
    }
    let ws = Workspace::new(&[("node.toml", &scenario(&server.url(), "", &checks))]);
    // Like `cargo test --test perf | head -1`: the reader goes away, printing fails.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_perfcase"))
        .env("PERFCASE_SCENARIOS", ws.scenarios())
        .env("PERFCASE_OUT", ws.out())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(101));
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<testsuite id=\"0\" name=\"smoke::node\" package=\"testsuite/smoke::node\" tests=\"50\""), "{junit}");
}

/// A raw keep-alive server for the one behaviour neither nginx nor the scripted server
/// gives: closing a kept-alive connection as the next request arrives on it. Each entry of
/// `plan` is how to treat one request, in order: `true` answers it, `false` closes the
/// connection without an answer after `close_after`. Stops when the plan is done or after
/// 10 s, and returns the paths it was asked for.
fn keep_alive_server(
    plan: Vec<bool>,
    close_after: Duration,
) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        let mut plan = plan.into_iter().peekable();
        while plan.peek().is_some() && Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            // One connection: requests until the plan says close (or the client does).
            while let Some(&answer) = plan.peek() {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                seen.push(
                    request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_string(),
                );
                plan.next();
                if !answer {
                    std::thread::sleep(close_after);
                    break;
                }
                writer
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .unwrap();
            }
        }
        seen
    });
    (port, handle)
}

#[test]
fn a_kept_alive_connection_closed_under_a_request_is_resent_once_on_a_new_one() {
    // /a is answered and the connection kept; /b arrives on it and the server closes it at
    // once, as llama.cpp does with idle connections; the resent /b is answered.
    let (port, server) = keep_alive_server(vec![true, false, true], Duration::ZERO);
    let checks = "[[smoke]]\nname = \"a\"\nget = \"/a\"\n[[smoke]]\nname = \"b\"\nget = \"/b\"\n";
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(&format!("http://127.0.0.1:{port}"), "", checks),
    )]);
    let run = ws.run(&["--test-threads", "1"], &[]);
    run.assert_outcome("smoke::node::a", "ok");
    run.assert_outcome("smoke::node::b", "ok");
    assert_eq!(server.join().unwrap(), ["/a", "/b", "/b"]);
}

#[test]
fn a_server_that_drops_a_request_it_worked_on_is_reported_not_resent() {
    // The connection closes 300 ms after the request, as when a server crashes on it.
    let (port, server) = keep_alive_server(vec![false], Duration::from_millis(300));
    let checks = "[[smoke]]\nname = \"a\"\npost = \"/a\"\njson = { q = 1 }\n";
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(&format!("http://127.0.0.1:{port}"), "", checks),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::node::a", "FAILED");
    run.assert_says("connection closed before message completed");
    assert_eq!(server.join().unwrap(), ["/a"]);
}

/// A port whose accept queue is full: the kernel drops further SYNs, so a connect hangs as
/// it does against a host that is down or firewalled, the one way to get that on loopback.
fn full_backlog_port() -> (u16, std::net::TcpStream, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; sockaddr_in is
    // zero-initialised and filled in before bind and getsockname read it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        let mut bound_len = len;
        libc::getsockname(
            fd,
            &mut addr as *mut _ as *mut libc::sockaddr,
            &mut bound_len,
        );
        let port = u16::from_be(addr.sin_port);
        let listener = std::os::fd::OwnedFd::from_raw_fd(fd);
        // The one connection the queue holds; nothing ever accepts it.
        let filler = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        (port, filler, listener)
    }
}

#[test]
fn a_connect_that_hangs_fails_within_the_connect_timeout() {
    let (port, _filler, _listener) = full_backlog_port();
    let url = format!("http://127.0.0.1:{port}");
    let ws = Workspace::new(&[(
        "node.toml",
        &scenario(
            &url,
            "connect_timeout = \"500ms\"\ntimeout = \"30s\"",
            "[[smoke]]\nname = \"up\"\nget = \"/\"\n",
        ),
    )]);
    let started = Instant::now();
    let run = ws.run(&[], &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.explain()
    );
    run.assert_outcome("smoke::node::up", "FAILED");
    run.assert_says(&format!("could not connect to {url}/ within 500ms"));
}
