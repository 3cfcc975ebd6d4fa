//! `[[sla]]` end to end, through the harness binary: against an in-process server with a
//! fixed delay or a paced token stream (whose figures are known in advance), and against a
//! real nginx at a rate.

mod support;

use std::time::{Duration, Instant};

use support::delay::{Behaviour, DelayServer, delayed};
use support::nginx::Nginx;
use support::run::{Run, Workspace, csv_rows};
use support::scripted::{Route, ScriptedServer, Step, head};
use support::serial::serial;

const CASE: &str = "sla::x::ok";

/// The run of a file `x.toml` of one sla check `ok` on `url`: the target's `target` keys,
/// then the check's.
fn run_sla(url: &str, target: &str, check: &str) -> (Workspace, Run) {
    let text = format!(
        "[target]\nbase_url = \"{url}\"\n{target}timeout = \"5s\"\n\n[[sla]]\nname = \"ok\"\n{check}"
    );
    let ws = Workspace::new(&[("x.toml", &text)]);
    let run = ws.run(&[], &[]);
    (ws, run)
}

/// The run of one sla check `ok` that GETs `/ok` of `url`.
fn run_check(url: &str, check: &str) -> (Workspace, Run) {
    run_sla(url, "", &format!("get = \"/ok\"\n{check}"))
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
        hlog.starts_with(
            "#perfcase load: durations in microseconds, tagged by figure\n#[StartTime: "
        ),
        "{hlog}"
    );
    assert!(hlog.contains("\nTag=latency,0.000,1.000,"), "{hlog}");
}

#[test]
fn a_threshold_that_fails_is_placed_where_it_is_written() {
    let _serial = serial();
    let server = ScriptedServer::delayed(Duration::from_millis(20));
    let (ws, run) = run_check(
        &server.url(),
        "load = { users = 1, duration = \"1s\" }\nthresholds = { \"latency.p50\" = \"< 5ms\" }\n",
    );
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("x.toml:9:32: latency.p50: expected < 5ms, observed 2");
    // A failed check leaves its histograms too.
    let hlog = ws.read_out("samples/sla__x__ok.hlog");
    assert!(hlog.contains("\nTag=latency,0.000,1.000,"), "{hlog}");
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

/// An OpenAI chat stream at a known pace: the first token [`FIRST_TOKEN_MS`] after the
/// request, then one every [`TOKEN_GAP_MS`], [`TOKENS`] in all, then the usage and `[DONE]`.
const FIRST_TOKEN_MS: u64 = 200;
const TOKEN_GAP_MS: u64 = 20;
const TOKENS: u64 = 16;
/// How long one request takes by the script.
const REQUEST_MS: u64 = FIRST_TOKEN_MS + (TOKENS - 1) * TOKEN_GAP_MS;

fn paced_chat() -> ScriptedServer {
    let sse = |data: &str| Step::Write(format!("data: {data}\n\n").into_bytes());
    let content = r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#;
    let mut steps = vec![
        Step::Write(head(200, "text/event-stream", &[])),
        Step::Sleep(Duration::from_millis(FIRST_TOKEN_MS)),
        sse(content),
    ];
    for _ in 1..TOKENS {
        steps.push(Step::Sleep(Duration::from_millis(TOKEN_GAP_MS)));
        steps.push(sse(content));
    }
    steps.extend([
        sse(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#),
        sse(&format!(
            r#"{{"choices":[],"usage":{{"prompt_tokens":3,"completion_tokens":{TOKENS},"total_tokens":{}}}}}"#,
            TOKENS + 3
        )),
        sse("[DONE]"),
        Step::Close,
    ]);
    ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/v1/chat/completions",
        steps,
    }])
}

/// The run of one sla check `ok` of a chat generation on `url`.
fn run_generation(url: &str, check: &str) -> (Workspace, Run) {
    let request = "model = \"m\"\nmessages = [{ role = \"user\", content = \"hi\" }]\n";
    run_sla(url, "api = \"openai\"\n", &format!("{request}{check}"))
}

