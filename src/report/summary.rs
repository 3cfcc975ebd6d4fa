//! `summary.md`: the human summary of a run, for a CI job page or a terminal.

use super::figures::format_figure;
use super::record::{Record, Status};

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
            .map(|(name, value)| format!("{name} {}", format_figure(name, *value)))
            .collect();
        text.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            record.name,
            record.status.as_str(),
            format_figure("duration", record.duration_s),
            figures.join(", ")
        ));
    }
    let problems: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .collect();
    if !problems.is_empty() {
        text.push_str("\n## Failures and errors\n");
        for record in problems {
            text.push_str(&format!(
                "\n### `{}` ({})\n\n```\n{}\n```\n",
                record.name,
                record.status.as_str(),
                record.message.as_deref().unwrap_or("")
            ));
        }
    }
    text
}
