//! Transport failures, classified so that the report says what to do, not just what broke.

use std::error::Error as _;
use std::time::Duration;

use crate::scenario::Size;
use crate::text::format_duration;

/// What every message about an answer over `max_body` advises.
pub const RAISE_MAX_BODY: &str =
    "raise max_body in [target] or in the check if the answer is really that large";

/// Infrastructure errors: the check could not be judged, as opposed to a threshold miss.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("connection refused by {url}: nothing listens there; start the server or fix base_url")]
    Refused { url: String },
    #[error("cannot resolve the host of {url}: {detail}; check base_url and DNS")]
    Dns { url: String, detail: String },
    #[error("TLS handshake with {url} failed: {detail}; check the certificate or use http://")]
    Tls { url: String, detail: String },
    #[error("could not connect to {url} within {}: {detail}; is the host reachable? (raise connect_timeout if it is just slow)", format_duration(*.after))]
    ConnectTimeout {
        url: String,
        after: Duration,
        detail: String,
    },
    #[error("{url} did not answer within {}; raise timeout or check the server's load", format_duration(*.after))]
    Timeout { url: String, after: Duration },
    /// Said apart from [`RequestError::Timeout`]: a server that sends and sends has
    /// answered, and the bytes that came show whether it is slow or endless.
    #[error("{url} did not finish its response within {} ({arrived} bytes of its body arrived); raise timeout or check the server's load", format_duration(*.after))]
    BodyTimeout {
        url: String,
        after: Duration,
        arrived: u64,
    },
    #[error("response body from {url} exceeded max_body {limit} ({arrived} bytes arrived in {}); {}", format_duration(*.after), RAISE_MAX_BODY)]
    BodyTooLarge {
        url: String,
        limit: Size,
        arrived: u64,
        after: Duration,
    },
    #[error(
        "{url} announced a response body of {length} bytes (content-length), more than max_body {limit}; {}",
        RAISE_MAX_BODY
    )]
    AnnouncedTooLarge {
        url: String,
        limit: Size,
        length: u64,
    },
    #[error(
        "{url} reset the connection before answering (did the server crash or drop the request? check its log): {detail}"
    )]
    Reset { url: String, detail: String },
    /// This machine, not the server, ran out of what a connection needs: file descriptors
    /// (EMFILE, ENFILE) or local ports (EADDRNOTAVAIL); `errno` says which.
    #[error(
        "could not open a connection to {url}: this machine ran out of file descriptors or local ports ({detail}); raise the open-files limit or open fewer connections"
    )]
    Exhausted {
        url: String,
        errno: i32,
        detail: String,
    },
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
}

impl RequestError {
    /// Classifies a reqwest error by walking its source chain, where hyper and the OS put
    /// the real reason.
    pub fn classify(url: &str, error: &reqwest::Error, connect_timeout: Duration) -> RequestError {
        let detail = chain(error);
        let lower = detail.to_ascii_lowercase();
        let url = url.to_string();
        if let Some(errno) = exhausted_errno(&detail) {
            RequestError::Exhausted { url, errno, detail }
        } else if lower.contains("connection refused") {
            RequestError::Refused { url }
        } else if lower.contains("connection reset") {
            RequestError::Reset { url, detail }
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            RequestError::Dns { url, detail }
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            // rustls's words for a peer that does not speak TLS at all (a plain HTTP port).
            || lower.contains("corrupt message")
        {
            RequestError::Tls { url, detail }
        } else if error.is_connect() && error.is_timeout()
            || lower.contains("connect timeout")
            || (error.is_connect() && lower.contains("timed out"))
        {
            RequestError::ConnectTimeout {
                url,
                after: connect_timeout,
                detail,
            }
        } else {
            RequestError::Other { url, detail }
        }
    }
}

/// The OS error of a connection this machine could not open for want of file descriptors
/// or local ports, as std writes it in the error's source chain
/// (`Too many open files (os error 24)`).
fn exhausted_errno(detail: &str) -> Option<i32> {
    [libc::EMFILE, libc::ENFILE, libc::EADDRNOTAVAIL]
        .into_iter()
        .find(|errno| detail.contains(&format!("(os error {errno})")))
}

/// The error and all its sources, joined, without repeating a source that is already
/// contained in the text before it.
pub fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::files(
        "error sending request: client error (Connect): tcp open error: Too many open files (os error 24)",
        Some(libc::EMFILE)
    )]
    #[case::system_files(
        "tcp open error: Too many open files in system (os error 23)",
        Some(libc::ENFILE)
    )]
    #[case::ports(
        "tcp connect error: Cannot assign requested address (os error 99)",
        Some(libc::EADDRNOTAVAIL)
    )]
    #[case::refused("tcp connect error: Connection refused (os error 111)", None)]
    #[case::other("connection closed before message completed", None)]
    fn a_connection_this_machine_could_not_open_is_told_apart(
        #[case] detail: &str,
        #[case] errno: Option<i32>,
    ) {
        assert_eq!(exhausted_errno(detail), errno);
    }
}
