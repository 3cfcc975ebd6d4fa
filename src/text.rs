//! Text for people, shared by every layer: durations as latencies are read, excerpts of
//! long bodies, and the nearest name for a "did you mean". A leaf: it imports nothing of
//! the crate.

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

/// Shortens text on a character boundary, saying how much was cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{kept}… ({} more characters)", total - max_chars)
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
    #[case("short", 10, "short")]
    #[case("exactly10!", 10, "exactly10!")]
    #[case("0123456789abc", 10, "0123456789… (3 more characters)")]
    #[case("ééééé", 2, "éé… (3 more characters)")]
    fn cuts(#[case] text: &str, #[case] max: usize, #[case] expected: &str) {
        assert_eq!(excerpt(text, max), expected);
    }
}
