//! Turning byte spans into `file:line:col` and serde's terse messages into helpful ones.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scenario file's path and text, kept with the checks loaded from it so that anything
/// holding a span (a failed expectation, long after parsing) can say where it was written.
#[derive(Debug, Clone, Default)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: &Path, text: &str) -> SourceFile {
        SourceFile {
            path: path.to_path_buf(),
            text: text.into(),
        }
    }

    /// A file known only by its path (one that could not be read).
    pub fn unread(path: &Path) -> SourceFile {
        SourceFile::new(path, "")
    }

    /// `scenarios/x.toml:12:9` for the start of a span.
    pub fn locate(&self, span: &Range<usize>) -> String {
        let (line, col) = line_col(&self.text, span.start);
        format!("{}:{line}:{col}", self.path.display())
    }
}

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
    match crate::text::closest(unknown, &candidates) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
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

    #[rstest]
    #[case(0, "s/x.toml:1:1")]
    #[case(4, "s/x.toml:2:1")]
    #[case(6, "s/x.toml:2:3")]
    fn locates(#[case] offset: usize, #[case] expected: &str) {
        let file = SourceFile::new(Path::new("s/x.toml"), "abc\nde\n");
        assert_eq!(file.locate(&(offset..offset + 1)), expected);
    }
}