/// The server's pace is known, so are the figures: the first token at 200 ms, a token every
/// 20 ms, and 4 users each getting 16 tokens per 500 ms request. The warmup ends just after
/// the users' second answers, so the measured time holds whole requests (a user's request
/// cut by the end of the stage counts in it with its time, as for throughput).
#[test]
fn a_streamed_generation_under_4_users_measures_the_servers_pace() {
    let _serial = serial();
    let server = paced_chat();
    let (ws, run) = run_generation(
        &server.url(),
        "load = { users = 4, duration = \"6s\", warmup = \"1050ms\" }\nslo = { ttft = \"< 1s\" }\n\
         thresholds = { \"ttft.p95\" = \"< 300ms\", \"itl.p99\" = \"< 50ms\", goodput = \">= 99%\" }\n",
    );
    run.assert_outcome(CASE, "ok");
    let truth = |observed: f64, expected: f64, what: &str| {
        assert!(
            (observed / expected - 1.0).abs() <= 0.02,
            "{what}: {observed}, expected {expected} within 2%\n{}",
            run.explain()
        );
    };
    truth(
        run.figure(CASE, "ttft.p50"),
        FIRST_TOKEN_MS as f64 / 1e3,
        "ttft.p50",
    );
    // A request's duration is the script's plus what the scripted server adds (its
    // connection, its sleeps' overshoot, a busy machine): 1-2% here, which would
    // otherwise eat the margin.
    let duration = run.figure(CASE, "latency.mean");
    assert!(
        (REQUEST_MS as f64 / 1e3..REQUEST_MS as f64 / 1e3 * 1.1).contains(&duration),
        "latency.mean {duration}"
    );
    let tokens_per_s = (TOKENS * 4) as f64 / duration;
    truth(
        run.figure(CASE, "output_tokens_per_s"),
        tokens_per_s,
        "output_tokens_per_s",
    );
    // Each request's decode rate: a token every TOKEN_GAP_MS after the first.
    truth(
        run.figure(CASE, "tokens_per_s.p50"),
        1e3 / TOKEN_GAP_MS as f64,
        "tokens_per_s.p50",
    );
    let itl = run.figure(CASE, "itl.p50");
    assert!((0.019..0.022).contains(&itl), "itl.p50 {itl}");
    let tpot = run.figure(CASE, "tpot.p50");
    assert!((0.019..0.022).contains(&tpot), "tpot.p50 {tpot}");
    assert_eq!(run.figure(CASE, "goodput"), 1.0);

    // The timeline has each second's first-token and inter-token times and token rate;
    // the hlog a histogram of each figure.
    let timeline = ws.read_out("samples/sla__x__ok.timeline.csv");
    assert!(
        timeline.starts_with(
            "second,stage,requests,errors,achieved_rate,p50_ms,p99_ms,in_flight,ttft_p50_ms,ttft_p99_ms,itl_p99_ms,output_tokens_per_s\n"
        ),
        "{timeline}"
    );
    let rows = csv_rows(&timeline);
    // The whole seconds in the middle of the stage: 4 users, 8 answers of 16 tokens each.
    let middle: Vec<_> = rows
        .iter()
        .filter(|r| ["2", "3", "4", "5"].contains(&r["second"].as_str()))
        .collect();
    assert_eq!(middle.len(), 4, "{timeline}");
    for row in middle {
        let ttft: f64 = row["ttft_p50_ms"].parse().unwrap();
        assert!((200.0..=215.0).contains(&ttft), "{timeline}");
        let itl: f64 = row["itl_p99_ms"].parse().unwrap();
        assert!((19.0..=25.0).contains(&itl), "{timeline}");
        let tokens: f64 = row["output_tokens_per_s"].parse().unwrap();
        assert!((112.0..=144.0).contains(&tokens), "{timeline}");
    }
    let hlog = ws.read_out("samples/sla__x__ok.hlog");
    for tag in ["latency", "ttft", "itl", "tpot", "latency@warmup"] {
        assert!(hlog.contains(&format!("\nTag={tag},")), "{tag} in {hlog}");
    }
}

