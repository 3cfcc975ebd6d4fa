//! Synthetic baseline records for the reporters' tests: one place that knows how a baseline
//! case's record is put together, so each test says only what it is about.

use super::record::{BaselineFacts, ComparisonFact, Record, RequestKind, Status, StoredState};
use crate::kind::Kind;
use crate::metric::{Figure, unit_of};

/// Facts of a case that ran 10 iterations in 4 seconds, none failed, with no stored
/// baseline and no comparison.
pub fn facts(request: RequestKind, model: Option<&str>) -> BaselineFacts {
    BaselineFacts {
        request,
        model: model.map(str::to_string),
        endpoint: "POST /v1/chat/completions".into(),
        iterations: 10,
        failed: 0,
        busy_s: 4.0,
        stored: StoredState::Missing,
        comparisons: Vec::new(),
        written: None,
    }
}

/// A comparison of `figure`'s medians with that verdict, a 10% tolerance and CoVs of 2%
/// stored and 3% measured; its interval is ±5% around the ratio.
pub fn comparison(figure: &str, verdict: &str, stored: f64, measured: f64) -> ComparisonFact {
    let ratio = measured / stored;
    ComparisonFact {
        figure: figure.into(),
        unit: unit_of(figure).expect("a registered metric"),
        verdict: verdict.into(),
        stored_median: stored,
        measured_median: measured,
        stored_cov: Some(0.02),
        measured_cov: Some(0.03),
        ratio: Some(ratio),
        low: Some(ratio - 0.05),
        high: Some(ratio + 0.05),
        tolerance: 0.1,
        sentence: format!("{verdict}: median {figure}"),
    }
}

/// A passed baseline case `baseline::local::<check>` with those figures (units from the
/// registry).
pub fn record(check: &str, facts: BaselineFacts, figures: &[(&str, f64)]) -> Record {
    Record {
        name: format!("baseline::local::{check}"),
        kind: Kind::Baseline,
        scenario: "local".into(),
        check: check.into(),
        file: "scenarios/local.toml".into(),
        status: Status::Passed,
        started_at: 0.0,
        duration_s: 5.0,
        message: None,
        cause: None,
        figures: figures
            .iter()
            .map(|(name, value)| Figure::new(*name, *value))
            .collect(),
        labels: Vec::new(),
        details: String::new(),
        baseline: Some(facts),
    }
}

/// A generation case whose TTFT and tokens/s statistics derive from `ttft` and `rate`: the
/// median and mean are those, min 0.9×, max 1.2×, p95 1.1× the TTFT; CoVs 2% and 3%.
pub fn generation(check: &str, model: &str, ttft: f64, rate: f64) -> Record {
    record(
        check,
        facts(RequestKind::Generation, Some(model)),
        &[
            ("ttft.mean", ttft),
            ("ttft.median", ttft),
            ("ttft.min", ttft * 0.9),
            ("ttft.max", ttft * 1.2),
            ("ttft.p95", ttft * 1.1),
            ("ttft.cov", 0.02),
            ("tokens_per_s.mean", rate),
            ("tokens_per_s.median", rate),
            ("tokens_per_s.cov", 0.03),
            ("error_rate", 0.0),
        ],
    )
}

/// An embeddings case: latency 50ms on average, p95 80ms, 60 inputs/s.
pub fn embedding(check: &str, model: &str) -> Record {
    record(
        check,
        facts(RequestKind::Embeddings, Some(model)),
        &[
            ("latency.mean", 0.05),
            ("latency.median", 0.05),
            ("latency.p95", 0.08),
            ("inputs_per_s.mean", 60.0),
            ("inputs_per_s.median", 60.0),
        ],
    )
}

/// A `GET /health` case with one of its 10 iterations failed: latency 2ms on average, p95
/// 4ms.
pub fn endpoint(check: &str) -> Record {
    let mut record = record(
        check,
        facts(RequestKind::Http, None),
        &[
            ("latency.mean", 0.002),
            ("latency.p95", 0.004),
            ("error_rate", 0.1),
        ],
    );
    let facts = record.baseline.as_mut().expect("a baseline record");
    facts.endpoint = "GET /health".into();
    facts.failed = 1;
    record
}

/// The record compared with a stored baseline, with these comparisons.
pub fn compared(mut record: Record, comparisons: Vec<ComparisonFact>) -> Record {
    let facts = record.baseline.as_mut().expect("a baseline record");
    facts.stored = StoredState::Compared;
    facts.comparisons = comparisons;
    record
}

/// Asserts that `text` holds `expected`, showing the whole text when it does not.
#[track_caller]
pub fn assert_has(text: &str, expected: &str) {
    assert!(text.contains(expected), "expected {expected:?} in\n{text}");
}

/// Asserts that `text` does not hold `unexpected`, showing the whole text when it does.
#[track_caller]
pub fn assert_lacks(text: &str, unexpected: &str) {
    assert!(
        !text.contains(unexpected),
        "unexpected {unexpected:?} in\n{text}"
    );
}

/// The part of a Markdown report from the `## <heading>` line up to the next such line.
#[track_caller]
pub fn section<'a>(report: &'a str, heading: &str) -> &'a str {
    let start = report
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading} in\n{report}"))
        + 1;
    let rest = &report[start..];
    let end = rest[1..].find("\n## ").map_or(rest.len(), |i| i + 2);
    &rest[..end]
}
