//! Inference checks through the harness binary against scripted servers: the Ollama wire
//! format replayed byte for byte (Ollama cannot be installed here), and every fault a
//! stream can have. The happy path against a real server is in `llama.rs`.

mod support;

use std::time::{Duration, Instant};

use support::run::{Run, Workspace};
use support::scripted::{
    Route, ScriptedServer, Step, chunk, chunked_head, head, last_chunk, respond,
};

fn ms(n: u64) -> Step {
    Step::Sleep(Duration::from_millis(n))
}

fn write(text: &str) -> Step {
    Step::Write(text.as_bytes().to_vec())
}

/// One NDJSON line as Ollama writes it: in an HTTP chunk of its own.
fn ndjson(line: &str) -> Step {
    Step::Write(chunk(format!("{line}\n").as_bytes()))
}

fn sse(data: &str) -> Step {
    write(&format!("data: {data}\n\n"))
}

fn scenario(api: &str, url: &str, checks: &str) -> String {
    format!("[target]\nbase_url = \"{url}\"\napi = \"{api}\"\ntimeout = \"5s\"\n{checks}")
}

/// The figures of one case from results.csv, by column name.
fn figures(ws: &Workspace, case: &str) -> std::collections::HashMap<String, String> {
    let text = ws.read_out("results.csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader
        .records()
        .map(Result::unwrap)
        .find(|r| &r[1] == case)
        .unwrap_or_else(|| panic!("{case} not in results.csv:\n{text}"));
    headers
        .iter()
        .map(str::to_string)
        .zip(row.iter().map(str::to_string))
        .collect()
}

fn number(figures: &std::collections::HashMap<String, String>, name: &str) -> f64 {
    figures[name]
        .parse()
        .unwrap_or_else(|_| panic!("{name} = {:?}", figures[name]))
}

const OLLAMA_TAGS: &str = r#"{"models":[{"name":"phi3:latest","model":"phi3:latest","modified_at":"2024-06-01T10:00:00.000000000Z","size":2176178913,"digest":"4f2222927938","details":{"format":"gguf","family":"phi3","parameter_size":"3.8B","quantization_level":"Q4_0"}}]}"#;

fn ollama_server() -> ScriptedServer {
    let tags = Route {
        method: "GET",
        path: "/api/tags",
        steps: respond(200, "application/json; charset=utf-8", OLLAMA_TAGS),
    };
    let mut chat = vec![
        Step::Write(chunked_head(200, "application/x-ndjson")),
        ms(150),
    ];
    chat.push(ndjson(r#"{"model":"phi3:latest","created_at":"2024-06-01T10:00:01.1Z","message":{"role":"assistant","content":"HX"},"done":false}"#));
    chat.push(ms(40));
    chat.push(ndjson(r#"{"model":"phi3:latest","created_at":"2024-06-01T10:00:01.2Z","message":{"role":"assistant","content":"-OK"},"done":false}"#));
    chat.push(ms(40));
    chat.push(ndjson(r#"{"model":"phi3:latest","created_at":"2024-06-01T10:00:01.3Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":3,"eval_duration":60000000}"#));
    chat.push(Step::Write(last_chunk()));
    chat.push(Step::Close);
    // Non-streaming generate, with the optional durations absent, as a warm server may send.
    let generate = respond(
        200,
        "application/json; charset=utf-8",
        r#"{"model":"phi3:latest","created_at":"2024-06-01T10:00:02Z","response":"HX-OK","done":true,"done_reason":"stop","context":[1,2,3],"eval_count":4}"#,
    );
    ScriptedServer::start(vec![
        tags,
        Route {
            method: "POST",
            path: "/api/chat",
            steps: chat,
        },
        Route {
            method: "POST",
            path: "/api/generate",
            steps: generate,
        },
    ])
}

#[test]
fn ollama_stream_metrics_come_from_the_wire_format_with_nanosecond_durations() {
    let server = ollama_server();
    let checks = r#"
[[inference]]
name = "chat"
model = "phi3"
messages = [{ role = "user", content = "Return exactly the text: HX-OK" }]
params = { temperature = 0 }
extra = { keep_alive = "5m" }
expect = { text = "HX-OK", finish_reason = "stop", ttft = "< 2s", output_tokens = "== 3" }

[[inference]]
name = "generate"
model = "phi3:latest"
prompt = "Return exactly the text: HX-OK"
stream = false
expect = { text = "HX-OK" }
"#;
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());

    let chat = figures(&ws, "inference::ollama::chat");
    assert_eq!(
        number(&chat, "output_tokens"),
        3.0,
        "eval_count is the token count"
    );
    assert!(
        (number(&chat, "server_tokens_per_s") - 50.0).abs() < 1e-9,
        "3 / 0.06 s"
    );
    assert!((number(&chat, "load_duration") - 0.002154458).abs() < 1e-12);
    assert!((number(&chat, "prompt_tokens_per_s") - 26.0 / 0.383809).abs() < 1e-6);
    let (ttft, latency, itl) = (
        number(&chat, "ttft"),
        number(&chat, "latency"),
        number(&chat, "itl.mean"),
    );
    assert!(
        ttft >= 0.15 && ttft < latency,
        "ttft {ttft} latency {latency}"
    );
    assert!((0.035..0.5).contains(&itl), "one gap of about 40 ms: {itl}");

    let generate = figures(&ws, "inference::ollama::generate");
    assert_eq!(number(&generate, "output_tokens"), 4.0);
    assert_eq!(
        generate["server_tokens_per_s"], "",
        "no eval_duration, no server rate"
    );
    assert_eq!(
        number(&generate, "ttft"),
        number(&generate, "latency"),
        "non-streaming ttft is the latency"
    );

    let requests = server.requests();
    let chat_request = requests.iter().find(|r| r.path == "/api/chat").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&chat_request.body).unwrap();
    assert_eq!(body["options"]["temperature"], 0);
    assert_eq!(body["keep_alive"], "5m");
    assert_eq!(body["stream"], true);
    assert_eq!(
        requests.iter().filter(|r| r.path == "/api/tags").count(),
        1,
        "model list fetched once"
    );
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains("output_tokens_source = ollama.eval_count"),
        "{junit}"
    );
}

/// An OpenAI-style SSE stream whose first event carries only the role.
fn openai_stream(after_role: Vec<Step>) -> Vec<Step> {
    let mut steps = vec![
        Step::Write(head(200, "text/event-stream", &[])),
        sse(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}"#,
        ),
        write(": keep-alive comment\n\n"),
    ];
    steps.extend(after_role);
    steps
}

fn content(text: &str) -> Step {
    sse(&format!(
        r#"{{"choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#
    ))
}

fn run_openai(steps: Vec<Step>, check_fields: &str) -> (Workspace, Run, ScriptedServer) {
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/v1/chat/completions",
        steps,
    }]);
    let checks = format!(
        "[[inference]]\nname = \"c\"\nmodel = \"m\"\nmessages = [{{ role = \"user\", content = \"hi\" }}]\n{check_fields}"
    );
    let ws = Workspace::new(&[("api.toml", &scenario("openai", &server.url(), &checks))]);
    let run = ws.run(&[], &[]);
    (ws, run, server)
}

