//! Text for people, shared by every layer: durations as latencies are read, times as
//! RFC 3339, excerpts of long bodies, the nearest name for a "did you mean", and CSV
//! records in memory. A leaf: it imports nothing of the crate.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// CSV records in memory, each line ending in a line feed: what every CSV artifact and
/// history row is made of before it is written (whole, atomically or appended).
pub fn csv_records<R, T>(records: impl IntoIterator<Item = R>) -> Vec<u8>
where
    R: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer
            .write_record(record)
            .expect("writing CSV to memory cannot fail");
    }
    writer
        .into_inner()
        .expect("flushing CSV to memory cannot fail")
}

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

/// A time as RFC 3339 in UTC, to the whole second (`2026-11-27T21:50:00Z`): what stored
/// baselines and history record, readable by people and sortable as text. Computed here
/// (Howard Hinnant's `civil_from_days`) because a date crate for one format is not worth
/// its weight.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = unix_seconds(time);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Whole seconds since the epoch, rounded down (so a time before it still names its own
/// second).
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => {
            let before = before.duration();
            -(before.as_secs() as i64) - i64::from(before.subsec_nanos() > 0)
        }
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01: eras of 400 years
/// (146,097 days) starting on March 1st, so that the leap day ends a year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    #[case::epoch(0, "1970-01-01T00:00:00Z")]
    #[case::before_the_epoch(-1, "1969-12-31T23:59:59Z")]
    #[case::end_of_a_century(946_684_799, "1999-12-31T23:59:59Z")]
    #[case::leap_day_of_a_400th_year(951_782_400, "2000-02-29T00:00:00Z")]
    #[case::leap_day(1_709_210_096, "2024-02-29T12:34:56Z")]
    #[case::a_run(1_795_816_200, "2026-11-27T21:50:00Z")]
    #[case::no_leap_day_in_2100(4_107_542_400, "2100-03-01T00:00:00Z")]
    fn writes_rfc3339(#[case] seconds: i64, #[case] expected: &str) {
        let offset = Duration::from_secs(seconds.unsigned_abs());
        let time = if seconds < 0 {
            UNIX_EPOCH - offset
        } else {
            UNIX_EPOCH + offset
        };
        assert_eq!(rfc3339(time), expected);
    }

    #[test]
    fn drops_the_fraction_of_a_second() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_816_200_999);
        assert_eq!(rfc3339(time), "2026-11-27T21:50:00Z");
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(rfc3339(before), "1969-12-31T23:59:59Z");
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
