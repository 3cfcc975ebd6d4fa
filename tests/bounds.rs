//! Hostile servers against the harness's memory. A body or a line that never ends (which
//! only the scripted server sends on demand) ends its case within moments, naming the
//! limit to raise, while the harness stays small; before the bounds it grew by hundreds of
//! MB a second until the timeout. A large body that fits `max_body` still passes, from a
//! real nginx with its length announced and from the scripted server without one; the
//! limit holds to the byte either way; and a body that stalls says how much of it came.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use rstest::rstest;

use support::nginx::Nginx;
use support::run::{Run, Workspace};
use support::scripted::{
    Route, ScriptedServer, Step, chunk, chunked_head, head, last_chunk, respond,
};

/// How long a hostile server keeps sending; the checks' timeout is as long, so a case
/// that ends well before it was ended by a size limit.
const ENDLESS: Duration = Duration::from_secs(30);

/// A case ended by its limit is done in a second or two; one that ran into its timeout
/// took 30 s.
const QUICK: Duration = Duration::from_secs(10);

/// The harness's peak resident memory while refusing endless answers. Before the bounds
/// the same runs reached 0.6 GB (an endless SSE line) to 3.4 GB (an endless smoke body)
/// within a 10 s timeout; now they stay near the harness's own size plus one limit.
const SMALL: u64 = 100 << 20;

/// The same bytes, sent until the connection closes or [`ENDLESS`] has passed.
fn endless(bytes: &[u8]) -> Step {
    Step::Repeat {
        bytes: bytes.to_vec(),
        total: usize::MAX,
        within: ENDLESS,
    }
}

fn x64k() -> Vec<u8> {
    vec![b'x'; 64 << 10]
}