#[test]
fn a_role_only_chunk_is_not_the_first_token() {
    let steps = openai_stream(vec![
        ms(300),
        content("HX"),
        content("-OK"),
        sse(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#),
        sse(
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
        ),
        sse("[DONE]"),
        Step::Close,
    ]);
    let (ws, run, server) = run_openai(steps, "expect = { text = \"HX-OK\" }\n");
    assert_eq!(run.code, 0, "{}", run.explain());
    let f = figures(&ws, "inference::api::c");
    assert_eq!(f["output_tokens_source"], "openai.usage");
    assert!(
        number(&f, "ttfb") < 0.25,
        "the role chunk arrives at once: {}",
        f["ttfb"]
    );
    assert!(
        number(&f, "ttft") >= 0.3,
        "ttft waits for content: {}",
        f["ttft"]
    );
    assert_eq!(number(&f, "output_tokens"), 2.0);
    let requests = server.requests();
    let post = requests.iter().find(|r| r.method == "POST").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[test]
fn a_wrong_expectation_fails_and_shows_the_answer() {
    let steps = openai_stream(vec![
        content("HX"),
        content("-OK"),
        sse("[DONE]"),
        Step::Close,
    ]);
    let (ws, run, _server) = run_openai(steps, "expect = { text = \"NOPE\", ttft = \"< 1us\" }\n");
    run.assert_outcome("inference::api::c", "FAILED");
    run.assert_says("answer \"HX-OK\":");
    run.assert_says("text: expected \"NOPE\", observed \"HX-OK\"");
    run.assert_says("ttft: expected < 1µs, observed");
    let file = ws.scenarios().join("api.toml").display().to_string();
    for expectation in ["text: expected \"NOPE\"", "ttft: expected < 1µs"] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains(&format!("{file}:")) && l.contains(expectation)),
            "{expectation} is not placed at {file}:line:col\n{}",
            run.explain()
        );
    }
    let junit = ws.read_out("junit.xml");
    assert!(
        junit.contains("<failure type=\"answer, threshold\""),
        "{junit}"
    );
    // The attribute's line breaks are folded by XML readers; the element text keeps them.
    assert!(
        junit.contains(&format!(":\n  {file}:")) && junit.contains("]]></failure>"),
        "one violation a line in the failure's text: {junit}"
    );
    assert!(
        junit.contains("output_tokens_source = client.content_chunks"),
        "no usage: counted chunks, and says so: {junit}"
    );
}

