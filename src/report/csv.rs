//! `results.csv`: one row per case, fixed columns first, then one column per figure name
//! seen in the run, then one per text label (empty where a case has none). Figures are in
//! their base units, whatever kind produced them: seconds for durations, a fraction for
//! ratios, per second for rates.

use super::record::Record;
use crate::text::csv_records;

const FIXED: &[&str] = &[
    "timestamp",
    "name",
    "kind",
    "scenario",
    "check",
    "status",
    "duration_s",
    "message",
];

pub fn render(records: &[Record]) -> Vec<u8> {
    let mut figure_names: Vec<&str> = Vec::new();
    for record in records {
        for figure in &record.figures {
            if !figure_names.contains(&figure.name.as_str()) {
                figure_names.push(&figure.name);
            }
        }
    }
    let mut label_names: Vec<&str> = Vec::new();
    for record in records {
        for (name, _) in &record.labels {
            if !label_names.contains(&name.as_str()) {
                label_names.push(name);
            }
        }
    }
    let header = FIXED
        .iter()
        .copied()
        .chain(figure_names.iter().copied())
        .chain(label_names.iter().copied());
    let rows = records.iter().map(|record| {
        let mut row = vec![
            format!("{:.3}", record.started_at),
            record.name.clone(),
            record.kind.as_str().to_string(),
            record.scenario.clone(),
            record.check.clone(),
            record.status.as_str().to_string(),
            format!("{:.6}", record.duration_s),
            record.message.clone().unwrap_or_default(),
        ];
        for name in &figure_names {
            let value = record.figure(name);
            row.push(value.map(|f| f.value.to_string()).unwrap_or_default());
        }
        for name in &label_names {
            let value = record.labels.iter().find(|(n, _)| n == name);
            row.push(value.map(|(_, v)| v.clone()).unwrap_or_default());
        }
        row
    });
    to_csv(header, rows)
}

/// A CSV file in memory: the header, then the rows.
pub(super) fn to_csv<'a>(
    header: impl IntoIterator<Item = &'a str>,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Vec<u8> {
    let mut text = csv_records([header]);
    text.extend(csv_records(rows));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{endpoint, record};
    use crate::report::record::RequestKind;

    /// An sla case of a mix has figures per request and per stage that another case has
    /// not: each is a column, empty where a case lacks it.
    #[test]
    fn a_figure_only_some_cases_have_is_a_column_empty_for_the_others() {
        let facts = crate::report::fixtures::facts(RequestKind::Http, None);
        let mixed = record(
            "mixed",
            facts,
            &[
                ("latency.p99", 0.02),
                ("latency.p99{search}", 0.03),
                ("latency.p99@2", 0.04),
            ],
        );
        let text = String::from_utf8(render(&[endpoint("plain"), mixed])).unwrap();
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let (search, stage) = (column("latency.p99{search}"), column("latency.p99@2"));
        assert_eq!((&rows[0][search], &rows[0][stage]), ("", ""));
        assert_eq!((&rows[1][search], &rows[1][stage]), ("0.03", "0.04"));
    }
}
