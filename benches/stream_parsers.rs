//! Throughput of the streaming parsers, so the harness's own cost per chunk is
//! known next to the inter-token gaps it measures. Builds realistic OpenAI SSE
//! and Ollama NDJSON streams in memory and feeds them in 1,460-byte pieces, the
//! payload of a full TCP segment on an Ethernet link, as the network would.
//! The full paths go through the client's own [`Decoder`]: framing, JSON and
//! chunk reading, as a response is read.
//!
//! Run with `cargo bench --bench stream_parsers`.

use perfcase::inference::chunk::{from_ollama, from_openai};
use perfcase::inference::decode::{Decoder, Event};
use perfcase::stream::{ndjson::NdjsonParser, sse::SseParser};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CHUNKS: usize = 200_000;
const SEGMENT: usize = 1_460;
/// The parsers' line limit: the default `max_line`, so that the bench measures
/// what a run does, limit checks included.
const MAX_LINE: usize = 16 << 20;
/// Best of a few runs, to keep the figure free of one-off stalls while the
/// whole benchmark stays within a few seconds.
const RUNS: usize = 3;

const WORDS: [&str; 8] = [
    " the",
    " model",
    " streams",
    " tokens",
    ",",
    " one",
    " \u{e9}t\u{e9}",
    " \u{2014}",
];

fn main() {
    let sse = openai_stream(CHUNKS);
    let ndjson = ollama_stream(CHUNKS);
    println!("{CHUNKS} chunks per stream, fed in {SEGMENT}-byte pieces, best of {RUNS} runs");
    report("openai: sse framing", &sse, sse_framing);
    report("openai: sse + json + chunk", &sse, sse_decoded);
    report("ollama: ndjson framing", &ndjson, ndjson_framing);
    report("ollama: ndjson + json + chunk", &ndjson, ndjson_decoded);
}

/// An OpenAI-compatible chat stream as llama.cpp or vLLM sends it: a role
/// delta, one content delta per token, a finish chunk, a usage chunk, `[DONE]`.
fn openai_stream(tokens: usize) -> Vec<u8> {
    let head = r#"{"id":"chatcmpl-8f2c1a","object":"chat.completion.chunk","created":1718000000,"model":"llama-3.1-8b-instruct","system_fingerprint":"b4500-1d8e6a","choices":[{"index":0,"#;
    let mut out = String::new();
    out.push_str(&format!(
        "data: {head}\"delta\":{{\"role\":\"assistant\",\"content\":null}},\"finish_reason\":null}}]}}\n\n"
    ));
    for i in 0..tokens {
        let word = WORDS[i % WORDS.len()];
        out.push_str(&format!(
            "data: {head}\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        ));
    }
    out.push_str(&format!(
        "data: {head}\"delta\":{{}},\"finish_reason\":\"length\"}}]}}\n\n"
    ));
    out.push_str(&format!(
        "data: {{\"choices\":[],\"usage\":{{\"completion_tokens\":{tokens},\"prompt_tokens\":12}}}}\n\ndata: [DONE]\n\n"
    ));
    out.into_bytes()
}

/// An Ollama `/api/generate` stream: one object per token, then the summary.
fn ollama_stream(tokens: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..tokens {
        let word = WORDS[i % WORDS.len()];
        out.push_str(&format!(
            "{{\"model\":\"llama3.1:8b\",\"created_at\":\"2024-07-23T10:00:{:02}.{:06}Z\",\"response\":\"{word}\",\"done\":false}}\n",
            i / 1_000_000 % 60,
            i % 1_000_000
        ));
    }
    out.push_str(&format!(
        "{{\"model\":\"llama3.1:8b\",\"created_at\":\"2024-07-23T10:01:00Z\",\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"total_duration\":4935886791,\"load_duration\":534986708,\"prompt_eval_count\":26,\"prompt_eval_duration\":107345000,\"eval_count\":{tokens},\"eval_duration\":4289432000}}\n"
    ));
    out.into_bytes()
}

/// Runs `parse` over the stream `RUNS` times and prints its best rate.
fn report(name: &str, stream: &[u8], parse: fn(&[u8]) -> usize) {
    let mut best = Duration::MAX;
    let mut chunks = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        chunks = black_box(parse(black_box(stream)));
        best = best.min(started.elapsed());
    }
    let secs = best.as_secs_f64();
    println!(
        "{name:<38} {chunks:>7} chunks {:>8.1} ms {:>12.0} chunks/s {:>8.1} MB/s",
        secs * 1e3,
        chunks as f64 / secs,
        stream.len() as f64 / secs / 1e6
    );
}

fn sse_framing(stream: &[u8]) -> usize {
    let mut parser = SseParser::new(MAX_LINE);
    let mut events = Vec::new();
    let mut seen = 0;
    for piece in stream.chunks(SEGMENT) {
        parser.feed(piece, &mut events).unwrap();
        seen += events
            .drain(..)
            .map(|e| black_box(e).data.len().min(1))
            .sum::<usize>();
    }
    parser.finish(&mut events).unwrap();
    seen + events.len()
}

fn sse_decoded(stream: &[u8]) -> usize {
    decoded(stream, Decoder::sse(from_openai, MAX_LINE))
}

/// Splits the stream into lines without reading them as JSON.
fn ndjson_framing(stream: &[u8]) -> usize {
    let mut parser = NdjsonParser::new(|line| Ok(line.len()), MAX_LINE);
    let mut lines = Vec::new();
    let mut seen = 0;
    for piece in stream.chunks(SEGMENT) {
        parser.feed(piece, &mut lines).unwrap();
        seen += lines
            .drain(..)
            .map(|line| usize::from(black_box(line).is_ok()))
            .sum::<usize>();
    }
    parser.finish(&mut lines);
    seen + lines.len()
}

fn ndjson_decoded(stream: &[u8]) -> usize {
    decoded(stream, Decoder::ndjson(from_ollama, MAX_LINE))
}

/// Feeds the stream to `decoder` and counts the chunks it reads.
fn decoded(stream: &[u8], mut decoder: Decoder) -> usize {
    let mut events = Vec::new();
    let (mut content, mut decoded) = (0, 0);
    for piece in stream.chunks(SEGMENT) {
        decoder.feed(piece, &mut events).unwrap();
        for event in events.drain(..) {
            match black_box(event) {
                Event::Chunk(chunk) => content += usize::from(!chunk.content.is_empty()),
                Event::Done => continue,
                Event::Malformed(detail) => panic!("{detail}"),
            }
            decoded += 1;
        }
    }
    assert_eq!(content, CHUNKS, "every token decoded");
    decoded
}
