//! `summary.csv`: one row per baseline case, with fixed columns whatever checks ran, so a
//! dashboard or a spreadsheet reads it by position or name across runs. Values are in base
//! units (seconds, fractions, per second), empty where a case has none. The figure columns
//! are the ones history keeps, so a summary row and a history row read alike.

use super::csv::to_csv;
use super::record::Record;
use crate::kind::Kind;
use crate::store::history::HISTORY_FIGURES;

/// The columns before the figure columns.
const LEADING: &[&str] = &[
    "name",
    "scenario",
    "check",
    "status",
    "request",
    "model",
    "endpoint",
    "iterations",
    "failed",
    "error_rate",
    "requests_per_s",
];

/// The columns after the figure columns.
const TRAILING: &[&str] = &["stored", "verdict", "written"];

/// `stored` and `verdict` of a baseline case that measured nothing.
const NOT_MEASURED: &str = "not measured";

pub fn render(records: &[Record]) -> Vec<u8> {
    let header = LEADING
        .iter()
        .chain(HISTORY_FIGURES)
        .chain(TRAILING)
        .copied();
    to_csv(header, records.iter().filter_map(row))
}

/// The row of a baseline case; `None` for any other. A case that measured nothing (its
/// server did not start, it was skipped) has its name, status and `not measured`.
fn row(record: &Record) -> Option<Vec<String>> {
    if record.kind != Kind::Baseline {
        return None;
    }
    let Some(facts) = record.baseline.as_ref() else {
        let mut row = vec![
            record.name.clone(),
            record.scenario.clone(),
            record.check.clone(),
            record.status.as_str().to_string(),
        ];
        let empty = LEADING.len() + HISTORY_FIGURES.len() + TRAILING.len() - row.len();
        row.extend(std::iter::repeat_n(String::new(), empty));
        let verdict = row.len() - 2;
        row[verdict - 1] = NOT_MEASURED.into();
        row[verdict] = NOT_MEASURED.into();
        return Some(row);
    };
    let figure = |name: &str| {
        record
            .figure(name)
            .map(|figure| figure.value.to_string())
            .unwrap_or_default()
    };
    let mut row = vec![
        record.name.clone(),
        record.scenario.clone(),
        record.check.clone(),
        record.status.as_str().to_string(),
        facts.request.as_str().to_string(),
        facts.model.clone().unwrap_or_default(),
        facts.endpoint.clone(),
        facts.iterations.to_string(),
        facts.failed.to_string(),
        figure("error_rate"),
        facts
            .requests_per_s()
            .map(|rate| rate.to_string())
            .unwrap_or_default(),
    ];
    row.extend(HISTORY_FIGURES.iter().map(|name| figure(name)));
    row.extend([
        facts.stored.as_str().to_string(),
        facts.verdict().to_string(),
        facts.written.clone().unwrap_or_default(),
    ]);
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{compared, comparison, embedding, endpoint, generation};

    use rstest::rstest;

    /// The value of `column` in each row, read back by name.
    fn column(records: &[Record], column: &str) -> Vec<String> {
        let bytes = render(records);
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let at = reader
            .headers()
            .unwrap()
            .iter()
            .position(|name| name == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        reader
            .records()
            .map(|row| row.unwrap()[at].to_string())
            .collect()
    }

    fn written(mut record: Record) -> Record {
        record.baseline.as_mut().unwrap().written = Some("baselines/local.json.new".into());
        record
    }

    #[test]
    fn a_case_that_measured_nothing_has_a_row_saying_so() {
        let mut down = generation("down", "m", 0.1, 100.0);
        down.baseline = None;
        down.status = crate::report::Status::Error;
        assert_eq!(column(&[down.clone()], "status"), ["error"]);
        assert_eq!(column(&[down.clone()], "stored"), ["not measured"]);
        assert_eq!(column(&[down.clone()], "verdict"), ["not measured"]);
        assert_eq!(column(&[down], "iterations"), [""]);
    }

    #[test]
    fn the_header_is_fixed() {
        assert_eq!(
            String::from_utf8(render(&[])).unwrap(),
            "name,scenario,check,status,request,model,endpoint,iterations,failed,error_rate,\
             requests_per_s,latency.median,latency.p95,ttft.median,ttft.p95,tokens_per_s.median,\
             tokens_per_s.cov,inputs_per_s.median,stored,verdict,written\n"
        );
    }

    #[test]
    fn a_generation_row_in_base_units() {
        let bytes = render(&[generation("chat", "smollm2", 0.12, 130.0)]);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "baseline::local::chat,local,chat,passed,generation,smollm2,\
             POST /v1/chat/completions,10,0,0,2.5,,,0.12,0.132,130,0.03,,missing,missing,"
        );
    }

    #[rstest]
    #[case::http_failures(endpoint("health"), "failed", "1")]
    #[case::http_error_rate(endpoint("health"), "error_rate", "0.1")]
    #[case::http_has_no_model(endpoint("health"), "model", "")]
    #[case::http_endpoint(endpoint("health"), "endpoint", "GET /health")]
    #[case::embeddings_rate(embedding("embed", "nomic"), "inputs_per_s.median", "60")]
    #[case::embeddings_latency(embedding("embed", "nomic"), "latency.median", "0.05")]
    #[case::embeddings_request(embedding("embed", "nomic"), "request", "embeddings")]
    #[case::worst_verdict(
        compared(
            generation("chat", "m", 0.1, 100.0),
            vec![
                comparison("tokens_per_s", "improved", 90.0, 100.0),
                comparison("ttft", "regressed", 0.08, 0.1),
            ],
        ),
        "verdict",
        "regressed"
    )]
    #[case::compared(
        compared(generation("chat", "m", 0.1, 100.0), Vec::new()),
        "stored",
        "compared"
    )]
    #[case::written(
        written(generation("chat", "m", 0.1, 100.0)),
        "written",
        "baselines/local.json.new"
    )]
    fn holds_each_fact(#[case] record: Record, #[case] name: &str, #[case] expected: &str) {
        assert_eq!(column(&[record], name), [expected]);
    }

    #[test]
    fn only_baseline_cases_have_rows() {
        let mut plain = generation("plain", "m", 0.1, 100.0);
        plain.kind = Kind::Inference;
        let records = [plain, generation("chat", "m", 0.1, 100.0)];
        assert_eq!(column(&records, "name"), ["baseline::local::chat"]);
    }
}