/// Runs a faulty stream and returns the case's error text.
fn fault(steps: Vec<Step>, check_fields: &str) -> String {
    let started = Instant::now();
    let (ws, run, _server) = run_openai(steps, check_fields);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "must not hang: {}",
        run.explain()
    );
    run.assert_outcome("inference::api::c", "FAILED");
    assert!(
        ws.read_out("junit.xml").contains("<error type=\"request\""),
        "faults are errors, not failures"
    );
    run.stdout
}

#[test]
fn no_first_token_in_time_is_an_error() {
    let out = fault(
        openai_stream(vec![ms(10_000), content("late")]),
        "first_token_timeout = \"300ms\"\n",
    );
    assert!(out.contains("no token from http://127.0.0.1:"), "{out}");
    assert!(out.contains("within 300ms (after "), "{out}");
    assert!(
        out.contains("1 chunk, text so far \"\""),
        "only the role chunk came: {out}"
    );
}

#[test]
fn a_stalled_stream_hits_the_total_timeout() {
    let out = fault(
        openai_stream(vec![content("HX"), ms(10_000)]),
        "timeout = \"1s\"\n",
    );
    assert!(out.contains("not complete within 1s"), "{out}");
    assert!(out.contains("text so far \"HX\""), "{out}");
}

#[test]
fn a_stream_cut_before_done_says_how_far_it_got() {
    let out = fault(openai_stream(vec![content("HX"), Step::Close]), "");
    assert!(out.contains("ended before its final object"), "{out}");
    assert!(out.contains("text so far \"HX\""), "{out}");
}

#[test]
fn a_reset_mid_stream_is_a_cut_stream() {
    let out = fault(openai_stream(vec![content("HX"), Step::Reset]), "");
    assert!(out.contains("ended before its final object"), "{out}");
    assert!(out.contains("the server reset the connection"), "{out}");
}

