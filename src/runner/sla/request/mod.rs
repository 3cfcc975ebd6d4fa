//! The requests an sla check sends under load, as one type the engine runs
//! ([`LoadRequest`], over one variant per kind of request), so that a mix can hold
//! requests of different kinds.
//!
//! A plain GET with nothing to judge but its status goes to the engine's lean client
//! ([`HttpGet`], the fast path); any other HTTP request ([`http`]) and every model request
//! ([`model`]) to a reqwest client of the target's settings, one per worker, and each
//! answer is judged as its own kind judges one: a violated expectation is an
//! [`ErrorKind::Expectation`] error.
//!
//! Why a request failed is kept once per kind of error ([`Examples`]): the engine counts a
//! failure by its kind alone (a small `Copy` value, nothing allocated per request), and the
//! first message of each kind is kept here, on failure only, for the details of the case.

mod http;
mod model;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::catalog::case::SlaRequest;
use crate::client::RequestError;
use crate::load::{ErrorKind, HttpGet, Request, Resource, Sample, limits};
use crate::target::{Redactor, Target, TargetError};
use crate::text::{format_duration, printable};

/// How much of an example message the details quote.
const EXAMPLE_CHARS: usize = 400;

/// What a request sends, one variant per kind.
enum Sends<'a> {
    /// A plain GET, sent by the engine's lean client.
    Get {
        get: HttpGet,
        url: &'a str,
    },
    Http(http::Http<'a>),
    Model(model::ModelRequest<'a>),
}

/// What one worker keeps from one request to the next: the lean client's connection, or
/// a reqwest client of its own (see [`model`]'s doc for why not one shared).
pub enum Worker {
    Get(<HttpGet as Request>::Worker),
    Client(reqwest::Client),
}

/// Why it could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Url(#[from] crate::load::http::UrlError),
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// One request of an sla check, ready for the engine: what it sends, and the first
/// message of each kind of its failures.
pub struct LoadRequest<'a> {
    sends: Sends<'a>,
    examples: Examples,
}

impl<'a> LoadRequest<'a> {
    /// The check's request, built for sending; `redactor` masks what a judged answer
    /// quotes. Resolves a GET's host name, which blocks: call it off the tokio workers.
    pub fn new(
        request: &'a SlaRequest,
        redactor: &Redactor,
    ) -> Result<LoadRequest<'a>, BuildError> {
        let sends = match request {
            SlaRequest::Get { url } => Sends::Get {
                get: HttpGet::new(url)?,
                url,
            },
            SlaRequest::Http { target, spec } => Sends::Http(http::Http {
                via: Via::new(target, redactor.clone())?,
                spec,
            }),
            SlaRequest::Model { target, spec, slo } => Sends::Model(model::ModelRequest {
                via: Via::new(target, redactor.clone())?,
                spec,
                slo: slo.as_ref(),
            }),
        };
        Ok(LoadRequest {
            sends,
            examples: Examples::default(),
        })
    }

    /// The first message of each kind of failure so far.
    pub fn examples(&self) -> BTreeMap<ErrorKind, String> {
        self.examples.taken()
    }
}

impl Request for LoadRequest<'_> {
    type Worker = Worker;

    fn worker(&self) -> Worker {
        match &self.sends {
            Sends::Get { get, .. } => Worker::Get(get.worker()),
            Sends::Http(http) => Worker::Client(http.via.client()),
            Sends::Model(model) => Worker::Client(model.via.client()),
        }
    }

    async fn send(&self, worker: &mut Worker) -> Result<Sample, ErrorKind> {
        let examples = &self.examples;
        match (&self.sends, worker) {
            (Sends::Get { get, url }, Worker::Get(connection)) => {
                let outcome = get.send(connection).await;
                if let Err(kind) = outcome {
                    examples.keep(kind, || lean_failure(kind, url));
                }
                outcome
            }
            // Boxed: their futures are large beside the lean GET's, which then stays small.
            (Sends::Http(http), Worker::Client(client)) => {
                Box::pin(http.send(client, examples)).await
            }
            (Sends::Model(model), Worker::Client(client)) => {
                Box::pin(model.send(client, examples)).await
            }
            // Not reached: a worker is made by its own request, or for a mix by its first
            // part, and a mix never holds a lean GET (see `catalog::expand::sla`), so every
            // part of it sends over the client its first part made.
            _ => {
                debug_assert!(false, "a lean GET was sent over a client, or the reverse");
                Err(ErrorKind::Stream)
            }
        }
    }
}

/// What the lean client's failure of `kind` means, in words (it reports kinds only).
fn lean_failure(kind: ErrorKind, url: &str) -> String {
    match kind {
        ErrorKind::Status(status @ 300..=399) => format!(
            "GET {url} answered HTTP {status}, a redirect, which the lean client of a plain GET does not follow (a smoke check would); write the final path in `get`, or add an `expect` to send it through the full client, which follows it"
        ),
        ErrorKind::Status(status) => format!("GET {url} answered HTTP {status}"),
        ErrorKind::Connect => format!("could not connect to {url}"),
        ErrorKind::Stream => format!(
            "the answer to GET {url} broke off or was not HTTP/1.1 (cut short, malformed, or a header block over {} bytes)",
            crate::load::http::BUFFER
        ),
        other => format!("GET {url} failed: {other}"),
    }
}

