//! `summary.md`: the human summary of a run, for a CI job page or a terminal.

use super::markdown::cell;
use super::record::{Record, Status};
use crate::kind::Kind;
use crate::store::history::HISTORY_FIGURES;
use crate::text::format_seconds;

/// Whether a figure goes in the summary's table. A baseline case has every statistic of
/// every metric (well over a hundred for a generation): the table keeps the few that
/// history keeps, and `results.csv` and `report.md` have the rest.
fn in_summary(record: &Record, figure: &str) -> bool {
    record.kind != Kind::Baseline || figure == "error_rate" || HISTORY_FIGURES.contains(&figure)
}

pub fn render(records: &[Record]) -> String {
    let count = |status| records.iter().filter(|r| r.status == status).count();
    let mut text = format!(
        "# perfcase run\n\n{} cases: {} passed, {} failed, {} errors, {} skipped\n\n",
        records.len(),
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Error),
        count(Status::Skipped)
    );
    text.push_str("| case | status | time | figures |\n|---|---|---|---|\n");
    for record in records {
        let figures: Vec<String> = record
            .figures
            .iter()
            .filter(|figure| in_summary(record, &figure.name))
            .map(|figure| format!("{} {}", figure.name, figure.display_value()))
            .collect();
        text.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            cell(&record.name),
            record.status.as_str(),
            format_seconds(record.duration_s),
            figures.join(", ")
        ));
    }
    let problems: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .collect();
    let skipped: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == Status::Skipped)
        .collect();
    if !skipped.is_empty() {
        text.push_str("\n## Skipped\n\n");
        for record in skipped {
            text.push_str(&format!(
                "- `{}`: {}\n",
                record.name,
                record.message.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    if !problems.is_empty() {
        text.push_str("\n## Failures and errors\n");
        for record in problems {
            let status = match &record.cause {
                Some(cause) => format!("{}: {cause}", record.status.as_str()),
                None => record.status.as_str().to_string(),
            };
            let message = record.message.as_deref().unwrap_or("");
            let fence = fence_for(message);
            text.push_str(&format!(
                "\n### `{}` ({status})\n\n{fence}\n{message}\n{fence}\n",
                record.name
            ));
        }
    }
    text
}

/// A code fence longer than any run of backticks in the text, so that a server's answer
/// quoting Markdown cannot close it early.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("plain", "```")]
    #[case("a ``` b", "````")]
    #[case("````` x", "``````")]
    fn fences_outlast_the_text(#[case] text: &str, #[case] fence: &str) {
        assert_eq!(fence_for(text), fence);
    }

    #[test]
    fn a_baseline_case_shows_the_figures_history_keeps() {
        let baseline = crate::report::fixtures::generation("g", "m", 0.1, 100.0);
        let text = render(&[baseline]);
        assert!(text.contains("ttft.median 100ms"), "{text}");
        assert!(!text.contains("ttft.mean"), "{text}");
        let mut other = crate::report::fixtures::generation("g", "m", 0.1, 100.0);
        other.kind = Kind::Inference;
        assert!(render(&[other]).contains("ttft.mean"));
    }
}