#[test]
fn a_malformed_event_is_an_error_naming_it() {
    let out = fault(
        openai_stream(vec![content("HX"), write("data: {not json\n\n")]),
        "",
    );
    assert!(
        out.contains("malformed response from http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("event data is not JSON"), "{out}");
}

#[test]
fn an_error_event_mid_stream_is_a_server_error() {
    let steps = openai_stream(vec![
        content("HX"),
        sse(r#"{"error":{"message":"slot 0 crashed","type":"server_error"}}"#),
    ]);
    let out = fault(steps, "");
    assert!(out.contains("server error from http://127.0.0.1:"), "{out}");
    assert!(out.contains("slot 0 crashed"), "{out}");
    assert!(out.contains("text so far \"HX\""), "{out}");
}

#[test]
fn an_http_error_shows_the_json_error_message() {
    let body =
        r#"{"error":{"message":"the model is overloaded","type":"server_error","code":503}}"#;
    let out = fault(respond(503, "application/json", body), "");
    assert!(
        out.contains("answered HTTP 503: the model is overloaded"),
        "{out}"
    );
}

/// A server that quotes the request's key in a plain-text error body: the client quotes
/// 300 characters of it, cut in the middle of the key, and shows none of the key.
#[test]
fn an_error_body_cut_in_the_middle_of_a_secret_shows_none_of_it() {
    let key = "sk-SPLIT-SECRET-0123456789abcdef";
    let body = format!("{} invalid key: Bearer {key} (check it)", "x".repeat(268));
    assert!(
        body[..300].ends_with("Bearer sk-SPLIT-SE"),
        "the cut is in the key"
    );
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/v1/completions",
        steps: respond(401, "text/plain", &body),
    }]);
    let checks = "headers = { Authorization = \"Bearer ${TEST_API_KEY}\" }\n\
         [[inference]]\nname = \"c\"\nmodel = \"m\"\nprompt = \"p\"\n";
    let ws = Workspace::new(&[("api.toml", &scenario("openai", &server.url(), checks))]);
    let run = ws.run(&[], &[("TEST_API_KEY", key)]);
    run.assert_outcome("inference::api::c", "FAILED");
    run.assert_says("invalid key: [REDACTED]… (");
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("invalid key: [REDACTED]… ("), "{junit}");
    for text in [
        &run.stdout,
        &run.stderr,
        &junit,
        &ws.read_out("results.csv"),
        &ws.read_out("summary.md"),
    ] {
        assert!(!text.contains("sk-SPLIT"), "{text}");
    }
}

#[test]
fn connection_refused_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let checks = "[[inference]]\nname = \"c\"\nmodel = \"m\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[(
        "api.toml",
        &scenario("openai", &format!("http://127.0.0.1:{port}"), checks),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_says(&format!(
        "connection refused by http://127.0.0.1:{port}/v1/models"
    ));
}

#[test]
fn a_missing_model_lists_the_models_the_server_has() {
    let server = ScriptedServer::start(vec![Route {
        method: "GET",
        path: "/api/tags",
        steps: respond(200, "application/json", OLLAMA_TAGS),
    }]);
    let checks = "[[inference]]\nname = \"g\"\nmodel = \"gemma2:2b\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::ollama::g", "FAILED");
    let expected = format!(
        "model \"gemma2:2b\" is not on {}/; it has: phi3:latest",
        server.url()
    );
    run.assert_says(&expected);
    assert!(
        !server.requests().iter().any(|r| r.path == "/api/generate"),
        "no generation was attempted"
    );
}

#[test]
fn a_malformed_ndjson_line_is_an_error_with_its_line_number() {
    let steps = vec![
        Step::Write(chunked_head(200, "application/x-ndjson")),
        ndjson(r#"{"model":"phi3:latest","response":"HX","done":false}"#),
        ndjson("<html>proxy error</html>"),
        Step::Write(last_chunk()),
        Step::Close,
    ];
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/api/generate",
        steps,
    }]);
    let checks = "[[inference]]\nname = \"g\"\nmodel = \"phi3\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_says("line 2: not valid JSON");
}

#[test]
fn a_non_streamed_answer_is_not_held_to_the_first_token_timeout() {
    let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"HX-OK"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
    let mut steps = vec![ms(600)];
    steps.extend(respond(200, "application/json", body));
    let (ws, run, _server) = run_openai(
        steps,
        "stream = false\nfirst_token_timeout = \"300ms\"\nexpect = { text = \"HX-OK\" }\n",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let f = figures(&ws, "inference::api::c");
    assert!(number(&f, "latency") >= 0.6);
    assert!(
        !f.contains_key("content_chunks"),
        "one body has no chunk count"
    );
}

#[test]
fn llama_cpp_error_fields_mid_stream_are_server_errors() {
    let steps = openai_stream(vec![
        content("HX"),
        write(
            "error: {\"code\":500,\"message\":\"context shift disabled\",\"type\":\"server_error\"}\n\n",
        ),
    ]);
    let out = fault(steps, "");
    assert!(out.contains("server error from http://127.0.0.1:"), "{out}");
    assert!(out.contains("context shift disabled"), "{out}");
}

fn ollama_fault(lines: &[&str]) -> String {
    let mut steps = vec![Step::Write(chunked_head(200, "application/x-ndjson"))];
    steps.extend(lines.iter().map(|line| ndjson(line)));
    steps.push(Step::Write(last_chunk()));
    steps.push(Step::Close);
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/api/generate",
        steps,
    }]);
    let checks = "[[inference]]\nname = \"g\"\nmodel = \"phi3\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::ollama::g", "FAILED");
    run.stdout
}

