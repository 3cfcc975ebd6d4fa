//! Response bodies read into memory, never more than `max_body` of them.
//!
//! A server that never ends its body (a broken proxy, an endless chunked stream) would
//! otherwise grow the harness until the timeout fires or the machine runs out of memory;
//! and a large body that does fit should cost its own size, not twice that in buffers.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::RequestError;
use crate::scenario::Size;

/// The most reserved before any byte arrives; a body beyond it grows by doubling.
const MAX_UP_FRONT: usize = 16 * 1024 * 1024;

/// The length a response announces for its body (`content-length`), 0 when it announces
/// none, as the capacity to reserve: hyper holds the server to that length, so reserving
/// it spares a big body every copy from one doubled buffer to the next. An announced
/// length over `limit` is refused at once, before a byte of it is read.
pub fn announced_length(
    response: &reqwest::Response,
    url: &str,
    limit: Size,
) -> Result<usize, RequestError> {
    match response.content_length() {
        Some(length) if length > limit.0 => Err(RequestError::AnnouncedTooLarge {
            url: url.to_string(),
            limit,
            length,
        }),
        // Not more up front than a real answer needs: a server may announce gigabytes it
        // never sends, and one failed allocation aborts the process without artifacts.
        Some(length) => Ok(limit.as_usize().min(length as usize).min(MAX_UP_FRONT)),
        None => Ok(0),
    }
}

/// Makes room for `more` bytes in a body that is never to hold more than `limit`:
/// doubling, as `Vec` does, but not past the limit, so that a body just over half the limit
/// does not reserve twice its size.
pub fn reserve_within(body: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = body.len() + more;
    if needed <= body.capacity() {
        return;
    }
    let grown = body.capacity().saturating_mul(2).min(limit).max(needed);
    body.reserve_exact(grown - body.len());
}

/// Reads the rest of a response into `body`, failing as soon as more than `limit` bytes
/// have arrived; the time to its first byte (counted from `started`), if one came. The
/// caller bounds it in time: `body` keeps what arrived when the read is dropped.
pub async fn read_body(
    response: reqwest::Response,
    url: &str,
    limit: Size,
    started: Instant,
    body: &mut Vec<u8>,
) -> Result<Option<Duration>, RequestError> {
    let mut ttfb = None;
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        // A body in flight is past connecting: no connect timeout to name.
        let piece = piece.map_err(|e| RequestError::classify(url, &e, Duration::ZERO))?;
        if ttfb.is_none() && !piece.is_empty() {
            ttfb = Some(started.elapsed());
        }
        let arrived = body.len() + piece.len();
        if arrived > limit.as_usize() {
            return Err(RequestError::BodyTooLarge {
                url: url.to_string(),
                limit,
                arrived: arrived as u64,
                after: started.elapsed(),
            });
        }
        reserve_within(body, piece.len(), limit.as_usize());
        body.extend_from_slice(&piece);
    }
    Ok(ttfb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::fits(100, 10, 1000, 100)]
    #[case::doubles(100, 101, 1000, 200)]
    #[case::at_least_what_is_needed(100, 350, 1000, 350)]
    #[case::not_past_the_limit(600, 601, 1000, 1000)]
    #[case::the_limit_exactly(1000, 1000, 1000, 1000)]
    #[case::from_nothing(0, 5, 1000, 5)]
    fn grows_by_doubling_up_to_the_limit(
        #[case] capacity: usize,
        #[case] len: usize,
        #[case] limit: usize,
        #[case] expected: usize,
    ) {
        let mut body = Vec::with_capacity(capacity);
        body.resize(len.min(capacity), 0);
        let more = len - body.len();
        reserve_within(&mut body, more, limit);
        assert_eq!(body.capacity(), expected);
    }
}