/// A server with an endless answer on every route the checks below use: a chunked smoke
/// body, a non-streamed OpenAI body, an SSE data line and an NDJSON line that never end,
/// and an HTTP error whose body never ends.
fn hostile_server() -> ScriptedServer {
    let route = |method, path, steps| Route {
        method,
        path,
        steps,
    };
    let opening = |text: &str| Step::Write(text.as_bytes().to_vec());
    ScriptedServer::start(vec![
        route(
            "GET",
            "/endless",
            vec![
                Step::Write(chunked_head(200, "text/plain")),
                endless(&chunk(&x64k())),
            ],
        ),
        route(
            "GET",
            "/v1/models",
            respond(200, "application/json", r#"{"data":[{"id":"m"}]}"#),
        ),
        route(
            "POST",
            "/v1/chat/completions",
            vec![
                Step::Write(head(200, "application/json", &[])),
                opening(r#"{"choices":[{"message":{"content":""#),
                endless(&x64k()),
            ],
        ),
        route(
            "POST",
            "/v1/completions",
            vec![
                Step::Write(head(200, "text/event-stream", &[])),
                opening(r#"data: {"choices":[{"text":""#),
                endless(&x64k()),
            ],
        ),
        route(
            "GET",
            "/api/tags",
            respond(
                200,
                "application/json",
                r#"{"models":[{"name":"m:latest"}]}"#,
            ),
        ),
        route(
            "POST",
            "/api/generate",
            vec![
                Step::Write(chunked_head(200, "application/x-ndjson")),
                Step::Write(chunk(br#"{"response":"HX","done":false}"#)),
                Step::Write(chunk(b"\n")),
                Step::Write(chunk(br#"{"response":""#)),
                endless(&chunk(&x64k())),
            ],
        ),
        route(
            "POST",
            "/api/chat",
            vec![
                Step::Write(head(500, "text/plain", &[])),
                opening("upstream failed: "),
                endless(&x64k()),
            ],
        ),
    ])
}

const SMOKE: &str = "[[smoke]]\nname = \"body\"\nget = \"/endless\"\nmax_body = \"8MiB\"\n";

/// Two checks, so that both limits are shown set per check and per target: the
/// non-streamed one sets its own max_body, the streamed one takes the target's max_line.
const OPENAI: &str = "[[inference]]\nname = \"whole\"\nmodel = \"m\"\nprompt = \"hi\"\nendpoint = \"chat\"\nstream = false\nmax_body = \"8MiB\"\n\
                      [[inference]]\nname = \"line\"\nmodel = \"m\"\nprompt = \"hi\"\n";

const OLLAMA: &str =
    "[[inference]]\nname = \"line\"\nmodel = \"m\"\nprompt = \"hi\"\nmax_line = \"8MiB\"\n";

/// A chat answered by an HTTP error whose body never ends.
const CHAT: &str = "[[inference]]\nname = \"chat\"\nmodel = \"m\"\nmessages = [{ role = \"user\", content = \"hi\" }]\nmax_body = \"8MiB\"\n";

/// For the target of [`OPENAI`]: its line check takes the target's max_line.
const MAX_LINE: &str = "max_line = \"8MiB\"";

fn scenario(url: &str, api: &str, target: &str, checks: &str) -> String {
    format!(
        "[target]\nbase_url = \"{url}\"\napi = \"{api}\"\ntimeout = \"30s\"\n{target}\n{checks}"
    )
}

/// Runs the scenarios against the hostile server: the run, how long it took, and the
/// harness's peak memory.
/// These runs time and weigh the harness beside servers writing as fast as they can: one
/// at a time, so that neither figure depends on how many tests the runner runs at once.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_hostile(files: &[(&str, &str)], args: &[&str]) -> (Run, Duration, u64) {
    let _one = serial();
    let ws = Workspace::new(files);
    let started = Instant::now();
    let (run, peak) = ws.run_measured(args, &[]);
    (run, started.elapsed(), peak)
}

#[track_caller]
fn assert_quick_and_small(run: &Run, took: Duration, peak: u64) {
    assert!(took < QUICK, "took {took:?}: {}", run.explain());
    assert!(
        peak < SMALL,
        "peak memory {} MB: {}",
        peak >> 20,
        run.explain()
    );
}

/// Each endless answer, alone in a run: the case it ends, and what its message says
/// (`{url}` is the server's).
#[rstest]
#[case::smoke_body("http", "", SMOKE, &[], "smoke::hostile::body", &[
    "response body from {url}/endless exceeded max_body 8MiB (",
    "bytes arrived in ",
    "raise max_body in [target] or in the check",
])]
#[case::generation_body("openai", "", OPENAI, &["whole"], "inference::hostile::whole", &[
    "response from {url}/v1/chat/completions exceeded max_body 8MiB in ",
    "raise max_body in [target] or in the check",
])]
#[case::sse_line("openai", MAX_LINE, OPENAI, &["line"], "inference::hostile::line", &[
    "a stream line from {url}/v1/completions exceeded max_line 8MiB before it ended (after ",
    "raise max_line in [target] or in the check",
])]
#[case::ndjson_line("ollama", "", OLLAMA, &[], "inference::hostile::line", &[
    "a stream line from {url}/api/generate exceeded max_line 8MiB before it ended (after ",
    "1 chunk, text so far \"HX\"",
])]
#[case::http_error_body("ollama", "", CHAT, &[], "inference::hostile::chat", &[
    "{url}/api/chat answered HTTP 500: upstream failed: xxx",
])]
fn an_endless_answer_ends_at_its_limit(
    #[case] api: &str,
    #[case] target: &str,
    #[case] checks: &str,
    #[case] args: &[&str],
    #[case] case: &str,
    #[case] says: &[&str],
) {
    let server = hostile_server();
    let text = scenario(&server.url(), api, target, checks);
    let (run, took, peak) = run_hostile(&[("hostile.toml", &text)], args);
    assert_quick_and_small(&run, took, peak);
    run.assert_outcome(case, "FAILED");
    for text in says {
        run.assert_says(&text.replace("{url}", &server.url()));
    }
}

#[test]
fn several_endless_answers_in_one_run_stay_small_together() {
    let server = hostile_server();
    let (run, took, peak) = run_hostile(
        &[
            ("smoke.toml", &scenario(&server.url(), "http", "", SMOKE)),
            (
                "openai.toml",
                &scenario(&server.url(), "openai", MAX_LINE, OPENAI),
            ),
            (
                "ollama.toml",
                &scenario(&server.url(), "ollama", "", OLLAMA),
            ),
        ],
        &[],
    );
    assert_quick_and_small(&run, took, peak);
    for case in [
        "smoke::smoke::body",
        "inference::openai::whole",
        "inference::openai::line",
        "inference::ollama::line",
    ] {
        run.assert_outcome(case, "FAILED");
    }
    assert_eq!(
        run.stdout.matches("exceeded max_").count(),
        4,
        "{}",
        run.explain()
    );
}

