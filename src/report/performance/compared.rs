//! How each case compared with its stored baseline: a row for every comparison that moved
//! or could not tell, one line for the rest, and where measurements were written.

use super::{Case, NONE, table};
use crate::metric::{Unit, format_change, format_value};
use crate::report::markdown::cell;
use crate::report::record::{ComparisonFact, StoredState};

/// Every comparison that did not come out unchanged gets a row with its numbers; the
/// unchanged ones one line per case, then the cases that were not compared, then where
/// measurements were written.
pub(super) fn comparisons(cases: &[&Case]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let mut text = String::from("\n## Compared with stored baselines\n\n");
    let header = [
        "check",
        "figure",
        "verdict",
        "stored median",
        "measured median",
        "change",
        "95% interval",
        "tolerance",
        "CoV stored",
        "CoV measured",
    ];
    let rows: Vec<Vec<String>> = cases
        .iter()
        .flat_map(|case| {
            case.facts
                .comparisons
                .iter()
                .filter(|c| c.verdict != "unchanged")
                .map(|comparison| comparison_row(case, comparison))
        })
        .collect();
    if !rows.is_empty() {
        text.push_str(&table(&header, rows));
        text.push('\n');
    }
    for case in cases {
        text.push_str(&stored_line(case));
    }
    for case in cases {
        if let Some(path) = &case.facts.written {
            text.push_str(&format!(
                "- {}: measurement written to `{}`\n",
                case.label(),
                cell(path)
            ));
        }
    }
    text
}

fn comparison_row(case: &Case, comparison: &ComparisonFact) -> Vec<String> {
    let percent = |ratio: Option<f64>| ratio.map_or_else(|| NONE.into(), format_change);
    let cov = |cov: Option<f64>| cov.map_or_else(|| NONE.into(), |c| format_value(c, Unit::Ratio));
    let verdict = match comparison.verdict.as_str() {
        "improved" => "improved: consider updating the stored baseline".into(),
        other => cell(other),
    };
    let interval = match (comparison.low, comparison.high) {
        (Some(low), Some(high)) => format!("{} to {}", format_change(low), format_change(high)),
        _ => NONE.into(),
    };
    vec![
        case.label(),
        cell(&comparison.figure),
        verdict,
        format_value(comparison.stored_median, comparison.unit),
        format_value(comparison.measured_median, comparison.unit),
        percent(comparison.ratio),
        interval,
        format_value(comparison.tolerance, Unit::Ratio),
        cov(comparison.stored_cov),
        cov(comparison.measured_cov),
    ]
}

/// The one line of a case that needs no row: its unchanged figures, or why it was not
/// compared. Empty for a case whose comparisons are all in the table.
fn stored_line(case: &Case) -> String {
    match case.facts.stored {
        StoredState::Missing => {
            format!("- {}: no stored baseline: not compared\n", case.label())
        }
        StoredState::NotCompared => format!(
            "- {}: not compared: this run measured none of the compared metrics\n",
            case.label()
        ),
        StoredState::Compared => {
            let unchanged: Vec<String> = case
                .facts
                .comparisons
                .iter()
                .filter(|c| c.verdict == "unchanged")
                .map(|c| {
                    format!(
                        "{} (within {})",
                        cell(&c.figure),
                        format_value(c.tolerance, Unit::Ratio)
                    )
                })
                .collect();
            if unchanged.is_empty() {
                return String::new();
            }
            format!("- {}: unchanged: {}\n", case.label(), unchanged.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::report::fixtures::{
        assert_has, assert_lacks, compared, comparison, generation, section,
    };
    use crate::report::performance::render;
    use crate::report::record::StoredState;
    use rstest::rstest;

    #[test]
    fn a_regression_shows_stored_and_measured() {
        let record = compared(
            generation("chat", "m", 0.3, 100.0),
            vec![
                comparison("ttft", "regressed", 0.2, 0.3),
                comparison("tokens_per_s", "unchanged", 100.0, 101.0),
            ],
        );
        let report = render(&[record], &[]);
        let compared = section(&report, "Compared with stored baselines");
        assert_has(
            compared,
            "| local::chat | ttft | regressed | 200ms | 300ms | +50.0% | +45.0% to +55.0% | 10% \
             | 2% | 3% |",
        );
        assert_has(
            compared,
            "- local::chat: unchanged: tokens_per_s (within 10%)\n",
        );
        assert_lacks(compared, "| tokens_per_s |");
    }

    #[rstest]
    #[case::improved("improved", "| improved: consider updating the stored baseline |")]
    #[case::changed("changed", "| changed |")]
    #[case::inconclusive("inconclusive", "| inconclusive |")]
    fn every_comparison_that_moved_or_could_not_tell_has_a_row(
        #[case] verdict: &str,
        #[case] expected: &str,
    ) {
        let record = compared(
            generation("chat", "m", 0.1, 100.0),
            vec![comparison("ttft", verdict, 0.2, 0.1)],
        );
        let report = render(&[record], &[]);
        assert_has(&report, expected);
        assert_lacks(&report, "unchanged:");
    }

    #[test]
    fn a_comparison_without_resampling_has_no_interval() {
        let mut fact = comparison("ttft", "inconclusive", 0.2, 0.1);
        (fact.ratio, fact.low, fact.high) = (None, None, None);
        let report = render(
            &[compared(generation("chat", "m", 0.1, 100.0), vec![fact])],
            &[],
        );
        assert_has(&report, "| inconclusive | 200ms | 100ms | - | - | 10% |");
    }

    #[rstest]
    #[case::missing(
        StoredState::Missing,
        "- local::chat: no stored baseline: not compared\n"
    )]
    #[case::not_compared(
        StoredState::NotCompared,
        "- local::chat: not compared: this run measured none of the compared metrics\n"
    )]
    fn says_why_a_case_was_not_compared(#[case] stored: StoredState, #[case] expected: &str) {
        let mut record = generation("chat", "m", 0.1, 100.0);
        record.baseline.as_mut().unwrap().stored = stored;
        let report = render(&[record], &[]);
        assert_has(section(&report, "Compared with stored baselines"), expected);
    }

    #[test]
    fn lists_written_baselines() {
        let mut record = generation("chat", "m", 0.1, 100.0);
        record.baseline.as_mut().unwrap().written = Some("baselines/local.json.new".into());
        assert_has(
            &render(&[record], &[]),
            "- local::chat: measurement written to `baselines/local.json.new`\n",
        );
    }
}
