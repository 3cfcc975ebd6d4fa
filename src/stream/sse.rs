//! Server-sent events, decoded by the rules of the WHATWG "event stream
//! interpretation" that matter for inference servers: any of LF, CRLF or CR ends
//! a line, `:` starts a comment, `data:` lines accumulate and a blank line
//! dispatches them. `id:` and `retry:` only matter to a browser reconnecting, so
//! they are ignored.

use std::borrow::Cow;

use super::TooLong;

/// What a UTF-8 byte order mark looks like; the spec drops one at the very
/// start of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` type; `None` stands for the spec's default, `message`.
    pub event: Option<String>,
    /// The event's `data:` lines, joined with `\n`.
    pub data: String,
}

/// Turns the bytes of an event stream, in pieces of any size, into events.
#[derive(Debug)]
pub struct SseParser {
    /// The start of a line whose end has not arrived yet, kept as bytes so
    /// that a character split between pieces is decoded whole.
    partial: Vec<u8>,
    /// The last piece ended with CR: if the next one starts with LF, that LF
    /// completes a CRLF rather than ending an empty line.
    after_cr: bool,
    /// A byte order mark is only stripped from the stream's first line.
    started: bool,
    event: Option<String>,
    /// The data lines so far, as bytes: the event's text is decoded once, when
    /// it is dispatched, rather than line by line.
    data: Vec<u8>,
    /// Whether a `data:` line was seen, since `data:` with an empty value still
    /// makes an event.
    has_data: bool,
    /// The longest line, and the longest event data (its lines joined): the
    /// most `partial`, and `data`, ever hold.
    max_line: usize,
}

impl SseParser {
    pub fn new(max_line: usize) -> Self {
        Self {
            partial: Vec::new(),
            after_cr: false,
            started: false,
            event: None,
            data: Vec::new(),
            has_data: false,
            max_line,
        }
    }

    /// Parses the next piece of the stream, appending each event completed by
    /// it to `out` straight away, so that arrival times stay accurate. A line,
    /// or an event's data, longer than `max_line` ends the stream with an
    /// error, the events before it handed out.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), TooLong> {
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        while let Some(end) = line_end(rest) {
            self.fits(end)?;
            self.end_line(&rest[..end], out)?;
            let mut next = end + 1;
            if rest[end] == b'\r' {
                match rest.get(next) {
                    Some(b'\n') => next += 1,
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            rest = &rest[next..];
        }
        self.fits(rest.len())?;
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Ends the stream. Unlike a browser, which drops an event the stream
    /// ended in the middle of, this dispatches it: servers that close the
    /// connection right after their last `data:` line still sent that data.
    /// The parser is then ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), TooLong> {
        let line = std::mem::take(&mut self.partial);
        let last = if line.is_empty() {
            Ok(())
        } else {
            self.line(&line, out)
        };
        if last.is_ok() {
            self.dispatch(out);
        }
        *self = Self::new(self.max_line);
        last
    }

    /// Whether the line begun in earlier pieces, continued by `more` bytes, is
    /// within `max_line`.
    fn fits(&self, more: usize) -> Result<(), TooLong> {
        TooLong::Line.check(self.partial.len() + more, self.max_line)
    }

    /// Completes the line begun in earlier pieces with `tail`. A line that
    /// arrived whole is parsed where it lies, without copying.
    fn end_line(&mut self, tail: &[u8], out: &mut Vec<SseEvent>) -> Result<(), TooLong> {
        if self.partial.is_empty() {
            return self.line(tail, out);
        }
        let mut line = std::mem::take(&mut self.partial);
        line.extend_from_slice(tail);
        let parsed = self.line(&line, out);
        line.clear();
        self.partial = line;
        parsed
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), TooLong> {
        let line = if self.started {
            line
        } else {
            self.started = true;
            line.strip_prefix(BOM).unwrap_or(line)
        };
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return Ok(()),
            Some(colon) => (&line[..colon], strip_one_space(&line[colon + 1..])),
            None => (line, &[][..]),
        };
        match name {
            b"data" => self.push_data(value),
            b"event" => {
                self.event = (!value.is_empty()).then(|| text(value).into_owned());
                Ok(())
            }
            // Not in the SSE standard: some llama.cpp versions report a failure mid-stream
            // as an `error:` field. Kept as an event named "error" so it is not lost.
            b"error" => {
                self.event = Some("error".into());
                self.push_data(value)
            }
            _ => Ok(()),
        }
    }

    /// Adds a data line to the event; many short lines without the blank line
    /// that ends an event are as endless as one long line, so the event's data
    /// is held to `max_line` too.
    fn push_data(&mut self, value: &[u8]) -> Result<(), TooLong> {
        let joined = self.data.len() + usize::from(self.has_data) + value.len();
        TooLong::Event.check(joined, self.max_line)?;
        if self.has_data {
            self.data.push(b'\n');
        }
        self.has_data = true;
        self.data.extend_from_slice(value);
        Ok(())
    }