/// The size of the large bodies below: 200 MiB, under the default max_body of 256 MiB.
const LARGE: usize = 200 << 20;

/// A large body may cost its own size and the harness's, not several times it.
const LARGE_PEAK: u64 = 3 * LARGE as u64;

/// Runs a smoke check of `url` that expects status 200 and a body of [`LARGE`] bytes.
fn run_large(url: &str) {
    let checks = "[[smoke]]\nname = \"large\"\nget = \"/large\"\nexpect = { status = 200 }\n";
    let ws = Workspace::new(&[("large.toml", &scenario(url, "http", "", checks))]);
    let _one = serial();
    let (run, peak) = ws.run_measured(&[], &[]);
    run.assert_outcome("smoke::large::large", "ok");
    let csv = ws.read_out("results.csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let bytes = reader.headers().unwrap().iter().position(|h| h == "bytes");
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(
        row[bytes.unwrap()].parse::<usize>().unwrap(),
        LARGE,
        "{csv}"
    );
    assert!(
        peak < LARGE_PEAK,
        "peak memory {} MB for a body of {} MB",
        peak >> 20,
        LARGE >> 20
    );
}

#[test]
fn a_large_body_within_max_body_passes_from_nginx() {
    let nginx = Nginx::start("location = /large { alias large.bin; }");
    let mut file = std::fs::File::create(nginx.prefix().join("large.bin")).unwrap();
    let mib = vec![b'x'; 1 << 20];
    for _ in 0..LARGE >> 20 {
        file.write_all(&mib).unwrap();
    }
    drop(file);
    run_large(&nginx.url());
}

#[test]
fn a_large_body_of_unannounced_length_within_max_body_passes() {
    let piece = chunk(&x64k());
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/large",
        steps: vec![
            Step::Write(chunked_head(200, "application/octet-stream")),
            Step::Repeat {
                total: piece.len() * (LARGE / (64 << 10)),
                bytes: piece,
                within: ENDLESS,
            },
            Step::Write(last_chunk()),
            Step::Close,
        ],
    }]);
    run_large(&server.url());
}

#[test]
fn a_body_at_max_body_passes_and_one_byte_more_is_refused_announced_or_not() {
    let nginx = Nginx::start("location = /twenty { return 200 '01234567890123456789'; }");
    let chunked = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/twenty",
        steps: vec![
            Step::Write(chunked_head(200, "text/plain")),
            Step::Write(chunk(b"0123456789")),
            Step::Write(chunk(b"0123456789")),
            Step::Write(last_chunk()),
            Step::Close,
        ],
    }]);
    let checks = "[[smoke]]\nname = \"fits\"\nget = \"/twenty\"\nmax_body = \"20B\"\n\
                  [[smoke]]\nname = \"over\"\nget = \"/twenty\"\nmax_body = \"19B\"\n";
    let ws = Workspace::new(&[
        (
            "announced.toml",
            &scenario(&nginx.url(), "http", "", checks),
        ),
        (
            "chunked.toml",
            &scenario(&chunked.url(), "http", "", checks),
        ),
    ]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::announced::fits", "ok");
    run.assert_outcome("smoke::chunked::fits", "ok");
    run.assert_outcome("smoke::announced::over", "FAILED");
    run.assert_outcome("smoke::chunked::over", "FAILED");
    run.assert_says(&format!(
        "{}/twenty announced a response body of 20 bytes (content-length), more than max_body 19B; raise max_body",
        nginx.url()
    ));
    run.assert_says(&format!(
        "response body from {}/twenty exceeded max_body 19B (20 bytes arrived in ",
        chunked.url()
    ));
}

#[test]
fn a_body_that_stalls_says_how_much_of_it_arrived() {
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/stall",
        steps: vec![
            Step::Write(chunked_head(200, "text/plain")),
            Step::Write(chunk(&[b'x'; 1000])),
            Step::Sleep(ENDLESS),
        ],
    }]);
    let checks = "[[smoke]]\nname = \"stall\"\nget = \"/stall\"\ntimeout = \"500ms\"\n";
    let ws = Workspace::new(&[("stall.toml", &scenario(&server.url(), "http", "", checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("smoke::stall::stall", "FAILED");
    run.assert_says(&format!(
        "{}/stall did not finish its response within 500ms (1000 bytes of its body arrived); raise timeout",
        server.url()
    ));
}
