//! Newline-delimited JSON: one JSON value per line, as Ollama streams its
//! responses. Each line is read where it lies by a reader the caller chooses
//! (a typed chunk reader, or `serde_json::from_slice` for a `Value`), so no
//! line is copied or built into a tree it does not need. A line that is not
//! valid JSON is reported and skipped, so one bad line does not hide the rest
//! of the stream.

use super::TooLong;

/// How much of a bad line an error quotes: enough to recognise it, little
/// enough to keep a report readable.
const EXCERPT_CHARS: usize = 120;

#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    #[error("line {line}: not valid JSON ({source}): {excerpt}")]
    Malformed {
        line: usize,
        excerpt: String,
        source: serde_json::Error,
    },
}

/// Reads one line's JSON text into a value.
pub type LineReader<T> = fn(&[u8]) -> serde_json::Result<T>;

/// Turns the bytes of an NDJSON stream, in pieces of any size, into values.
#[derive(Debug)]
pub struct NdjsonParser<T> {
    read: LineReader<T>,
    /// The start of a line whose end has not arrived yet, kept as bytes so
    /// that a character split between pieces is decoded whole.
    partial: Vec<u8>,
    /// Lines seen so far, blank ones included, so errors point at the line a
    /// person would count to.
    lines: usize,
    /// The longest line, in bytes before its newline, and so the most
    /// `partial` ever holds.
    max_line: usize,
}

impl<T> NdjsonParser<T> {
    pub fn new(read: LineReader<T>, max_line: usize) -> Self {
        Self {
            read,
            partial: Vec::new(),
            lines: 0,
            max_line,
        }
    }

    /// Parses the next piece of the stream, appending a result for each
    /// non-blank line completed by it to `out` straight away, so that arrival
    /// times stay accurate. A line longer than `max_line` ends the stream
    /// with an error, the lines before it handed out.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Result<T, NdjsonError>>,
    ) -> Result<(), TooLong> {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.fits(end)?;
            self.end_line(&rest[..end], out);
            rest = &rest[end + 1..];
        }
        self.fits(rest.len())?;
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Whether the line begun in earlier pieces, continued by `more` bytes, is
    /// within `max_line`.
    fn fits(&self, more: usize) -> Result<(), TooLong> {
        TooLong::Line.check(self.partial.len() + more, self.max_line)
    }

    /// Ends the stream, parsing a last line that has no newline after it (a
    /// non-streaming body usually ends that way). The parser is then ready for
    /// a new stream.
    pub fn finish(&mut self, out: &mut Vec<Result<T, NdjsonError>>) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, out);
        }
        *self = Self::new(self.read, self.max_line);
    }

    /// Completes the line begun in earlier pieces with `tail`. A line that
    /// arrived whole is parsed where it lies, without copying.
    fn end_line(&mut self, tail: &[u8], out: &mut Vec<Result<T, NdjsonError>>) {
        if self.partial.is_empty() {
            self.line(tail, out);
            return;
        }
        let mut line = std::mem::take(&mut self.partial);
        line.extend_from_slice(tail);
        self.line(&line, out);
        line.clear();
        self.partial = line;
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Result<T, NdjsonError>>) {
        self.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let parsed = (self.read)(line).map_err(|source| NdjsonError::Malformed {
            line: self.lines,
            excerpt: excerpt(line),
            source,
        });
        out.push(parsed);
    }
}

