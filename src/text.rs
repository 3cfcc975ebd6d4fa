//! Text for people, shared by every layer: durations as latencies are read, excerpts of
//! long bodies, and the nearest name for a "did you mean". A leaf: it imports nothing of
//! the crate.

use std::borrow::Cow;
use std::time::Duration;

/// Formats a duration the way people read latencies: `850µs`, `12.3ms`, `1.25s`.
pub fn format_duration(d: Duration) -> String {
    format_seconds(d.as_secs_f64())
}

/// Like [`format_duration`] for a number of seconds (metrics are kept as `f64` seconds).
pub fn format_seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        trim_float(format!("{:.2}", s * 1e3)) + "ms"
    } else {
        trim_float(format!("{s:.3}")) + "s"
    }
}

fn trim_float(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The candidate nearest to `word` when it is near enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Text made safe for every artifact and terminal, whatever a server sent: control
/// characters other than tab and line feed, and the code points XML 1.0 forbids even as
/// references, become visible escapes (`\x1b`, `\u{fffe}`). A raw escape sequence would
/// otherwise drive the reader's terminal, and one `\x00` makes a JUnit file that CI
/// parsers reject whole.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !needs_escape(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// What [`excerpt`] writes where it cut, around the number of characters cut.
const CUT_OPEN: &str = "… (";
const CUT_CLOSE: &str = " more characters)";

/// Shortens text on a character boundary, saying how much was cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{kept}{CUT_OPEN}{}{CUT_CLOSE}", total - max_chars)
}

/// Where [`excerpt`] cut the excerpts a text quotes: the byte offset of each cut mark,
/// which is where the kept part ends (the redactor looks there for a secret cut in two).
pub fn cut_points(text: &str) -> Vec<usize> {
    text.match_indices(CUT_OPEN)
        .filter(|(at, _)| {
            let rest = &text[at + CUT_OPEN.len()..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(CUT_CLOSE)
        })
        .map(|(at, _)| at)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0.00085, "850µs")]
    #[case(0.0123, "12.3ms")]
    #[case(0.5, "500ms")]
    #[case(1.25, "1.25s")]
    #[case(10.0, "10s")]
    fn formats(#[case] seconds: f64, #[case] expected: &str) {
        assert_eq!(format_seconds(seconds), expected);
    }

    #[rstest]
    #[case("plain\ttext\nok", "plain\ttext\nok")]
    #[case("nul\u{0}bel\u{7}vt\u{b}", "nul\\x00bel\\x07vt\\x0b")]
    #[case("\u{1b}[31mred", "\\x1b[31mred")]
    #[case("cr\r\n", "cr\\x0d\n")]
    #[case("c1\u{9b}del\u{7f}", "c1\\x9bdel\\x7f")]
    #[case("bad\u{fffe}", "bad\\u{fffe}")]
    #[case("é ✓", "é ✓")]
    fn makes_text_printable(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(printable(text), expected);
    }

    #[rstest]
    #[case("short", 10, "short")]
    #[case("exactly10!", 10, "exactly10!")]
    #[case("0123456789abc", 10, "0123456789… (3 more characters)")]
    #[case("ééééé", 2, "éé… (3 more characters)")]
    fn cuts(#[case] text: &str, #[case] max: usize, #[case] expected: &str) {
        assert_eq!(excerpt(text, max), expected);
    }

    #[rstest]
    #[case(&format!("{:?} and {:?}", excerpt("0123456789", 4), excerpt("abcdef", 2)), &[5, 37])]
    #[case("no cut… here, nor… (many more characters)", &[])]
    #[case("", &[])]
    fn finds_where_excerpts_were_cut(#[case] text: &str, #[case] expected: &[usize]) {
        assert_eq!(cut_points(text), expected);
    }
}
