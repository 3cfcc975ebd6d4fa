//! One generation request, streamed or not, timed chunk by chunk.
//!
//! The same code path serves a real Ollama, llama.cpp, vLLM or any OpenAI-compatible
//! server: only the framing (SSE or NDJSON) and the chunk reader differ by flavour.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::time::timeout_at;

use super::chunk::{self, Chunk, ServerCounts};
use super::decode::{Decoder, Event};
use super::metrics::{InferenceMetrics, Timeline, compute};
use super::request::GenerationRequest;
use crate::client::RequestError;
use crate::judge::excerpt;
use crate::scenario::Api;
use crate::scenario::duration::format_duration;
use crate::target::Target;

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
}

/// Limits for one request: the whole exchange, and the first generated token.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total: Duration,
    pub first_token: Duration,
}

/// Accumulates a response as events arrive.
struct Collector {
    api: Api,
    started: Instant,
    timeline: Timeline,
    progress: Progress,
    finish_reason: Option<String>,
    counts: ServerCounts,
    done: bool,
}

impl Collector {
    fn accept(&mut self, event: Event, url: &str) -> Result<(), GenerationError> {
        let json = match event {
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
            Event::Json(json) => json,
        };
        let chunk: Chunk = match self.api {
            Api::Ollama => chunk::from_ollama(&json),
            _ => chunk::from_openai(&json),
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
            let at = self.started.elapsed().as_secs_f64();
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
}

pub async fn generate(
    target: &Target,
    request: &GenerationRequest,
    limits: Limits,
) -> Result<Generation, GenerationError> {
    let url = target.url(request.path);
    let client = target.client().map_err(|e| RequestError::Other {
        url: url.clone(),
        detail: e.to_string(),
    })?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + limits.total);
    let first_deadline =
        tokio::time::Instant::from_std(started + limits.first_token.min(limits.total));
    let mut collector = Collector {
        api: target.api,
        started,
        timeline: Timeline {
            streamed: request.stream,
            ..Timeline::default()
        },
        progress: Progress::default(),
        finish_reason: None,
        counts: ServerCounts::default(),
        done: false,
    };
    let first_token_timeout = |progress: &Progress| GenerationError::FirstTokenTimeout {
        url: url.clone(),
        after: limits.first_token.min(limits.total),
        progress: progress.clone(),
    };
    let response = match timeout_at(first_deadline, client.post(&url).json(&request.body).send())
        .await
    {
        Err(_) => return Err(first_token_timeout(&collector.progress)),
        Ok(Err(e)) => return Err(RequestError::classify(&url, &e, target.connect_timeout).into()),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let body = timeout_at(deadline, response.bytes()).await;
        let text = match body {
            Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        return Err(GenerationError::Http {
            url,
            status: status.as_u16(),
            message: error_message(&text),
        });
    }
    let mut decoder = match (request.stream, target.api) {
        (false, _) => Decoder::whole(),
        (true, Api::Ollama) => Decoder::ndjson(),
        (true, _) => Decoder::sse(),
    };
    let mut body = response.bytes_stream();
    let mut events = Vec::new();
    loop {
        let limit = if collector.timeline.content_chunks_s.is_empty() && request.stream {
            first_deadline
        } else {
            deadline
        };
        let piece = match timeout_at(limit, body.next()).await {
            Err(_) if limit == first_deadline && limit < deadline => {
                return Err(first_token_timeout(&collector.progress));
            }
            Err(_) => {
                return Err(GenerationError::Timeout {
                    url,
                    after: limits.total,
                    progress: collector.progress,
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(GenerationError::Cut {
                    url,
                    progress: collector.progress,
                    detail: Some(
                        RequestError::classify("", &e, target.connect_timeout).to_string(),
                    ),
                });
            }
            Ok(Some(Ok(piece))) => piece,
        };
        if collector.timeline.first_byte_s.is_none() && !piece.is_empty() {
            collector.timeline.first_byte_s = Some(started.elapsed().as_secs_f64());
        }
        collector.progress.bytes += piece.len();
        decoder.feed(&piece, &mut events);
        for event in events.drain(..) {
            collector.accept(event, &url)?;
        }
    }
    decoder.finish(&mut events);
    for event in events.drain(..) {
        collector.accept(event, &url)?;
    }
    if !request.stream {
        // One body: its content arrived with its last byte, which is also the latency.
        collector.done = true;
        collector.timeline.content_chunks_s.clear();
    }
    collector.timeline.end_s = started.elapsed().as_secs_f64();
    if !collector.done {
        return Err(GenerationError::Cut {
            url,
            progress: collector.progress,
            detail: None,
        });
    }
    let text = collector.progress.text.clone();
    Ok(Generation {
        metrics: compute(&collector.timeline, &collector.counts),
        text,
        finish_reason: collector.finish_reason,
    })
}

/// The message of a JSON error body (`{"error": {"message": ...}}`, `{"error": "..."}`,
/// `{"message": ...}`), else the body itself, shortened.
pub fn error_message(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = json.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["message"].as_str())
            .or_else(|| v["detail"].as_str())
    });
    match message {
        Some(message) => message.to_string(),
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
