//! One plain HTTP request, timed from send to first body byte and to last body byte.

use std::time::{Duration, Instant};

use tokio::time::timeout_at;

use super::RequestError;
use super::body::{announced_length, read_body};
use crate::scenario::Size;
use crate::target::Target;

/// A request ready to send: method, path, query, headers and body.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: reqwest::header::HeaderMap,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    Text(String),
}

/// What came back; plain data, so that judging needs no network.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub latency: Duration,
}

/// The response plus the time to the first body byte (`ttfb` in the metric definitions).
#[derive(Debug, Clone)]
pub struct Timed {
    pub response: Response,
    pub ttfb: Duration,
}

/// Sends one request and reads the whole body, all within `timeout` and `max_body`.
pub async fn send(
    target: &Target,
    request: &HttpRequest,
    timeout: Duration,
    max_body: Size,
) -> Result<Timed, RequestError> {
    let client = shared_client(target, &request.path)?;
    send_with(client, target, request, timeout, max_body).await
}

/// The target's shared client, or why it could not be built, as a failure of a request
/// to `path`.
pub fn shared_client<'t>(
    target: &'t Target,
    path: &str,
) -> Result<&'t reqwest::Client, RequestError> {
    target.client().map_err(|e| RequestError::Other {
        url: target.url(path),
        detail: e.to_string(),
    })
}

/// [`send`] with a client other than the target's shared one (see
/// [`Target::new_client`]): a load's worker sends on a client of its own.
pub async fn send_with(
    client: &reqwest::Client,
    target: &Target,
    request: &HttpRequest,
    timeout: Duration,
    max_body: Size,
) -> Result<Timed, RequestError> {
    let url = target.url(&request.path);
    let mut builder = client
        .request(request.method.clone(), &url)
        .headers(request.headers.clone());
    if !request.query.is_empty() {
        builder = builder.query(&request.query);
    }
    builder = match &request.body {
        Body::Empty => builder,
        Body::Json(json) => builder.json(json),
        Body::Text(text) => builder.body(text.clone()),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let (started, response) = match timeout_at(deadline, send_once_more_if_stale(builder)).await {
        Err(_) => {
            return Err(RequestError::Timeout {
                url,
                after: timeout,
            });
        }
        Ok((started, response)) => (
            started,
            response.map_err(|e| RequestError::classify(&url, &e, target.connect_timeout))?,
        ),
    };
    let status = response.status().as_u16();
    let mut body = Vec::with_capacity(announced_length(&response, &url, max_body)?);
    let ttfb = match timeout_at(
        deadline,
        read_body(response, &url, max_body, started, &mut body),
    )
    .await
    {
        Err(_) => {
            return Err(RequestError::BodyTimeout {
                url,
                after: timeout,
                arrived: body.len() as u64,
            });
        }
        Ok(ttfb) => ttfb?,
    };
    let latency = started.elapsed();
    Ok(Timed {
        response: Response {
            status,
            body,
            latency,
        },
        ttfb: ttfb.unwrap_or(latency),
    })
}

/// A connection the server had closed before our request arrived fails at once; one that
/// the server dropped while working on the request fails later. Only the first is resent.
const STALE_WINDOW: Duration = Duration::from_millis(100);

/// Sends a request, and sends it once more when the pooled connection it went out on turned
/// out to be closed already: hyper reports "connection closed before message completed"
/// within moments of sending, the server having answered nothing. Servers such as
/// llama.cpp's close keep-alive connections without announcing it, which races with their
/// reuse; that race is the client's, not a fault of the server under test. A failure later
/// than [`STALE_WINDOW`] (a server that crashed on the request) is reported, not resent.
/// Returns when the answered attempt was sent, which is where latencies count from.
pub async fn send_once_more_if_stale(
    builder: reqwest::RequestBuilder,
) -> (Instant, Result<reqwest::Response, reqwest::Error>) {
    let retry = builder.try_clone();
    let started = Instant::now();
    let result = builder.send().await;
    match (result, retry) {
        (Err(e), Some(retry)) if is_stale_connection(&e) && started.elapsed() < STALE_WINDOW => {
            (Instant::now(), retry.send().await)
        }
        (result, _) => (started, result),
    }
}

fn is_stale_connection(error: &reqwest::Error) -> bool {
    super::error::chain(error).contains("connection closed before message completed")
}