/// The line as text, trimmed and cut to [`EXCERPT_CHARS`].
fn excerpt(line: &[u8]) -> String {
    crate::text::excerpt(String::from_utf8_lossy(line).trim(), EXCERPT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::pieces;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn value_parser() -> NdjsonParser<Value> {
        bounded_parser(1 << 20)
    }

    fn bounded_parser(max_line: usize) -> NdjsonParser<Value> {
        NdjsonParser::new(|line| serde_json::from_slice(line), max_line)
    }

    /// Results in a comparable form: a value, or the line and excerpt of an
    /// error.
    type Outcome = Result<Value, (usize, String)>;

    fn parse<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<Outcome> {
        let mut parser = value_parser();
        let mut out = Vec::new();
        for piece in pieces {
            parser.feed(piece, &mut out).unwrap();
        }
        parser.finish(&mut out);
        outcomes(out)
    }

    fn outcomes(out: Vec<Result<Value, NdjsonError>>) -> Vec<Outcome> {
        out.into_iter()
            .map(|r| r.map_err(|NdjsonError::Malformed { line, excerpt, .. }| (line, excerpt)))
            .collect()
    }

    /// Feeds pieces until the first error: the values handed out, and the error.
    fn parse_bounded<'a>(
        pieces: impl IntoIterator<Item = &'a [u8]>,
        max_line: usize,
    ) -> (Vec<Outcome>, Option<TooLong>) {
        let mut parser = bounded_parser(max_line);
        let mut out = Vec::new();
        for piece in pieces {
            if let Err(e) = parser.feed(piece, &mut out) {
                return (outcomes(out), Some(e));
            }
        }
        parser.finish(&mut out);
        (outcomes(out), None)
    }

    const OLLAMA: &str = concat!(
        "{\"model\":\"m\",\"response\":\"h\u{e9}\",\"done\":false}\n",
        "{\"model\":\"m\",\"response\":\"\u{20ac}\u{1f600}\",\"done\":false}\n",
        "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"eval_count\":2}\n",
    );

    #[rstest]
    #[case::one_line("{\"a\":1}\n", vec![Ok(json!({"a": 1}))])]
    #[case::several("1\n\"two\"\n[3]\n", vec![Ok(json!(1)), Ok(json!("two")), Ok(json!([3]))])]
    #[case::crlf("{\"a\":1}\r\n{\"b\":2}\r\n", vec![Ok(json!({"a": 1})), Ok(json!({"b": 2}))])]
    #[case::blank_lines_skipped("\n{\"a\":1}\n\n  \t\n\r\n{\"b\":2}\n\n", vec![Ok(json!({"a": 1})), Ok(json!({"b": 2}))])]
    #[case::last_line_without_newline("{\"a\":1}\n{\"b\":2}", vec![Ok(json!({"a": 1})), Ok(json!({"b": 2}))])]
    #[case::malformed_line_numbered("{}\n\n{bad\n{}\n", vec![Ok(json!({})), Err((3, "{bad".to_owned())), Ok(json!({}))])]
    #[case::two_values_on_one_line("{} {}\n", vec![Err((1, "{} {}".to_owned()))])]
    #[case::truncated_last_line("{\"a\":1}\n{\"b\":", vec![Ok(json!({"a": 1})), Err((2, "{\"b\":".to_owned()))])]
    #[case::utf8(OLLAMA, vec![
        Ok(json!({"model": "m", "response": "h\u{e9}", "done": false})),
        Ok(json!({"model": "m", "response": "\u{20ac}\u{1f600}", "done": false})),
        Ok(json!({"model": "m", "response": "", "done": true, "eval_count": 2})),
    ])]
    #[case::empty("", vec![])]
    fn parses_the_same_however_the_stream_is_cut(
        #[case] input: &str,
        #[case] expected: Vec<Outcome>,
    ) {
        for (how, cut) in pieces::cuts(input.as_bytes()) {
            assert_eq!(parse(cut), expected, "{how}");
        }
    }

    #[test]
    fn values_are_handed_out_as_soon_as_the_newline_arrives() {
        let mut parser = value_parser();
        let mut out = Vec::new();
        parser.feed(b"{\"a\":", &mut out).unwrap();
        parser.feed(b"1}", &mut out).unwrap();
        assert!(out.is_empty());
        parser.feed(b"\n{", &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn character_split_between_pieces_is_decoded_whole() {
        let line = "{\"response\":\"\u{20ac}\"}\n".as_bytes();
        let euro_at = line.iter().position(|&b| b == 0xE2).unwrap();
        let mut parser = value_parser();
        let mut out = Vec::new();
        parser.feed(&line[..euro_at + 1], &mut out).unwrap();
        parser
            .feed(&line[euro_at + 1..euro_at + 2], &mut out)
            .unwrap();
        parser.feed(&line[euro_at + 2..], &mut out).unwrap();
        assert_eq!(out.pop().unwrap().unwrap(), json!({"response": "\u{20ac}"}));
    }

    #[test]
    fn error_names_line_cause_and_excerpt() {
        let mut parser = value_parser();
        let mut raw = Vec::new();
        parser.feed(b"{}\n{\"done\": tru}\n", &mut raw).unwrap();
        let message = raw.pop().unwrap().unwrap_err().to_string();
        assert!(
            message.starts_with("line 2: not valid JSON (")
                && message.ends_with("): {\"done\": tru}"),
            "{message}"
        );
    }

    #[rstest]
    #[case::short("x".repeat(120), "x".repeat(120))]
    #[case::long("x".repeat(500), format!("{}\u{2026} (380 more characters)", "x".repeat(120)))]
    #[case::long_multibyte("\u{e9}".repeat(200), format!("{}\u{2026} (80 more characters)", "\u{e9}".repeat(120)))]
    #[case::trimmed(format!("  {}  ", "x".repeat(10)), "x".repeat(10))]
    fn excerpt_keeps_120_chars(#[case] line: String, #[case] expected: String) {
        assert_eq!(excerpt(line.as_bytes()), expected);
    }

    #[test]
    fn finish_readies_the_parser_for_a_new_stream() {
        let mut parser = value_parser();
        let mut out = Vec::new();
        parser.feed(b"{bad", &mut out).unwrap();
        parser.finish(&mut out);
        parser.feed(b"{bad}\n", &mut out).unwrap();
        let lines: Vec<usize> = out
            .iter()
            .map(|r| match r {
                Err(NdjsonError::Malformed { line, .. }) => *line,
                Ok(_) => 0,
            })
            .collect();
        assert_eq!(lines, vec![1, 1]);
    }

    #[rstest]
    #[case::at_the_limit("{\"a\":1}\n{\"b\":2}\n", vec![Ok(json!({"a": 1})), Ok(json!({"b": 2}))], None)]
    #[case::unterminated_at_the_limit("{\"a\":1}", vec![Ok(json!({"a": 1}))], None)]
    #[case::one_byte_over("{\"a\":1}\n{\"b\":22}\n{}\n", vec![Ok(json!({"a": 1}))], Some(TooLong::Line))]
    #[case::blank_but_long("{}\n        \n{}\n", vec![Ok(json!({}))], Some(TooLong::Line))]
    #[case::never_ends("{}\n{\"a\":\"xxxxxxxxxxxxxxxxxxxx", vec![Ok(json!({}))], Some(TooLong::Line))]
    #[case::crlf_counts("{\"a\":1}\r\n", vec![], Some(TooLong::Line))]
    fn a_line_over_max_line_ends_the_stream_however_it_is_cut(
        #[case] input: &str,
        #[case] before: Vec<Outcome>,
        #[case] error: Option<TooLong>,
    ) {
        for (how, cut) in pieces::cuts(input.as_bytes()) {
            assert_eq!(parse_bounded(cut, 7), (before.clone(), error), "{how}");
        }
    }

    #[test]
    fn an_endless_line_is_refused_once_it_outgrows_max_line_never_kept_whole() {
        let mut parser = bounded_parser(1000);
        let mut out = Vec::new();
        let fed = pieces::fed_until_refused(|byte| parser.feed(byte, &mut out));
        assert_eq!((fed, parser.partial.len()), (1000, 1000));
        let mut parser = bounded_parser(1000);
        assert!(parser.feed(&[b'x'; 1 << 20], &mut out).is_err());
        assert!(parser.partial.is_empty(), "a big piece is not copied");
    }
}
