//! Text from records and history files in Markdown tables: a server's message, a model name
//! or a history cell is data, and must not change the table it sits in.

use crate::text::excerpt;

/// How many characters of one text a cell keeps: a table with a whole server answer in one
/// cell is unreadable, and the full text is in `junit.xml`.
const CELL_CHARS: usize = 120;

/// A text as one table cell (or one list line): line breaks become spaces, since a line
/// break ends the row; `|` is escaped, since it would open a column; and long text is cut,
/// saying how much.
pub fn cell(text: &str) -> String {
    let one_line = text
        .split(['\r', '\n'])
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    excerpt(&one_line, CELL_CHARS).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("smollm2", "smollm2")]
    #[case("a|b", "a\\|b")]
    #[case("line one\nline two\r\nthree\rfour", "line one line two three four")]
    #[case("gap\n\nafter", "gap after")]
    #[case(&"x".repeat(125), &format!("{}… (5 more characters)", "x".repeat(120)))]
    fn makes_one_safe_cell(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(cell(text), expected);
    }
}