#[test]
fn an_ollama_stream_without_its_done_object_is_cut() {
    let out = ollama_fault(&[r#"{"model":"phi3:latest","response":"HX","done":false}"#]);
    assert!(out.contains("ended before its final object"), "{out}");
    assert!(out.contains("text so far \"HX\""), "{out}");
}

#[test]
fn an_ollama_error_object_mid_stream_is_a_server_error() {
    let out = ollama_fault(&[
        r#"{"model":"phi3:latest","response":"HX","done":false}"#,
        r#"{"error":"an unknown error was encountered while running the model"}"#,
    ]);
    assert!(out.contains("server error from http://127.0.0.1:"), "{out}");
    assert!(
        out.contains("an unknown error was encountered while running the model"),
        "{out}"
    );
}

#[test]
fn a_server_gone_before_the_generation_request_is_connection_refused() {
    use std::io::{Read, Write};
    // Answers the model listing once (404: no listing, presence cannot be checked), then
    // stops listening, so the generation request finds nothing on the port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let once = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Closed before the answer goes out: once the client has the 404, nothing listens.
        // (Closed after it, a quick next connect could land in the backlog and be reset.)
        drop(listener);
        let mut buffer = [0; 4096];
        let _ = stream.read(&mut buffer);
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    let checks = "[[inference]]\nname = \"c\"\nmodel = \"m\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[(
        "api.toml",
        &scenario("openai", &format!("http://127.0.0.1:{port}"), checks),
    )]);
    let run = ws.run(&[], &[]);
    once.join().unwrap();
    run.assert_says(&format!(
        "connection refused by http://127.0.0.1:{port}/v1/completions"
    ));
}

#[test]
fn an_unterminated_last_event_is_a_cut_stream() {
    let steps = openai_stream(vec![
        content("HX"),
        write("data: {\"choices\":[{\"delta\":{\"content\":\"-O"),
        Step::Close,
    ]);
    let out = fault(steps, "");
    assert!(out.contains("ended before its final object"), "{out}");
    assert!(out.contains("its last, unterminated piece"), "{out}");
}

#[test]
fn a_stream_whose_headers_never_come_hits_the_first_token_timeout() {
    let out = fault(
        vec![ms(10_000), Step::Write(head(200, "text/event-stream", &[]))],
        "first_token_timeout = \"300ms\"\n",
    );
    assert!(out.contains("no token from http://127.0.0.1:"), "{out}");
    assert!(
        out.contains("within 300ms (after 0 bytes, 0 chunks"),
        "{out}"
    );
}

/// An Ollama-like generation with a known pace: first token 120 ms after the request, then
/// two more 60 ms apart, then the final object: 240 ms in all.
const FIRST_TOKEN_MS: u64 = 120;
const GENERATION_MS: u64 = 240;

