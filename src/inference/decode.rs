//! Turns the bytes of a generation response into JSON objects, whatever the framing:
//! SSE (OpenAI-compatible), NDJSON (Ollama), or one JSON body (non-streaming).

use serde_json::Value;

use crate::stream::ndjson::NdjsonParser;
use crate::stream::sse::{SseEvent, SseParser};
use crate::text::excerpt;

#[derive(Debug)]
pub enum Event {
    Json(Value),
    /// `data: [DONE]`, the end marker of OpenAI-style streams.
    Done,
    Malformed(String),
}

pub enum Decoder {
    Sse(SseParser, Vec<SseEvent>),
    Ndjson(NdjsonParser),
    Whole(Vec<u8>),
}

impl Decoder {
    pub fn sse() -> Decoder {
        Decoder::Sse(SseParser::new(), Vec::new())
    }

    pub fn ndjson() -> Decoder {
        Decoder::Ndjson(NdjsonParser::new())
    }

    pub fn whole() -> Decoder {
        Decoder::Whole(Vec::new())
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        match self {
            Decoder::Sse(parser, events) => {
                parser.feed(bytes, events);
                out.extend(events.drain(..).map(sse_event));
            }
            Decoder::Ndjson(parser) => {
                let mut lines = Vec::new();
                parser.feed(bytes, &mut lines);
                out.extend(lines.into_iter().map(ndjson_line));
            }
            Decoder::Whole(body) => body.extend_from_slice(bytes),
        }
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Decoder::Sse(parser, events) => {
                parser.finish(events);
                out.extend(events.drain(..).map(sse_event));
            }
            Decoder::Ndjson(parser) => {
                let mut lines = Vec::new();
                parser.finish(&mut lines);
                out.extend(lines.into_iter().map(ndjson_line));
            }
            Decoder::Whole(body) => out.push(match serde_json::from_slice(body) {
                Ok(json) => Event::Json(json),
                Err(e) => Event::Malformed(format!(
                    "response body is not JSON ({e}): {:?}",
                    excerpt(&String::from_utf8_lossy(body), 200)
                )),
            }),
        }
    }
}

fn sse_event(event: SseEvent) -> Event {
    if event.event.as_deref() == Some("error") {
        let payload = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data));
        return Event::Json(serde_json::json!({ "error": payload }));
    }
    if event.data.trim() == "[DONE]" {
        return Event::Done;
    }
    match serde_json::from_str(&event.data) {
        Ok(json) => Event::Json(json),
        Err(e) => Event::Malformed(format!(
            "event data is not JSON ({e}): {:?}",
            excerpt(&event.data, 200)
        )),
    }
}

fn ndjson_line(line: Result<Value, crate::stream::ndjson::NdjsonError>) -> Event {
    match line {
        Ok(json) => Event::Json(json),
        Err(e) => Event::Malformed(e.to_string()),
    }
}
