//! `report.md`: the performance report of a run's baseline cases, for people deciding
//! whether a server got slower. Per kind of request a table of what was measured
//! ([`requests`]), then how each case compared with its stored baseline ([`compared`]),
//! which figures were too spread to judge ([`unstable`]), and each case's last runs from
//! history ([`trend`]). Pure: records and history rows in, Markdown out.
//!
//! Every baseline case counts, listed with its status; the tables hold those that measured
//! (the facts of [`Record::baseline`]): one that could not (its server did not start, its
//! model was missing) or was skipped is listed under failures or skipped. Every text that comes from a record or a history file
//! goes through [`cell`], so a `|` in a model name or a line break in a message cannot
//! break a table.

mod compared;
mod requests;
mod trend;
mod unstable;

use super::markdown::cell;
use super::record::{BaselineFacts, Record, Status};
use crate::kind::Kind;
use crate::metric::Figure;
use crate::store::history::HistoryRow;

/// What a cell shows for a figure or fact a case does not have.
const NONE: &str = "-";

/// One baseline case of the run.
pub(super) struct Case<'a> {
    pub(super) record: &'a Record,
    pub(super) facts: &'a BaselineFacts,
}

impl Case<'_> {
    /// The case name without its kind: every case here is a baseline, and the scenario and
    /// variant stay, so two targets' checks of one name stay apart.
    pub(super) fn label(&self) -> String {
        label(self.record)
    }

    pub(super) fn model(&self) -> String {
        self.facts
            .model
            .as_deref()
            .map_or_else(|| NONE.into(), cell)
    }

    /// A figure in its unit.
    pub(super) fn show(&self, name: &str) -> String {
        self.record
            .figure(name)
            .map_or_else(|| NONE.into(), Figure::display_value)
    }

    pub(super) fn value(&self, name: &str) -> Option<f64> {
        self.record.figure(name).map(|figure| figure.value)
    }

    /// Counted iterations, and how many failed when any did.
    pub(super) fn iterations(&self) -> String {
        match self.facts.failed {
            0 => self.facts.iterations.to_string(),
            failed => format!("{} ({failed} failed)", self.facts.iterations),
        }
    }

    pub(super) fn status(&self) -> String {
        self.record.status.as_str().into()
    }
}

/// The case name without its kind: every case here is a baseline, and the scenario and
/// variant stay, so two targets' checks of one name stay apart.
fn label(record: &Record) -> String {
    let name = &record.name;
    cell(
        name.split_once("::")
            .map_or(name.as_str(), |(_, rest)| rest),
    )
}

/// `report.md` from a run's records, with each case's last runs from `history` (the rows
/// as read, oldest first).
pub fn render(records: &[Record], history: &[HistoryRow]) -> String {
    let baseline: Vec<&Record> = records
        .iter()
        .filter(|record| record.kind == Kind::Baseline)
        .collect();
    let measured: Vec<Case> = baseline
        .iter()
        .filter(|record| record.status != Status::Skipped)
        .filter_map(|record| {
            let facts = record.baseline.as_ref()?;
            Some(Case { record, facts })
        })
        .collect();
    let ran: Vec<&Case> = measured.iter().collect();
    [
        headline(&baseline),
        requests::tables(&ran),
        compared::comparisons(&ran),
        unstable::unstable(&ran),
        trend::trend(&ran, history),
        problems(&baseline),
        skipped_cases(&baseline),
    ]
    .concat()
}

fn headline(cases: &[&Record]) -> String {
    let count = |status| cases.iter().filter(|c| c.status == status).count();
    format!(
        "# perfcase performance report\n\n{} baseline cases: {} passed, {} failed, {} errors, \
         {} skipped\n",
        cases.len(),
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Error),
        count(Status::Skipped)
    )
}

/// A Markdown table of cells already made safe.
pub(super) fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut text = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for row in rows {
        text.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    text
}

/// Failed and erred cases with their cause and the start of their message; the whole
/// message is in `summary.md` and `junit.xml`.
fn problems(cases: &[&Record]) -> String {
    let lines: Vec<String> = cases
        .iter()
        .filter(|record| matches!(record.status, Status::Failed | Status::Error))
        .map(|record| {
            let cause = record
                .cause
                .as_deref()
                .map_or_else(String::new, |cause| format!(" ({})", cell(cause)));
            format!(
                "- {}: {}{cause}: {}\n",
                label(record),
                record.status.as_str(),
                cell(record.message.as_deref().unwrap_or("no message"))
            )
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\n## Failures and errors\n\n{}", lines.concat())
}

fn skipped_cases(cases: &[&Record]) -> String {
    let lines: Vec<String> = cases
        .iter()
        .filter(|record| record.status == Status::Skipped)
        .map(|record| {
            format!(
                "- {}: {}\n",
                label(record),
                cell(record.message.as_deref().unwrap_or("no reason given"))
            )
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\n## Skipped\n\n{}", lines.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{assert_has, assert_lacks, embedding, generation, section};

    #[test]
    fn a_case_that_measured_nothing_is_counted_and_listed() {
        let mut down = generation("down", "m", 0.1, 100.0);
        down.baseline = None;
        down.status = Status::Error;
        down.cause = Some("target".into());
        down.message = Some("managed target did not start".into());
        let report = render(&[down, generation("up", "m", 0.1, 100.0)], &[]);
        assert_has(&report, "2 baseline cases: 1 passed, 0 failed, 1 errors");
        assert_has(
            &report,
            "- local::down: error (target): managed target did not start",
        );
    }

    #[test]
    fn counts_the_baseline_cases() {
        let mut failed = generation("slow", "m", 0.3, 100.0);
        failed.status = Status::Failed;
        let mut plain = generation("plain", "m", 0.1, 100.0);
        plain.kind = Kind::Inference;
        let report = render(&[failed, embedding("embed", "e"), plain], &[]);
        assert_has(
            &report,
            "2 baseline cases: 1 passed, 1 failed, 0 errors, 0 skipped",
        );
    }

    #[test]
    fn without_baseline_cases_there_are_no_sections() {
        let mut plain = generation("chat", "a", 0.1, 100.0);
        plain.kind = Kind::Inference;
        let report = render(&[plain], &[]);
        assert_has(&report, "0 baseline cases");
        assert_lacks(&report, "## ");
    }

    #[test]
    fn failures_say_their_cause_and_message_on_one_line() {
        let mut failed = generation("slow", "m", 0.3, 100.0);
        failed.status = Status::Failed;
        failed.cause = Some("regression".into());
        failed.message = Some("regressed: median ttft\n300ms vs stored 200ms".into());
        let report = render(&[failed], &[]);
        assert_has(
            section(&report, "Failures and errors"),
            "- local::slow: failed (regression): regressed: median ttft 300ms vs stored 200ms\n",
        );
    }

    #[test]
    fn skipped_cases_are_listed_with_their_reason_and_in_no_table() {
        let mut skipped = generation("gpu", "m", 0.1, 100.0);
        skipped.status = Status::Skipped;
        skipped.message = Some("GPU_URL is not set".into());
        let report = render(&[skipped, generation("chat", "m", 0.1, 100.0)], &[]);
        assert_has(
            section(&report, "Skipped"),
            "- local::gpu: GPU_URL is not set\n",
        );
        assert_lacks(section(&report, "Generation"), "local::gpu");
    }
}
