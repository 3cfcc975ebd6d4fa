//! Each case's last runs, from the history rows the caller read.

use super::{Case, NONE, table};
use crate::metric::{Figure, Unit, format_value};
use crate::report::markdown::cell;
use crate::store::history::{HISTORY_FIGURES, HistoryRow};

/// How many of a case's last runs the trend shows.
const TREND_ROWS: usize = 5;

/// Each case's last runs in history, oldest first, with the history figures any of them
/// has. Left out while history holds no run of this run's cases.
pub(super) fn trend(cases: &[&Case], history: &[HistoryRow]) -> String {
    let mut tables = String::new();
    let mut without = Vec::new();
    for case in cases {
        let rows: Vec<&HistoryRow> = history
            .iter()
            .filter(|row| row.case == case.record.name)
            .collect();
        let last = &rows[rows.len().saturating_sub(TREND_ROWS)..];
        if last.is_empty() {
            without.push(case.label());
        } else {
            tables.push_str(&format!("\n### {}\n\n{}", case.label(), trend_table(last)));
        }
    }
    if tables.is_empty() {
        return String::new();
    }
    let mut text = format!(
        "\n## Trend\n\nEach case's last {TREND_ROWS} runs in history, oldest first.\n{tables}"
    );
    if !without.is_empty() {
        text.push_str(&format!(
            "\nNo runs in history yet: {}.\n",
            without.join(", ")
        ));
    }
    text
}

fn trend_table(rows: &[&HistoryRow]) -> String {
    let columns: Vec<(usize, &str)> = HISTORY_FIGURES
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| rows.iter().any(|row| figure(row, *i).is_some()))
        .collect();
    let mut header = vec!["time", "status", "verdict", "error rate"];
    header.extend(columns.iter().map(|(_, name)| *name));
    let body = rows.iter().map(|row| {
        let mut cells = vec![
            cell(&row.time),
            cell(&row.status),
            cell(&row.verdict),
            row.error_rate
                .map_or_else(|| NONE.into(), |rate| format_value(rate, Unit::Ratio)),
        ];
        cells.extend(columns.iter().map(|(i, name)| {
            figure(row, *i).map_or_else(
                || NONE.into(),
                |value| Figure::new(*name, value).display_value(),
            )
        }));
        cells
    });
    table(&header, body)
}

/// The `i`th history figure of a row; `None` also where a row from a hand-edited file has
/// fewer figures than columns.
fn figure(row: &HistoryRow, i: usize) -> Option<f64> {
    row.figures.get(i).copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{assert_has, assert_lacks, generation, section};
    use crate::report::performance::render;

    fn row(case: &str, day: u32, ttft: Option<f64>) -> HistoryRow {
        let mut figures = vec![None; HISTORY_FIGURES.len()];
        figures[HISTORY_FIGURES
            .iter()
            .position(|f| *f == "ttft.median")
            .unwrap()] = ttft;
        HistoryRow {
            time: format!("2026-11-{day:02}T00:00:00Z"),
            case: case.into(),
            status: "passed".into(),
            verdict: "unchanged".into(),
            iterations: 10,
            error_rate: Some(0.0),
            figures,
        }
    }

    #[test]
    fn shows_the_last_five_runs_of_each_case() {
        let mut history: Vec<HistoryRow> = (1..=7)
            .map(|day| row("baseline::local::chat", day, Some(0.1)))
            .collect();
        history.push(row("baseline::other::x", 8, None));
        let records = [
            generation("chat", "m", 0.1, 100.0),
            generation("new", "m", 0.1, 100.0),
        ];
        let report = render(&records, &history);
        let trend = section(&report, "Trend");
        assert_has(
            trend,
            "### local::chat\n\n| time | status | verdict | error rate | ttft.median |\n\
             |---|---|---|---|---|\n| 2026-11-03T00:00:00Z | passed | unchanged | 0% | 100ms |\n",
        );
        assert_has(trend, "| 2026-11-07T00:00:00Z |");
        assert_lacks(trend, "2026-11-02");
        assert_lacks(trend, "2026-11-08");
        assert_has(trend, "No runs in history yet: local::new.");
    }

    #[test]
    fn history_cells_stay_in_their_cell() {
        let mut history = row("baseline::local::chat", 1, None);
        history.verdict = "odd|word\nhere".into();
        let report = render(&[generation("chat", "m", 0.1, 100.0)], &[history]);
        assert_has(&report, "| passed | odd\\|word here | 0% |\n");
    }

    #[test]
    fn a_row_short_of_figures_shows_them_as_missing() {
        let mut short = row("baseline::local::chat", 1, None);
        short.figures.clear();
        let history = [short, row("baseline::local::chat", 2, Some(0.1))];
        let report = render(&[generation("chat", "m", 0.1, 100.0)], &history);
        assert_has(&report, "| passed | unchanged | 0% | - |\n");
    }

    #[test]
    fn without_history_there_is_no_trend() {
        let report = render(&[generation("chat", "m", 0.1, 100.0)], &[]);
        assert_lacks(&report, "## Trend");
    }
}
