//! Incremental decoders for the two streaming framings inference servers use:
//! server-sent events (OpenAI-compatible APIs, llama.cpp) and newline-delimited
//! JSON (Ollama).
//!
//! Both parsers are fed whatever bytes the network hands over, as they arrive,
//! rather than a finished body: time to first token and inter-token latency are
//! measured from the moment each event is complete, so an event must be handed
//! out as soon as its last byte is in, not when the response ends. The pieces
//! follow TCP segment and TLS record boundaries, not the protocol's, so a line
//! or event can be split anywhere, even inside a multi-byte UTF-8 character.
//! The parsers therefore keep the unfinished tail of a line as raw bytes and
//! decode text only once the whole line is there.
//!
//! What they keep is bounded: a line (or an SSE event) longer than the limit
//! each parser is built with is an error that ends the stream, found as soon
//! as the kept tail would outgrow the limit, not when the line ends, which it
//! may never do.

pub mod ndjson;
pub mod sse;

/// A line, or an SSE event, longer than the parser may keep. Framing cannot go
/// on past it without keeping it whole, so it ends the stream; the values
/// completed before it have been handed out. The caller, who set the limit,
/// names it in its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooLong {
    #[error("a line longer than the limit")]
    Line,
    /// SSE data lines that add up past the limit without the blank line that
    /// ends their event.
    #[error("an event longer than the limit")]
    Event,
}

impl TooLong {
    /// What was too long, in a word: `line` or `event`.
    pub fn noun(self) -> &'static str {
        match self {
            TooLong::Line => "line",
            TooLong::Event => "event",
        }
    }

    /// `Err(self)` when a line or event of `len` bytes is over `limit`.
    fn check(self, len: usize, limit: usize) -> Result<(), TooLong> {
        if len > limit { Err(self) } else { Ok(()) }
    }
}

/// Cuts test input into pieces the way a network would, so the tests can check
/// that the parsers do not depend on where the cuts fall.
#[cfg(test)]
pub(crate) mod pieces {
    /// Every way a test feeds one input: whole, one byte at a time (the worst case for
    /// state kept between pieces), cut in two at every offset, and 50 seeded random cuts
    /// (reproducible from the seed named in the label).
    pub(crate) fn cuts(input: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
        let mut all = vec![
            ("whole".to_string(), vec![input]),
            ("byte by byte".to_string(), input.chunks(1).collect()),
        ];
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            all.push((format!("split at {at}"), vec![a, b]));
        }
        for seed in 0..50 {
            all.push((format!("seed {seed}"), random(input, seed, 16)));
        }
        all
    }

    /// Feeds one byte after another to a parser until it refuses one: how many
    /// went in. With no limit to reach it would not end: for tests of limits.
    pub(crate) fn fed_until_refused(
        mut feed: impl FnMut(&[u8]) -> Result<(), super::TooLong>,
    ) -> usize {
        let mut fed = 0;
        while feed(b"x").is_ok() {
            fed += 1;
        }
        fed
    }

    /// Pieces of 1 to `max` bytes with lengths from a seeded generator.
    fn random(input: &[u8], seed: u64, max: usize) -> Vec<&[u8]> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rest = input;
        let mut out = Vec::new();
        while !rest.is_empty() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % max as u64) as usize + 1;
            let (head, tail) = rest.split_at(len.min(rest.len()));
            out.push(head);
            rest = tail;
        }
        out
    }
}