/// Where a reqwest-sent request goes, one client of the target's settings per worker,
/// and the redactor of what a judged answer quotes.
struct Via<'a> {
    target: &'a Target,
    redactor: Redactor,
    /// The first client, built to find a setting the client refuses before the run.
    first: reqwest::Client,
}

impl<'a> Via<'a> {
    fn new(target: &'a Target, redactor: Redactor) -> Result<Via<'a>, TargetError> {
        Ok(Via {
            target,
            redactor,
            first: target.new_client()?,
        })
    }

    /// A worker's own client. Built once already with the same settings by
    /// [`Via::new`], so this does not fail; if it somehow did, sharing that first client
    /// is the lesser harm.
    fn client(&self) -> reqwest::Client {
        self.target
            .new_client()
            .unwrap_or_else(|_| self.first.clone())
    }
}

/// The engine's kind of a transport failure; this machine's own limits (out of file
/// descriptors or local ports) apart, as the lean client counts them, so that the run
/// ends in the one message that says what to change.
fn transport_kind(error: &RequestError) -> ErrorKind {
    match error {
        RequestError::Exhausted { errno, .. } => {
            limits::connect_error(&std::io::Error::from_raw_os_error(*errno))
        }
        RequestError::Refused { .. }
        | RequestError::Dns { .. }
        | RequestError::Tls { .. }
        | RequestError::ConnectTimeout { .. } => ErrorKind::Connect,
        RequestError::Timeout { .. } | RequestError::BodyTimeout { .. } => ErrorKind::Timeout,
        _ => ErrorKind::Stream,
    }
}

/// The first message of each kind of failure, shared by every worker of every generator
/// thread. Its message is built only when it is the first of its kind, and once a kind
/// has one, a failure of that kind costs one atomic read ([`Examples::kept`]), not a
/// lock: a run where every request fails (a server answering 404 at 100,000 requests/s)
/// must not serialise its generator threads on this.
#[derive(Debug, Default)]
pub struct Examples {
    messages: Mutex<BTreeMap<ErrorKind, String>>,
    /// One bit per kind with a message (see [`bit`]).
    kept: [AtomicU64; KIND_WORDS],
}

/// Words of [`Examples::kept`]: a bit for each status code from 0 to 999, then the others.
const KIND_WORDS: usize = 16;

impl Examples {
    /// Keeps `message()` as the example of `kind`, unless one is kept already.
    pub fn keep(&self, kind: ErrorKind, message: impl FnOnce() -> String) {
        let bit = bit(kind);
        if bit.is_some_and(|(word, mask)| self.kept[word].load(Ordering::Relaxed) & mask != 0) {
            return;
        }
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.entry(kind).or_insert_with(message);
        if let Some((word, mask)) = bit {
            self.kept[word].fetch_or(mask, Ordering::Relaxed);
        }
    }

