//! Turning byte spans into `file:line:col` and serde's terse messages into helpful ones.

/// One-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Adds a "did you mean" to serde's `unknown field`/`unknown variant` messages, whose shape is
/// ``unknown field `nmae`, expected one of `name`, `get` `` (or `` expected `name` ``).
pub fn with_suggestion(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match closest(unknown, &candidates) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("abc", 0, (1, 1))]
    #[case("abc", 2, (1, 3))]
    #[case("a\nbc", 2, (2, 1))]
    #[case("a\nbc", 3, (2, 2))]
    #[case("é\nx", 1, (1, 1))]
    #[case("éa\n", 2, (1, 2))]
    #[case("x", 99, (1, 2))]
    fn positions(#[case] source: &str, #[case] offset: usize, #[case] expected: (usize, usize)) {
        assert_eq!(line_col(source, offset), expected);
    }

    #[rstest]
    #[case(
        "unknown field `nmae`, expected one of `name`, `get`, `expect`",
        "unknown field `nmae`, expected one of `name`, `get`, `expect`; did you mean `name`?"
    )]
    #[case(
        "unknown field `expcet`, expected `expect`",
        "unknown field `expcet`, expected `expect`; did you mean `expect`?"
    )]
    #[case(
        "unknown variant `olama`, expected one of `ollama`, `openai`, `http`",
        "unknown variant `olama`, expected one of `ollama`, `openai`, `http`; did you mean `ollama`?"
    )]
    #[case(
        "unknown field `zzzzzz`, expected one of `name`, `get`",
        "unknown field `zzzzzz`, expected one of `name`, `get`"
    )]
    #[case("missing field `name`", "missing field `name`")]
    fn suggestions(#[case] message: &str, #[case] expected: &str) {
        assert_eq!(with_suggestion(message), expected);
    }
}