#[test]
fn goodput_counts_no_request_that_misses_an_impossible_slo() {
    let _serial = serial();
    let server = paced_chat();
    let (_ws, run) = run_generation(
        &server.url(),
        "load = { users = 4, duration = \"1s\" }\nslo = { ttft = \"< 10ms\" }\nthresholds = { goodput = \">= 50%\" }\n",
    );
    run.assert_outcome(CASE, "FAILED");
    assert_eq!(run.figure(CASE, "goodput"), 0.0);
    run.assert_says("goodput: expected >= 50%, observed 0");
}

/// An HTTP server whose every 4th answer is wrong (`{"ok":false}`, the others
/// `{"ok":true}`), for POST /items with the header `X-Key: k1` and the JSON body
/// `{"name":"a"}`; a request without them is answered 400 and says what is missing.
/// In-process because no real server fails one answer in four on demand. Keep-alive,
/// one thread per connection; stops accepting when dropped.
struct FourthWrong {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FourthWrong {
    fn start() -> FourthWrong {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let answered = answered.clone();
                        std::thread::spawn(move || serve_items(stream, &answered));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FourthWrong { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FourthWrong {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves one connection's requests until the client closes it.
fn serve_items(stream: std::net::TcpStream, answered: &std::sync::atomic::AtomicU64) {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim().to_string();
        let (mut length, mut key) = (0, None);
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "x-key" => key = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let (status, answer) = if request_line != "POST /items HTTP/1.1" {
            (404, format!("no {request_line}"))
        } else if key.as_deref() != Some("k1") {
            (400, format!("X-Key is {key:?}, not k1"))
        } else if json != Some(serde_json::json!({"name": "a"})) {
            (
                400,
                format!("the body is {:?}", String::from_utf8_lossy(&body)),
            )
        } else {
            let n = answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            (200, format!("{{\"ok\":{}}}", n % 4 != 0))
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A POST with a JSON body and a header reaches the server as written (it answers 400
/// otherwise); every 4th answer breaks the expectation, so a quarter of the requests are
/// `expectation` errors, and the details say why with the first one's message.
#[test]
fn a_post_judged_on_every_answer_counts_a_broken_expectation_as_an_error() {
    let _serial = serial();
    let server = FourthWrong::start();
    let (ws, run) = run_sla(
        &server.url(),
        "",
        "post = \"/items\"\njson = { name = \"a\" }\nheaders = { X-Key = \"k1\" }\n\
         expect = { status = 200, json = { \"/ok\" = { equals = true } } }\n\
         load = { rate = 200, duration = \"2s\" }\nthresholds = { error_rate = \"< 30%\" }\n",
    );
    run.assert_outcome(CASE, "ok");
    let error_rate = run.figure(CASE, "error_rate");
    assert!(
        (0.24..=0.26).contains(&error_rate),
        "error_rate {error_rate}"
    );
    let throughput = run.figure(CASE, "throughput");
    assert!((140.0..=160.0).contains(&throughput), "{throughput}/s");
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains("expectation\nfirst expectation error: POST /items: json /ok: expected true, observed false"),
        "{junit}"
    );
    assert!(!junit.contains("http 400"), "{junit}");
}

/// nginx answers 403 without the header: a GET with a header and an `expect` on status
/// and body, sent at a rate, meets them on every answer.
#[test]
fn a_get_with_a_header_and_expect_at_a_rate_on_nginx_meets_them_all() {
    let _serial = serial();
    let nginx = Nginx::start(
        r#"location = /ok { if ($http_x_key != "k1") { return 403 'no key'; } default_type application/json; return 200 '{"ok":true}'; }"#,
    );
    let (_ws, run) = run_check(
        &nginx.url(),
        "headers = { X-Key = \"k1\" }\nexpect = { status = 200, body_contains = \"\\\"ok\\\":true\", json = { \"/ok\" = { equals = true } } }\n\
         load = { rate = 100, duration = \"2s\" }\nthresholds = { error_rate = \"== 0%\", dropped = \"== 0\" }\n",
    );
    run.assert_outcome(CASE, "ok");
    let throughput = run.figure(CASE, "throughput");
    assert!((95.0..=105.0).contains(&throughput), "{throughput}/s");
}

/// The same nginx without the header: every answer is a 403, counted by its status, and
/// the details quote the first one's body.
#[test]
fn a_status_expect_breaks_counts_by_status_with_the_body_quoted() {
    let _serial = serial();
    let nginx = Nginx::start(
        r#"location = /ok { if ($http_x_key != "k1") { return 403 'no key'; } return 200 'ok'; }"#,
    );
    let (ws, run) = run_check(
        &nginx.url(),
        "expect = { status = 200 }\nload = { rate = 50, duration = \"1s\" }\nthresholds = { error_rate = \"< 1%\" }\n",
    );
    run.assert_outcome(CASE, "FAILED");
    assert_eq!(run.figure(CASE, "error_rate"), 1.0);
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains(
            "first http 403 error: GET /ok: status: expected 200, observed 403; body \"no key\""
        ),
        "{junit}"
    );
}

/// The run of one sla check `ok` against a server that answers in `fast` ms, and in
/// `slow` ms from `after` its first request on.
fn run_becoming_slow((fast, after, slow): (u64, Duration, u64), check: &str) -> (Workspace, Run) {
    let server = DelayServer::start(Behaviour {
        slows: Some((after, Duration::from_millis(slow))),
        ..delayed(fast)
    });
    run_check(&format!("http://127.0.0.1:{}", server.port), check)
}

/// A server fast for its first 2 s, then 400 ms an answer: with `abort_on_fail` a run of
/// 30 s stops within about a second of the threshold being lost (a mean over 100 ms once
/// a quarter of the requests so far are slow, about 2.7 s in), and says when and why. The
/// margins leave room for a machine busy with other work.
#[test]
fn abort_on_fail_stops_a_run_at_the_first_threshold_lost() {
    let _serial = serial();
    let started = Instant::now();
    let (ws, run) = run_becoming_slow(
        (1, Duration::from_secs(2), 400),
        "load = { rate = 50, duration = \"30s\" }\nabort_on_fail = true\nthresholds = { \"latency.mean\" = \"< 100ms\" }\n",
    );
    let took = started.elapsed();
    run.assert_outcome(CASE, "FAILED");
    assert!(took < Duration::from_secs(8), "{took:?}\n{}", run.explain());
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("aborted at"))
        .collect();
    assert_eq!(said.len(), 1, "{}", run.explain());
    let at = said[0]
        .strip_prefix("perfcase: sla::x::ok: aborted at ")
        .and_then(|rest| rest.split_once("s: latency.mean = "))
        .map(|(at, _)| at.parse::<u64>().unwrap());
    assert!(matches!(at, Some(3..=5)), "{}", run.explain());
    assert!(said[0].ends_with("ms, not < 100ms"), "{}", said[0]);
    let at = at.unwrap();
    run.assert_says(&format!("stopped at {at}s (abort_on_fail)"));
    run.assert_says("x.toml:10:33: latency.mean: expected < 100ms, observed ");
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains(&format!("aborted at {at}s: latency.mean = ")),
        "{junit}"
    );
    // The hlog, written as the run went, has every interval up to the stop (and what
    // ended before the run did), and its temporary file is gone.
    let hlog = ws.read_out("samples/sla__x__ok.hlog");
    let starts: Vec<&str> = hlog
        .lines()
        .filter_map(|l| l.strip_prefix("Tag=latency,"))
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let seconds: Vec<String> = (0..at).map(|s| format!("{s}.000")).collect();
    assert_eq!(starts[..at as usize], seconds, "{hlog}");
    assert!(starts.len() <= at as usize + 2, "{hlog}");
    let mut samples: Vec<String> = std::fs::read_dir(ws.out().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    samples.sort();
    assert_eq!(samples, ["sla__x__ok.hlog", "sla__x__ok.timeline.csv"]);
}

/// A ladder of two stages, the second slower: results.csv has each stage's figures beside
/// the run's, JUnit shows them in their unit, and a stage's threshold reads its stage.
#[test]
fn a_ladder_records_each_stages_figures_and_judges_a_stage_threshold_on_it() {
    let _serial = serial();
    let (ws, run) = run_becoming_slow(
        (5, Duration::from_millis(1500), 30),
        "stages = [{ users = 2, duration = \"1500ms\" }, { users = 2, duration = \"1500ms\" }]\nthresholds = { \"latency.p50@1\" = \"< 20ms\", \"latency.p50@2\" = \"< 20ms\" }\n",
    );
    run.assert_outcome(CASE, "FAILED");
    run.assert_says("latency.p50@2: expected < 20ms, observed 3");
    let first = run.figure(CASE, "latency.p50@1");
    let second = run.figure(CASE, "latency.p50@2");
    assert!(
        (0.005..0.010).contains(&first),
        "{first}\n{}",
        run.explain()
    );
    assert!(
        (0.030..0.036).contains(&second),
        "{second}\n{}",
        run.explain()
    );
    for name in [
        "latency.p99@2",
        "latency.max@1",
        "throughput@2",
        "error_rate@1",
    ] {
        run.figure(CASE, name);
    }
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("latency.p50@1 = 5."), "{junit}");
    assert!(junit.contains("error_rate@2 = 0%"), "{junit}");
}

/// A mix against real nginx: three `/search` requests to every `/broken` one (which nginx
/// answers 503), at 200/s for 2 s. The requests are dealt in exact proportions, each part
/// has its own figures beside the run's, and a threshold scoped to one part is judged on
/// that part alone and placed where it is written.
#[test]
fn a_mix_sends_its_parts_in_proportion_and_judges_each_on_its_own_figures() {
    let _serial = serial();
    let nginx = Nginx::start(
        r#"location = /search { default_type application/json; return 200 '{"hits":3}'; }
           location = /broken { return 503 'busy'; }"#,
    );
    let (ws, run) = run_sla(
        &nginx.url(),
        "",
        "load = { rate = 200, duration = \"2s\" }\n\
         thresholds = { \"error_rate{search}\" = \"== 0%\", \"error_rate{broken}\" = \"== 0%\", error_rate = \"< 30%\" }\n\
         [[sla.requests]]\nname = \"search\"\nweight = 3\nget = \"/search\"\n\
         expect = { status = 200, json = { \"/hits\" = { equals = 3 } } }\n\
         [[sla.requests]]\nname = \"broken\"\nweight = 1\nget = \"/broken\"\n",
    );
    run.assert_outcome(CASE, "FAILED");
    // 400 requests due: 300 searches and 100 broken ones, exactly.
    assert_eq!(run.figure(CASE, "error_rate"), 0.25);
    assert_eq!(run.figure(CASE, "error_rate{search}"), 0.0);
    assert_eq!(run.figure(CASE, "error_rate{broken}"), 1.0);
    let searches = run.figure(CASE, "throughput{search}");
    assert!((145.0..=155.0).contains(&searches), "{searches}/s");
    // Only the broken part's threshold failed, at its value on line 8.
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("x.toml:8:71: error_rate{broken}"), "{junit}");
    assert!(
        junit.contains("error_rate{broken}: expected == 0%"),
        "{junit}"
    );
    assert!(!junit.contains("error_rate{search}: expected"), "{junit}");
    assert!(
        junit.contains("first http 503 error: broken: GET /broken"),
        "{junit}"
    );
    let hlog = ws.read_out("samples/sla__x__ok.hlog");
    assert!(hlog.contains("Tag=latency{search},"), "{hlog}");
    // A failed request has no latency: the broken part has no histogram to log.
    assert!(!hlog.contains("Tag=latency{broken},"), "{hlog}");
}