    /// A blank line: hands out the event if it has data, and starts the next
    /// one afresh either way, as the spec does.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if std::mem::take(&mut self.has_data) {
            let data = owned_text(std::mem::take(&mut self.data));
            out.push(SseEvent { event, data });
        }
    }
}

fn strip_one_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Where the first LF or CR in `bytes` is. Lines of event data run to
/// hundreds of bytes, so blocks of 16 are checked at once, in a form the
/// compiler turns into vector instructions, before the byte is looked for.
fn line_end(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 16;
    let is_end = |b: &u8| *b == b'\n' || *b == b'\r';
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut start = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |any, b| any | is_end(b)) {
            return block.iter().position(is_end).map(|at| start + at);
        }
        start += BLOCK;
    }
    blocks
        .remainder()
        .iter()
        .position(is_end)
        .map(|at| start + at)
}

/// Borrows when the bytes are valid UTF-8, which is nearly always.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Takes over the bytes when they are valid UTF-8, which is nearly always.
fn owned_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::pieces;
    use rstest::rstest;

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.to_owned(),
        }
    }

    fn typed(event: &str, d: &str) -> SseEvent {
        SseEvent {
            event: Some(event.to_owned()),
            data: d.to_owned(),
        }
    }

    fn parse<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
        let (out, error) = parse_bounded(pieces, 1 << 20);
        assert_eq!(error, None);
        out
    }

    /// Feeds pieces until the first error: the events handed out, and the error.
    fn parse_bounded<'a>(
        pieces: impl IntoIterator<Item = &'a [u8]>,
        max_line: usize,
    ) -> (Vec<SseEvent>, Option<TooLong>) {
        let mut parser = SseParser::new(max_line);
        let mut out = Vec::new();
        for piece in pieces {
            if let Err(e) = parser.feed(piece, &mut out) {
                return (out, Some(e));
            }
        }
        let error = parser.finish(&mut out).err();
        (out, error)
    }

    const OPENAI: &str = concat!(
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"h\u{e9}llo \u{20ac}\"}}]}\n\n",
        ": keep-alive\n\n",
        "data: [DONE]\n\n",
    );

    #[rstest]
    #[case::lf("data: a\n\ndata: b\n\n", vec![data("a"), data("b")])]
    #[case::crlf("data: a\r\n\r\ndata: b\r\n\r\n", vec![data("a"), data("b")])]
    #[case::cr("data: a\r\rdata: b\r\r", vec![data("a"), data("b")])]
    #[case::mixed_line_ends("data: a\r\ndata: b\rdata: c\n\r\n", vec![data("a\nb\nc")])]
    #[case::comment(": ping\n\ndata: a\n: mid-event\n\n", vec![data("a")])]
    #[case::multi_line_data("data: a\ndata:\ndata: c\n\n", vec![data("a\n\nc")])]
    #[case::one_space_stripped("data:a\n\ndata:  b\n\n", vec![data("a"), data(" b")])]
    #[case::colon_in_value("data: {\"a\":1}\n\n", vec![data("{\"a\":1}")])]
    #[case::field_without_colon("data\n\n", vec![data("")])]
    #[case::event_type("event: delta\ndata: x\n\ndata: y\n\n", vec![typed("delta", "x"), data("y")])]
    #[case::empty_event_type_is_default("event:\ndata: x\n\n", vec![data("x")])]
    #[case::no_data_no_event("event: ping\n\ndata: x\n\n", vec![data("x")])]
    #[case::id_retry_unknown_ignored("id: 7\nretry: 10\nfoo: bar\ndata: x\n\n", vec![data("x")])]
    #[case::done_sentinel("data: {}\n\ndata: [DONE]\n\n", vec![data("{}"), data("[DONE]")])]
    #[case::bom_at_start("\u{feff}data: x\n\n", vec![data("x")])]
    #[case::unterminated_last_event("data: a\n\ndata: b", vec![data("a"), data("b")])]
    #[case::unterminated_after_line_end("data: a\n", vec![data("a")])]
    #[case::utf8("data: h\u{e9}llo \u{20ac} \u{1f600}\n\n", vec![data("h\u{e9}llo \u{20ac} \u{1f600}")])]
    #[case::openai_stream(OPENAI, vec![
        data("{\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}"),
        data("{\"choices\":[{\"delta\":{\"content\":\"h\u{e9}llo \u{20ac}\"}}]}"),
        data("[DONE]"),
    ])]
    #[case::empty("", vec![])]
    fn parses_the_same_however_the_stream_is_cut(
        #[case] input: &str,
        #[case] expected: Vec<SseEvent>,
    ) {
        for (how, cut) in pieces::cuts(input.as_bytes()) {
            assert_eq!(parse(cut), expected, "{how}");
        }
    }

    #[rstest]
    #[case::none("x".repeat(40), None)]
    #[case::first(format!("\n{}", "x".repeat(40)), Some(0))]
    #[case::end_of_first_block(format!("{}\r{}", "x".repeat(15), "x".repeat(20)), Some(15))]
    #[case::start_of_second_block(format!("{}\n", "x".repeat(16)), Some(16))]
    #[case::in_the_remainder(format!("{}\r\n", "x".repeat(35)), Some(35))]
    #[case::earliest_of_several(format!("{}\r{}\n", "x".repeat(20), "x".repeat(2)), Some(20))]
    fn line_end_finds_the_first_lf_or_cr(#[case] bytes: String, #[case] end: Option<usize>) {
        assert_eq!(line_end(bytes.as_bytes()), end);
    }

    #[test]
    fn dispatches_as_soon_as_the_blank_line_arrives() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(b"data: a\n", &mut out).unwrap();
        assert!(out.is_empty());
        parser.feed(b"\n", &mut out).unwrap();
        assert_eq!(out, vec![data("a")]);
        parser.feed(b"data: b\r\r", &mut out).unwrap();
        assert_eq!(out, vec![data("a"), data("b")]);
    }

    #[test]
    fn lf_after_a_piece_ending_in_cr_completes_crlf() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(b"data: a\r", &mut out).unwrap();
        parser.feed(b"", &mut out).unwrap();
        parser.feed(b"\ndata: b\r\n\r\n", &mut out).unwrap();
        assert_eq!(out, vec![data("a\nb")]);
    }

    #[test]
    fn character_split_between_pieces_is_decoded_whole() {
        let euro = "\u{20ac}".as_bytes();
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(b"data: ", &mut out).unwrap();
        parser.feed(&euro[..1], &mut out).unwrap();
        parser.feed(&euro[1..2], &mut out).unwrap();
        parser.feed(&euro[2..], &mut out).unwrap();
        parser.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(out, vec![data("\u{20ac}")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let out = parse([&b"data: a\xFFb\n\n"[..]]);
        assert_eq!(out, vec![data("a\u{fffd}b")]);
    }

    #[test]
    fn finish_readies_the_parser_for_a_new_stream() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(b"event: x\ndata: a", &mut out).unwrap();
        parser.finish(&mut out).unwrap();
        parser.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
        assert_eq!(out, vec![typed("x", "a"), data("b")]);
    }

    #[rstest]
    #[case::line_at_the_limit("data: ab\n\n", vec![data("ab")], None)]
    #[case::line_over("data: a\n\ndata: abc\n\ndata: c\n\n", vec![data("a")], Some(TooLong::Line))]
    #[case::comment_over("data: a\n\n: keep-alive\n\n", vec![data("a")], Some(TooLong::Line))]
    #[case::cr_ended_line_over("data: a\r\rdata: abc\r\r", vec![data("a")], Some(TooLong::Line))]
    #[case::never_ends("data: a\n\ndata: {\"content\":\"xxxxxxxx", vec![data("a")], Some(TooLong::Line))]
    #[case::event_at_the_limit("data:abc\ndata:abc\ndata:\n\n", vec![data("abc\nabc\n")], None)]
    #[case::event_over("data:abc\ndata:abc\ndata:a\n\ndata: x\n\n", vec![], Some(TooLong::Event))]
    #[case::event_never_dispatched("data: a\n\ndata: b\ndata: c\ndata: d\ndata: e\ndata: f\n", vec![data("a")], Some(TooLong::Event))]
    #[case::unterminated_event_over("data:abc\ndata:abc\ndata:a", vec![], Some(TooLong::Event))]
    fn a_line_or_event_over_max_line_ends_the_stream_however_it_is_cut(
        #[case] input: &str,
        #[case] before: Vec<SseEvent>,
        #[case] error: Option<TooLong>,
    ) {
        for (how, cut) in pieces::cuts(input.as_bytes()) {
            assert_eq!(parse_bounded(cut, 8), (before.clone(), error), "{how}");
        }
    }

    #[test]
    fn an_endless_line_is_refused_once_it_outgrows_max_line_never_kept_whole() {
        let mut parser = SseParser::new(1000);
        let mut out = Vec::new();
        parser.feed(b"data: ", &mut out).unwrap();
        let fed = pieces::fed_until_refused(|byte| parser.feed(byte, &mut out));
        assert_eq!((fed, parser.partial.len()), (994, 1000));
        let mut parser = SseParser::new(1000);
        let piece = [b"data: ".as_slice(), &[b'x'; 1 << 20]].concat();
        assert!(parser.feed(&piece, &mut out).is_err());
        assert!(parser.partial.is_empty(), "a big piece is not copied");
    }
}
