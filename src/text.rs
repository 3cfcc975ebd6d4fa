//! Quoting text in messages: long bodies and answers are shortened, saying how much.

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
    #[case("short", 10, "short")]
    #[case("exactly10!", 10, "exactly10!")]
    #[case("0123456789abc", 10, "0123456789… (3 more characters)")]
    #[case("ééééé", 2, "éé… (3 more characters)")]
    fn cuts(#[case] text: &str, #[case] max: usize, #[case] expected: &str) {
        assert_eq!(excerpt(text, max), expected);
    }
}
