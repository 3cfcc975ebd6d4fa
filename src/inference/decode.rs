//! Turns the bytes of a generation response into chunks, whatever the framing:
//! SSE (OpenAI-compatible), NDJSON (Ollama), or one JSON body (non-streaming).
//! Each object is read by the flavour's chunk reader straight from its text.

use serde_json::Value;

use super::chunk::{self, Chunk};
use crate::client::body::reserve_within;
use crate::stream::TooLong;
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

/// The framing of one response, each bounded: a stream by its parser's longest line, a
/// whole body by the caller, who counts every byte against `max_body` before feeding it.
pub enum Decoder {
    Sse(SseParser, Vec<SseEvent>, Reader),
    Ndjson(NdjsonParser<Chunk>, Vec<Result<Chunk, NdjsonError>>),
    /// The body so far, the reader, and the most it will hold (`max_body`).
    Whole(Vec<u8>, Reader, usize),
}

impl Decoder {
    pub fn sse(read: Reader, max_line: usize) -> Decoder {
        Decoder::Sse(SseParser::new(max_line), Vec::new(), read)
    }

    pub fn ndjson(read: Reader, max_line: usize) -> Decoder {
        Decoder::Ndjson(NdjsonParser::new(read, max_line), Vec::new())
    }

    /// A body read whole, with room for `announced` bytes from the start (see
    /// [`announced_length`](crate::client::body::announced_length)).
    pub fn whole(read: Reader, announced: usize, max_body: usize) -> Decoder {
        Decoder::Whole(Vec::with_capacity(announced), read, max_body)
    }

    /// Takes the next piece; the events it completed are in `out` even when a line or
    /// event over its limit ends the stream.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), TooLong> {
        match self {
            Decoder::Sse(parser, events, read) => {
                let fed = parser.feed(bytes, events);
                out.extend(events.drain(..).map(|event| sse_event(event, *read)));
                fed
            }
            Decoder::Ndjson(parser, lines) => {
                let fed = parser.feed(bytes, lines);
                out.extend(lines.drain(..).map(ndjson_line));
                fed
            }
            Decoder::Whole(body, _, max_body) => {
                reserve_within(body, bytes.len(), *max_body);
                body.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), TooLong> {
        match self {
            Decoder::Sse(parser, events, read) => {
                let finished = parser.finish(events);
                out.extend(events.drain(..).map(|event| sse_event(event, *read)));
                finished
            }
            Decoder::Ndjson(parser, lines) => {
                parser.finish(lines);
                out.extend(lines.drain(..).map(ndjson_line));
                Ok(())
            }
            Decoder::Whole(body, read, _) => {
                out.push(match read(body) {
                    Ok(chunk) => Event::Chunk(chunk),
                    Err(e) => Event::Malformed(format!(
                        "response body is not JSON ({e}): {:?}",
                        excerpt(&String::from_utf8_lossy(body), 200)
                    )),
                });
                Ok(())
            }
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
