//! One generation request, streamed or not, timed chunk by chunk.
//!
//! The same code path serves a real Ollama, llama.cpp, vLLM or any OpenAI-compatible
//! server: only the framing (SSE or NDJSON) and the chunk reader differ by flavour.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::time::timeout_at;

use super::chunk::{self, ServerCounts};
use super::decode::{Decoder, Event, Reader};
use super::metrics::{InferenceMetrics, Timeline, compute};
use super::request::GenerationRequest;
use crate::client::RequestError;
use crate::client::body::{announced_length, read_body};
use crate::client::error::RAISE_MAX_BODY;
use crate::client::http::{send_once_more_if_stale, shared_client};
use crate::scenario::{Api, Size};
use crate::stream::TooLong;
use crate::target::Target;
use crate::text::{excerpt, format_duration};

/// What came back: the answer and its metrics.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub finish_reason: Option<String>,
    pub metrics: InferenceMetrics,
}

/// Progress so far, quoted by every error so the operator sees how far the stream got.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub bytes: usize,
    pub chunks: usize,
    pub text: String,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "after {} bytes, {} chunk{}, text so far {:?}",
            self.bytes,
            self.chunks,
            if self.chunks == 1 { "" } else { "s" },
            excerpt(&self.text, 120)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("no token from {url} within {} ({progress}); raise first_token_timeout or check the server's load", format_duration(*.after))]
    FirstTokenTimeout {
        url: String,
        after: Duration,
        progress: Progress,
    },
    #[error("response from {url} not complete within {} ({progress}); raise timeout or lower max tokens", format_duration(*.after))]
    Timeout {
        url: String,
        after: Duration,
        progress: Progress,
    },
    #[error("stream from {url} ended before its final object ({progress}){}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Cut {
        url: String,
        progress: Progress,
        detail: Option<String>,
    },
    #[error("malformed response from {url}: {detail} ({progress})")]
    Malformed {
        url: String,
        detail: String,
        progress: Progress,
    },
    #[error("server error from {url}: {message} ({progress})")]
    Server {
        url: String,
        message: String,
        progress: Progress,
    },
    #[error("response from {url} exceeded max_body {limit} in {} ({progress}); {}", format_duration(*.after), RAISE_MAX_BODY)]
    TooLarge {
        url: String,
        limit: Size,
        after: Duration,
        progress: Progress,
    },
    #[error(
        "a stream {} from {url} exceeded max_line {limit} before it ended ({progress}); raise max_line in [target] or in the check if the server's lines are really that long",
        .what.noun()
    )]
    LineTooLong {
        url: String,
        what: TooLong,
        limit: Size,
        progress: Progress,
    },
}

/// Limits for one request: the whole exchange, the first generated token, every byte of
/// the response (`max_body`, streamed or not: a stream that never ends is bounded in bytes
/// as well as in time), and the longest line or SSE event of a stream.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total: Duration,
    pub first_token: Duration,
    pub max_body: Size,
    pub max_line: Size,
}

/// Accumulates a response as events arrive.
struct Collector {
    timeline: Timeline,
    progress: Progress,
    finish_reason: Option<String>,
    counts: ServerCounts,
    done: bool,
}

impl Collector {
    /// Takes one decoded event that arrived `at` seconds after the request was sent.
    fn accept(&mut self, event: Event, at: f64, url: &str) -> Result<(), GenerationError> {
        let chunk = match event {
            Event::Done => {
                self.done = true;
                return Ok(());
            }
            Event::Malformed(detail) => {
                return Err(GenerationError::Malformed {
                    url: url.into(),
                    detail,
                    progress: self.progress.clone(),
                });
            }
            Event::Chunk(chunk) => chunk,
        };
        self.progress.chunks += 1;
        if let Some(message) = chunk.error {
            return Err(GenerationError::Server {
                url: url.into(),
                message,
                progress: self.progress.clone(),
            });
        }
        if !chunk.content.is_empty() {
            self.timeline.content_chunks_s.push(at);
            self.progress.text.push_str(&chunk.content);
        }
        if chunk.finish_reason.is_some() {
            self.finish_reason = chunk.finish_reason;
        }
        chunk::merge(&mut self.counts, &chunk.server);
        self.done |= chunk.done;
        Ok(())
    }