fn paced_ollama_routes() -> Vec<Route> {
    let tags = Route {
        method: "GET",
        path: "/api/tags",
        steps: respond(200, "application/json; charset=utf-8", OLLAMA_TAGS),
    };
    let generate = Route {
        method: "POST",
        path: "/api/generate",
        steps: vec![
            Step::Write(chunked_head(200, "application/x-ndjson")),
            ms(FIRST_TOKEN_MS),
            ndjson(r#"{"model":"phi3:latest","response":"A","done":false}"#),
            ms(60),
            ndjson(r#"{"model":"phi3:latest","response":"B","done":false}"#),
            ms(60),
            ndjson(
                r#"{"model":"phi3:latest","response":"","done":true,"done_reason":"stop","eval_count":2,"eval_duration":60000000}"#,
            ),
            Step::Write(last_chunk()),
            Step::Close,
        ],
    };
    vec![tags, generate]
}

fn four_checks(url: &str, target_extra: &str) -> String {
    let mut text = format!(
        "[target]\nbase_url = \"{url}\"\napi = \"ollama\"\ntimeout = \"10s\"\n{target_extra}"
    );
    for n in 1..=4 {
        text.push_str(&format!(
            "[[inference]]\nname = \"c{n}\"\nmodel = \"phi3:latest\"\nprompt = \"x\"\n"
        ));
    }
    text
}

fn ttfts(ws: &Workspace) -> Vec<f64> {
    (1..=4)
        .map(|n| number(&figures(ws, &format!("inference::paced::c{n}")), "ttft"))
        .collect()
}

/// Arrival gaps between successive generation requests, in order.
fn arrival_gaps(server: &ScriptedServer) -> Vec<Duration> {
    let mut arrivals: Vec<Instant> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.received_at)
        .collect();
    arrivals.sort();
    arrivals.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Under plain `cargo test` (default threads, and more threads than checks), cases that
/// measure one server take turns: against a server that queues requests as Ollama does,
/// every case measures its own first token, not its place in the queue.
#[rstest::rstest]
#[case::default_threads(&[])]
#[case::one_thread(&["--test-threads", "1"])]
#[case::four_threads(&["--test-threads", "4"])]
fn measuring_cases_of_one_server_do_not_overlap(#[case] args: &[&str]) {
    let server = ScriptedServer::start_one_at_a_time(paced_ollama_routes());
    let ws = Workspace::new(&[("paced.toml", &four_checks(&server.url(), ""))]);
    let run = ws.run(args, &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let ttfts = ttfts(&ws);
    eprintln!("ttft with {args:?}: {ttfts:?}");
    for ttft in &ttfts {
        // A queued case would show at least 120 + 240 ms; slack below that for a loaded
        // machine running a debug build.
        assert!(
            (0.120..0.300).contains(ttft),
            "ttft {ttft}s: a queued case measured another case's generation: {ttfts:?}"
        );
    }
    for gap in arrival_gaps(&server) {
        assert!(
            gap >= Duration::from_millis(GENERATION_MS),
            "a request arrived {gap:?} after the previous one, while it was being served"
        );
    }
}

/// `measure_concurrently = true` is for servers meant to be measured under concurrent
/// requests: then the cases do overlap, and a server serving them at once still shows each
/// its own first token.
#[test]
fn a_target_may_be_measured_concurrently() {
    let server = ScriptedServer::start(paced_ollama_routes());
    let scenario = four_checks(&server.url(), "measure_concurrently = true\n");
    let ws = Workspace::new(&[("paced.toml", &scenario)]);
    let run = ws.run(&["--test-threads", "4"], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let gaps = arrival_gaps(&server);
    assert!(
        gaps.iter()
            .any(|gap| *gap < Duration::from_millis(GENERATION_MS)),
        "no two cases overlapped: {gaps:?}"
    );
    for ttft in ttfts(&ws) {
        assert!((0.120..0.300).contains(&ttft), "ttft {ttft}s");
    }
}

/// Whatever a server sends, `junit.xml` stays well-formed for real JUnit readers and the
/// terminal gets no raw escape sequence: control characters in an HTTP error body and in
/// an answer are shown escaped, and an answer containing `]]>` does not end the CDATA
/// section of `<system-out>` early.
#[test]
fn hostile_text_keeps_junit_well_formed_and_the_terminal_clean() {
    let chat = openai_stream(vec![
        content(r"x]]>y\u001b[31m\u0000"),
        sse(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#),
        sse("[DONE]"),
        Step::Close,
    ]);
    let server = ScriptedServer::start(vec![
        Route {
            method: "POST",
            path: "/v1/chat/completions",
            steps: chat,
        },
        Route {
            method: "POST",
            path: "/v1/completions",
            steps: respond(500, "text/plain", "boom \u{0}\u{7}\u{b}\u{1b}[2J"),
        },
    ]);
    let checks = "[[inference]]\nname = \"answer\"\nmodel = \"m\"\nmessages = [{ role = \"user\", content = \"hi\" }]\n\
                  [[inference]]\nname = \"error\"\nmodel = \"m\"\nprompt = \"hi\"\n";
    let ws = Workspace::new(&[("api.toml", &scenario("openai", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::api::answer", "ok");
    run.assert_outcome("inference::api::error", "FAILED");
    run.assert_says(r"boom \x00\x07\x0b\x1b[2J");
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{0}'),
        "raw control characters reached the terminal: {}",
        run.explain()
    );
    let script = r#"
import sys, xml.etree.ElementTree as ET
from junitparser import JUnitXml
ET.parse(sys.argv[1])
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        print(case.name, repr(case.system_out or ""), [r.message for r in case.result])
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(ws.out().join("junit.xml"))
        .output()
        .expect("python3 with junitparser (bash ci/setup-dev.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "junit.xml rejected: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        ws.read_out("junit.xml")
    );
    assert!(
        stdout.contains(r#"answer = "x]]>y\\u{1b}[31m\\0""#),
        "the answer reads back whole, escapes visible: {stdout}"
    );
    assert!(stdout.contains(r"boom \\x00\\x07\\x0b\\x1b[2J"), "{stdout}");
}

const OLLAMA_EMBED_TAGS: &str = r#"{"models":[{"name":"all-minilm:latest","model":"all-minilm:latest","modified_at":"2024-06-01T10:00:00.000000000Z","size":45960996,"digest":"1b226e2802db","details":{"format":"gguf","family":"bert","parameter_size":"23M","quantization_level":"F16"}}]}"#;

/// An Ollama server whose `/api/embed` answers `body`, after `delay_ms`, to every request.
fn ollama_embed_server(delay_ms: u64, body: &str) -> ScriptedServer {
    let mut embed = vec![ms(delay_ms)];
    embed.extend(respond(200, "application/json; charset=utf-8", body));
    ScriptedServer::start(vec![
        Route {
            method: "GET",
            path: "/api/tags",
            steps: respond(200, "application/json; charset=utf-8", OLLAMA_EMBED_TAGS),
        },
        Route {
            method: "POST",
            path: "/api/embed",
            steps: embed,
        },
    ])
}

#[test]
fn ollama_embeddings_figures_come_from_the_wire_format() {
    let body = r#"{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.05007221]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#;
    let server = ollama_embed_server(100, body);
    let checks = r#"
[[inference]]
name = "embed"
model = "all-minilm"
input = "Why is the sky blue?"
extra = { keep_alive = "5m", truncate = false }
expect = { dimensions = 3, latency = "< 2s", load_duration = "< 1s", prompt_tokens = "== 8" }
"#;
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let f = figures(&ws, "inference::ollama::embed");
    assert_eq!(number(&f, "dimensions"), 3.0);
    assert_eq!(number(&f, "prompt_tokens"), 8.0);
    assert!((number(&f, "load_duration") - 0.0010195).abs() < 1e-12);
    let latency = number(&f, "latency");
    assert!((0.1..2.0).contains(&latency), "latency {latency}");
    assert!((number(&f, "inputs_per_s") - 1.0 / latency).abs() < 1e-9);
    assert!(
        !f.contains_key("ttft") && !f.contains_key("output_tokens"),
        "no generation figures: {f:?}"
    );
    let requests = server.requests();
    let post = requests.iter().find(|r| r.path == "/api/embed").unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"model": "all-minilm", "input": "Why is the sky blue?", "keep_alive": "5m", "truncate": false})
    );
    assert!(
        ws.read_out("junit.xml")
            .contains("embeddings = 1 vector of 3 dimensions"),
        "{}",
        ws.read_out("junit.xml")
    );
}

/// Ollama itself cannot write a NaN (Go's encoding/json refuses to), but a proxy or another
/// server behind the same API can: every broken vector is named by its input, placed at the
/// check's `input`, and the batch still reports its figures.
#[test]
fn an_empty_or_non_finite_vector_fails_naming_its_input() {
    let body = r#"{"model":"all-minilm","embeddings":[[0.1,0.2,0.3],[],[0.4,NaN,0.6]],"total_duration":4000000,"prompt_eval_count":9}"#;
    let server = ollama_embed_server(0, body);
    let checks = "[[inference]]\nname = \"batch\"\nmodel = \"all-minilm\"\ninput = [\"a\", \"b\", \"c\"]\nexpect = { dimensions = 3 }\n";
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::ollama::batch", "FAILED");
    let file = ws.scenarios().join("ollama.toml").display().to_string();
    run.assert_says("POST http://127.0.0.1:");
    run.assert_says("/api/embed, model all-minilm, 3 inputs; 3 vectors of 3, 0, 3 dimensions:");
    // The check starts on line 5 of the file; `input` is on its line 8, column 9.
    run.assert_says(&format!(
        "{file}:8:9: vector of input 1: expected a non-empty list of numbers, observed an empty list"
    ));
    run.assert_says(&format!(
        "{file}:8:9: vector of input 2: expected finite values, observed NaN at position 1"
    ));
    assert!(
        !run.stdout.contains("vector of input 0"),
        "input 0 is fine: {}",
        run.explain()
    );
    let junit = ws.read_out("junit.xml");
    assert!(junit.contains("<failure type=\"answer\""), "{junit}");
    let f = figures(&ws, "inference::ollama::batch");
    assert_eq!(number(&f, "dimensions"), 3.0);
    assert_eq!(number(&f, "prompt_tokens"), 9.0);
}

#[test]
fn a_body_that_is_not_the_embeddings_wire_format_is_an_error_naming_the_field() {
    // The answer of Ollama's older /api/embeddings: one `embedding`, not a list of them.
    let server = ollama_embed_server(0, r#"{"embedding":[0.1,0.2]}"#);
    let checks = "[[inference]]\nname = \"e\"\nmodel = \"all-minilm\"\ninput = \"x\"\n";
    let ws = Workspace::new(&[("ollama.toml", &scenario("ollama", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::ollama::e", "FAILED");
    run.assert_says(&format!(
        "malformed embeddings response from {}/api/embed: no \"embeddings\" list in the body; does the server speak the api set in [target]?",
        server.url()
    ));
    assert!(ws.read_out("junit.xml").contains("<error type=\"request\""));
}

/// llama.cpp started without `--embeddings` refuses with 501 and says what to do.
#[test]
fn an_http_error_from_the_embeddings_endpoint_shows_its_message() {
    let body = r#"{"error":{"code":501,"message":"This server does not support embeddings. Start it with `--embeddings`","type":"not_supported_error"}}"#;
    let server = ScriptedServer::start(vec![Route {
        method: "POST",
        path: "/v1/embeddings",
        steps: respond(501, "application/json", body),
    }]);
    let checks = "[[inference]]\nname = \"e\"\nmodel = \"m\"\ninput = [\"a\", \"b\"]\n";
    let ws = Workspace::new(&[("api.toml", &scenario("openai", &server.url(), checks))]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("inference::api::e", "FAILED");
    run.assert_says(&format!(
        "{}/v1/embeddings answered HTTP 501: This server does not support embeddings. Start it with `--embeddings`",
        server.url()
    ));
}

/// A bad combination in an embeddings check fails its file's load case at the place where
/// it is written, and sends nothing.
#[test]
fn a_streamed_embeddings_check_is_a_load_error_at_its_stream_key() {
    let checks = "[[inference]]\nname = \"e\"\nmodel = \"m\"\ninput = \"x\"\nstream = true\nexpect = { ttft = \"< 1s\" }\n";
    let ws = Workspace::new(&[(
        "api.toml",
        &scenario("openai", "http://127.0.0.1:9", checks),
    )]);
    let run = ws.run(&[], &[]);
    run.assert_outcome("load::api", "FAILED");
    let file = ws.scenarios().join("api.toml").display().to_string();
    run.assert_says(&format!(
        "{file}:9:10: inference check \"e\": stream does not apply to embeddings"
    ));
    run.assert_says(&format!(
        "{file}:10:12: inference check \"e\": ttft is not measured for embeddings"
    ));
}