    fn taken(&self) -> BTreeMap<ErrorKind, String> {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The word and mask of a kind's bit in [`Examples::kept`]; `None` for a kind without one
/// (it takes the lock every time, which is correct, only slower).
fn bit(kind: ErrorKind) -> Option<(usize, u64)> {
    let index = match kind {
        ErrorKind::Status(code) if code < 1000 => usize::from(code),
        ErrorKind::Status(_) => return None,
        ErrorKind::Timeout => 1000,
        ErrorKind::Connect => 1001,
        ErrorKind::Stream => 1002,
        ErrorKind::Expectation => 1003,
        ErrorKind::Exhausted(Resource::Files) => 1004,
        ErrorKind::Exhausted(Resource::Ports) => 1005,
    };
    Some((index / 64, 1 << (index % 64)))
}

/// Says why requests failed of the kinds the request never saw: the engine itself gives up
/// on a request at the plan's `timeout`, dropping it unanswered.
pub fn engine_examples(
    examples: &mut BTreeMap<ErrorKind, String>,
    failed: impl IntoIterator<Item = ErrorKind>,
    timeout: Duration,
) {
    for kind in failed {
        if kind == ErrorKind::Timeout {
            examples.entry(kind).or_insert_with(|| {
                format!(
                    "no whole answer within {} (the request's timeout); raise timeout or check the server's load",
                    format_duration(timeout)
                )
            });
        }
    }
}

/// One line per kind of failure with its first message, secrets masked before it is cut
/// and made printable: `first expectation error: text: expected ...`.
pub fn example_lines(examples: &BTreeMap<ErrorKind, String>, redactor: &Redactor) -> Vec<String> {
    examples
        .iter()
        .map(|(kind, message)| {
            let message = redactor.excerpt(message, EXAMPLE_CHARS);
            format!("first {kind} error: {}", printable(&message))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Secret;
    use rstest::rstest;

    #[rstest]
    #[case::files(libc::EMFILE, ErrorKind::Exhausted(Resource::Files))]
    #[case::system_files(libc::ENFILE, ErrorKind::Exhausted(Resource::Files))]
    #[case::ports(libc::EADDRNOTAVAIL, ErrorKind::Exhausted(Resource::Ports))]
    fn a_client_out_of_files_or_ports_is_counted_as_this_machines_limit(
        #[case] errno: i32,
        #[case] kind: ErrorKind,
    ) {
        let error = RequestError::Exhausted {
            url: "http://127.0.0.1:1/".into(),
            errno,
            detail: String::new(),
        };
        assert_eq!(transport_kind(&error), kind);
        let other = RequestError::Other {
            url: "http://127.0.0.1:1/".into(),
            detail: "connection closed before message completed".into(),
        };
        assert_eq!(transport_kind(&other), ErrorKind::Stream);
    }

    #[test]
    fn the_first_message_of_each_kind_is_kept_and_later_ones_are_not_built() {
        let examples = Examples::default();
        examples.keep(ErrorKind::Expectation, || "first".into());
        examples.keep(ErrorKind::Expectation, || panic!("built a second message"));
        examples.keep(ErrorKind::Status(503), || "busy".into());
        let kept = examples.taken();
        assert_eq!(kept[&ErrorKind::Expectation], "first");
        assert_eq!(kept[&ErrorKind::Status(503)], "busy");
        assert_eq!(kept.len(), 2);
    }

    #[rstest]
    #[case::statuses(ErrorKind::Status(404), ErrorKind::Status(500))]
    #[case::status_and_timeout(ErrorKind::Status(999), ErrorKind::Timeout)]
    #[case::resources(
        ErrorKind::Exhausted(Resource::Files),
        ErrorKind::Exhausted(Resource::Ports)
    )]
    fn kinds_have_bits_of_their_own(#[case] one: ErrorKind, #[case] other: ErrorKind) {
        assert_ne!(bit(one), bit(other));
        let examples = Examples::default();
        examples.keep(one, || "one".into());
        examples.keep(other, || "other".into());
        assert_eq!(examples.taken().len(), 2);
    }

    #[test]
    fn example_lines_are_masked_printable_and_short() {
        let secret = "Bearer sk-EXAMPLE-SECRET-0123456789";
        let redactor = Redactor::new(&[Secret::Header(secret.into())]);
        let examples = BTreeMap::from([
            (
                ErrorKind::Expectation,
                format!("body: expected \"ok\", observed \"{secret}\x1b[31m\""),
            ),
            (ErrorKind::Status(500), "x".repeat(1000)),
        ]);
        let lines = example_lines(&examples, &redactor);
        assert_eq!(
            lines[0],
            "first http 500 error: ".to_string() + &"x".repeat(400) + "… (600 more characters)"
        );
        assert_eq!(
            lines[1],
            "first expectation error: body: expected \"ok\", observed \"[REDACTED]\\x1b[31m\""
        );
    }

    #[test]
    fn a_timeout_the_engine_gave_is_said_unless_the_request_said_one() {
        let mut examples = BTreeMap::from([(ErrorKind::Status(500), "busy".to_string())]);
        let failed = [ErrorKind::Status(500), ErrorKind::Timeout];
        engine_examples(&mut examples, failed, Duration::from_secs(2));
        assert_eq!(examples[&ErrorKind::Status(500)], "busy");
        assert_eq!(
            examples[&ErrorKind::Timeout],
            "no whole answer within 2s (the request's timeout); raise timeout or check the server's load"
        );
        let mut said = BTreeMap::from([(ErrorKind::Timeout, "slow".to_string())]);
        engine_examples(&mut said, [ErrorKind::Timeout], Duration::from_secs(2));
        assert_eq!(said[&ErrorKind::Timeout], "slow");
    }

    #[rstest]
    #[case::status(ErrorKind::Status(404), "GET http://h/x answered HTTP 404")]
    #[case::connect(ErrorKind::Connect, "could not connect to http://h/x")]
    #[case::redirect(
        ErrorKind::Status(301),
        "GET http://h/x answered HTTP 301, a redirect, which the lean client of a plain GET does not follow (a smoke check would); write the final path in `get`, or add an `expect` to send it through the full client, which follows it"
    )]
    fn the_lean_clients_failures_are_said_in_words(#[case] kind: ErrorKind, #[case] said: &str) {
        assert_eq!(lean_failure(kind, "http://h/x"), said);
    }

    #[rstest]
    #[case::refused(RequestError::Refused { url: "u".into() }, ErrorKind::Connect)]
    #[case::timeout(RequestError::Timeout { url: "u".into(), after: std::time::Duration::ZERO }, ErrorKind::Timeout)]
    #[case::reset(RequestError::Reset { url: "u".into(), detail: "d".into() }, ErrorKind::Stream)]
    fn transport_failures_have_the_engines_kinds(
        #[case] error: RequestError,
        #[case] expected: ErrorKind,
    ) {
        assert_eq!(transport_kind(&error), expected);
    }
}