    fn cut(self, url: String, detail: Option<String>) -> GenerationError {
        GenerationError::Cut {
            url,
            progress: self.progress,
            detail,
        }
    }

    fn too_long(self, url: String, what: TooLong, limit: Size) -> GenerationError {
        GenerationError::LineTooLong {
            url,
            what,
            limit,
            progress: self.progress,
        }
    }
}

pub async fn generate(
    target: &Target,
    request: &GenerationRequest,
    limits: Limits,
) -> Result<Generation, GenerationError> {
    let client = shared_client(target, request.path)?;
    generate_with(client, target, request, limits).await
}

/// [`generate`] with a client other than the target's shared one (see
/// [`Target::new_client`]).
pub async fn generate_with(
    client: &reqwest::Client,
    target: &Target,
    request: &GenerationRequest,
    limits: Limits,
) -> Result<Generation, GenerationError> {
    let url = target.url(request.path);
    // Serialized before the clock starts: building the body is not the server's time.
    let builder = client.post(&url).json(&request.body);
    let started = Instant::now();
    // Only a stream can show a first token before the whole answer.
    let first_token_limit = if request.stream {
        limits.first_token.min(limits.total)
    } else {
        limits.total
    };
    let first_deadline = tokio::time::Instant::from_std(started + first_token_limit);
    let mut collector = Collector {
        timeline: Timeline {
            streamed: request.stream,
            ..Timeline::default()
        },
        progress: Progress::default(),
        finish_reason: None,
        counts: ServerCounts::default(),
        done: false,
    };
    let too_slow = |before_first_token: bool, progress: &Progress| {
        if before_first_token && first_token_limit < limits.total {
            GenerationError::FirstTokenTimeout {
                url: url.clone(),
                after: first_token_limit,
                progress: progress.clone(),
            }
        } else {
            GenerationError::Timeout {
                url: url.clone(),
                after: limits.total,
                progress: progress.clone(),
            }
        }
    };
    let (sent, response) = match timeout_at(first_deadline, send_once_more_if_stale(builder)).await
    {
        Err(_) => return Err(too_slow(true, &collector.progress)),
        Ok((_, Err(e))) => {
            return Err(RequestError::classify(&url, &e, target.connect_timeout).into());
        }
        Ok((sent, Ok(response))) => (sent, response),
    };
    // Figures and the remaining limits count from the send that was answered (see
    // send_once_more_if_stale).
    let since_start = || sent.elapsed().as_secs_f64();
    let deadline = tokio::time::Instant::from_std(sent + limits.total);
    let first_deadline = tokio::time::Instant::from_std(sent + first_token_limit);
    let status = response.status();
    if !status.is_success() {
        // The message is in the start of the body: what arrived within the timeout and
        // max_body is quoted, whether or not the rest came.
        let mut body = Vec::new();
        let _ = timeout_at(
            deadline,
            read_body(response, &url, limits.max_body, sent, &mut body),
        )
        .await;
        return Err(GenerationError::Http {
            url,
            status: status.as_u16(),
            message: error_message(&String::from_utf8_lossy(&body)),
        });
    }
    let read: Reader = match target.api {
        Api::Ollama => chunk::from_ollama,
        _ => chunk::from_openai,
    };
    let announced = announced_length(&response, &url, limits.max_body)?;
    let (max_body, max_line) = (limits.max_body.as_usize(), limits.max_line.as_usize());
    let mut decoder = match (request.stream, target.api) {
        (false, _) => Decoder::whole(read, announced, max_body),
        (true, Api::Ollama) => Decoder::ndjson(read, max_line),
        (true, _) => Decoder::sse(read, max_line),
    };
    let mut body = response.bytes_stream();
    let mut events = Vec::new();
    while !collector.done {
        let waiting_for_first = collector.timeline.content_chunks_s.is_empty();
        let limit = if waiting_for_first {
            first_deadline
        } else {
            deadline
        };
        let piece = match timeout_at(limit, body.next()).await {
            Err(_) => return Err(too_slow(waiting_for_first, &collector.progress)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(collector.cut(url, Some(describe(&e)))),
            Ok(Some(Ok(piece))) => piece,
        };
        // One clock reading per read: events that arrived together arrived at once.
        let at = since_start();
        if collector.timeline.first_byte_s.is_none() && !piece.is_empty() {
            collector.timeline.first_byte_s = Some(at);
        }
        collector.progress.bytes += piece.len();
        if collector.progress.bytes > max_body {
            return Err(GenerationError::TooLarge {
                url,
                limit: limits.max_body,
                after: sent.elapsed(),
                progress: collector.progress,
            });
        }
        let fed = decoder.feed(&piece, &mut events);
        for event in events.drain(..) {
            if collector.done {
                // Whatever follows the final object is not part of the answer.
                break;
            }
            collector.accept(event, at, &url)?;
        }
        if let (Err(e), false) = (fed, collector.done) {
            return Err(collector.too_long(url, e, limits.max_line));
        }
    }
    if !collector.done {
        // End of body: a non-streamed body is parsed now; a stream may hold one last event
        // without its terminator. Anything unparsable here is a cut, not a malformed event.
        let finished = decoder.finish(&mut events);
        let at = since_start();
        for event in events.drain(..) {
            if let (Event::Malformed(detail), true) = (&event, request.stream) {
                let detail = format!("its last, unterminated piece: {detail}");
                return Err(collector.cut(url, Some(detail)));
            }
            collector.accept(event, at, &url)?;
        }
        if let (Err(e), false) = (finished, collector.done) {
            return Err(collector.too_long(url, e, limits.max_line));
        }
        if !request.stream {
            collector.done = true;
        }
    }
    collector.timeline.end_s = since_start();
    if !collector.done {
        return Err(collector.cut(url, None));
    }
    if !request.stream {
        // One body: its content arrived with its last byte, which is the latency.
        collector.timeline.content_chunks_s.clear();
    }
    Ok(Generation {
        metrics: compute(&collector.timeline, &collector.counts),
        text: collector.progress.text,
        finish_reason: collector.finish_reason,
    })
}

/// A transport failure in the middle of a body, in words: the whole error chain.
fn describe(error: &reqwest::Error) -> String {
    let chain = crate::client::error::chain(error);
    if chain.to_ascii_lowercase().contains("connection reset") {
        format!("the server reset the connection ({chain})")
    } else {
        chain
    }
}

/// The message of a JSON error body (`{"error": {"message": ...}}`, `{"error": "..."}`,
/// `{"message": ...}`), else the body itself, shortened.
pub fn error_message(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = json.as_ref().and_then(|v| {
        chunk::error_message(v).or_else(|| {
            v["detail"]
                .as_str()
                .map(|d| excerpt(d, chunk::ERROR_EXCERPT))
        })
    });
    match message {
        Some(message) => message,
        None if body.trim().is_empty() => "(empty body)".into(),
        None => excerpt(body.trim(), 300),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(
        r#"{"error":{"message":"model 'x' not found","type":"invalid_request_error"}}"#,
        "model 'x' not found"
    )]
    #[case(
        r#"{"error":"model \"phi3\" not found, try pulling it first"}"#,
        "model \"phi3\" not found, try pulling it first"
    )]
    #[case(r#"{"object":"error","message":"bad","code":400}"#, "bad")]
    #[case("Bad Gateway", "Bad Gateway")]
    #[case("", "(empty body)")]
    fn error_messages(#[case] body: &str, #[case] expected: &str) {
        assert_eq!(error_message(body), expected);
    }
}
