//! Turns the bytes of a generation response into chunks, whatever the framing:
//! SSE (OpenAI-compatible), NDJSON (Ollama), or one JSON body (non-streaming).
//! Each object is read by the flavour's chunk reader straight from its text.

use serde_json::Value;

use super::chunk::{self, Chunk};
use crate::stream::ndjson::{NdjsonError, NdjsonParser};
use crate::stream::sse::{SseEvent, SseParser};
use crate::text::excerpt;

/// Reads one object's JSON text into a chunk: [`chunk::from_openai`] or
/// [`chunk::from_ollama`].
pub type Reader = fn(&[u8]) -> serde_json::Result<Chunk>;

#[derive(Debug)]
pub enum Event {
    /// One stream object, or the whole body, as the reader read it.
    Chunk(Chunk),
    /// `data: [DONE]`, the end marker of OpenAI-style streams.
    Done,
    Malformed(String),
}

pub enum Decoder {
    Sse(SseParser, Vec<SseEvent>, Reader),
    Ndjson(NdjsonParser<Chunk>, Vec<Result<Chunk, NdjsonError>>),
    Whole(Vec<u8>, Reader),
}

impl Decoder {
    pub fn sse(read: Reader) -> Decoder {
        Decoder::Sse(SseParser::new(), Vec::new(), read)
    }

    pub fn ndjson(read: Reader) -> Decoder {
        Decoder::Ndjson(NdjsonParser::new(read), Vec::new())
    }

    pub fn whole(read: Reader) -> Decoder {
        Decoder::Whole(Vec::new(), read)
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        match self {
            Decoder::Sse(parser, events, read) => {
                parser.feed(bytes, events);
                out.extend(events.drain(..).map(|event| sse_event(event, *read)));
            }
            Decoder::Ndjson(parser, lines) => {
                parser.feed(bytes, lines);
                out.extend(lines.drain(..).map(ndjson_line));
            }
            Decoder::Whole(body, _) => body.extend_from_slice(bytes),
        }
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Decoder::Sse(parser, events, read) => {
                parser.finish(events);
                out.extend(events.drain(..).map(|event| sse_event(event, *read)));
            }
            Decoder::Ndjson(parser, lines) => {
                parser.finish(lines);
                out.extend(lines.drain(..).map(ndjson_line));
            }
            Decoder::Whole(body, read) => out.push(match read(body) {
                Ok(chunk) => Event::Chunk(chunk),
                Err(e) => Event::Malformed(format!(
                    "response body is not JSON ({e}): {:?}",
                    excerpt(&String::from_utf8_lossy(body), 200)
                )),
            }),
        }
    }
}

fn sse_event(event: SseEvent, read: Reader) -> Event {
    if event.event.as_deref() == Some("error") {
        let payload = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data));
        let error = chunk::error_message(&serde_json::json!({ "error": payload }));
        return Event::Chunk(Chunk {
            error,
            ..Chunk::default()
        });
    }
    if event.data.trim() == "[DONE]" {
        return Event::Done;
    }
    match read(event.data.as_bytes()) {
        Ok(chunk) => Event::Chunk(chunk),
        Err(e) => Event::Malformed(format!(
            "event data is not JSON ({e}): {:?}",
            excerpt(&event.data, 200)
        )),
    }
}

fn ndjson_line(line: Result<Chunk, NdjsonError>) -> Event {
    match line {
        Ok(chunk) => Event::Chunk(chunk),
        Err(e) => Event::Malformed(e.to_string()),
    }
}
