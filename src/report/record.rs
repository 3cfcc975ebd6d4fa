//! What the reporters read: one plain, serializable record per case.
//!
//! libtest-mimic's `run()` only returns counts, so the runner keeps these itself. They are
//! also what cargo-nextest's separate processes write to disk to be merged.

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::metric::Figure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// An expectation or threshold did not hold.
    Failed,
    /// The check could not be judged: load error, server down, broken stream.
    Error,
    /// Ignored with a reason (an optional target whose variable is unset).
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub kind: Kind,
    pub scenario: String,
    pub check: String,
    pub file: String,
    pub status: Status,
    /// Seconds since the Unix epoch when the case started.
    pub started_at: f64,
    pub duration_s: f64,
    /// For failures and errors the reason; for skipped cases why.
    pub message: Option<String>,
    /// For failures and errors, what failed (`threshold`, `status, schema`, `request`):
    /// the JUnit `type`.
    pub cause: Option<String>,
    /// Key figures under stable names with their units, in the order the check produced
    /// them.
    pub figures: Vec<Figure>,
    /// Text facts under stable names (`output_tokens_source`, `finish_reason`).
    pub labels: Vec<(String, String)>,
    /// Free text for the report (system-out in JUnit).
    pub details: String,
    /// For a baseline case, what the reports need beyond the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineFacts>,
}

impl Record {
    /// The figure of that name, if the case produced it.
    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.name == name)
    }
}

/// What a `[[baseline]]` case measured besides its figures, and how it compared with the
/// stored baseline: what `report.md`, `summary.csv` and `history.csv` read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineFacts {
    pub request: RequestKind,
    /// The model asked, for generation and embeddings requests.
    pub model: Option<String>,
    /// Method and path (`POST /v1/chat/completions`): the report's per-endpoint key.
    pub endpoint: String,
    /// Iterations counted (warmup excluded), failed ones included.
    pub iterations: usize,
    pub failed: usize,
    /// Wall time of the counted iterations, pauses excluded: requests/s is
    /// `iterations / busy_s`.
    pub busy_s: f64,
    pub stored: StoredState,
    /// One per compared figure, in the order the check lists them.
    pub comparisons: Vec<ComparisonFact>,
    /// Where this run wrote its measurement as a baseline, if it did.
    pub written: Option<String>,
}

/// Comparison verdicts from the mildest to the worst: what one word for a whole case picks
/// from.
const MILDEST_FIRST: &[&str] = &[
    "unchanged",
    "improved",
    "changed",
    "inconclusive",
    "regressed",
];

impl BaselineFacts {
    /// One word for the case, as `summary.csv` and `history.csv` keep it: the worst of its
    /// comparisons (`regressed` before `inconclusive` before `changed` before `improved`
    /// before `unchanged`), so that a row shows the one that needs attention; `missing` or
    /// `not compared` when nothing was compared. A word outside that list ranks worst, so
    /// that it is shown rather than hidden behind a known one.
    pub fn verdict(&self) -> &str {
        match self.stored {
            StoredState::Compared => self
                .comparisons
                .iter()
                .map(|comparison| comparison.verdict.as_str())
                .max_by_key(|verdict| {
                    MILDEST_FIRST
                        .iter()
                        .position(|known| known == verdict)
                        .unwrap_or(MILDEST_FIRST.len())
                })
                .unwrap_or("unchanged"),
            StoredState::Missing | StoredState::NotCompared => self.stored.as_str(),
        }
    }

    /// Iterations per second of busy time; `None` when no time was spent.
    pub fn requests_per_s(&self) -> Option<f64> {
        (self.busy_s > 0.0).then(|| self.iterations as f64 / self.busy_s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Generation,
    Embeddings,
    Http,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Generation => "generation",
            RequestKind::Embeddings => "embeddings",
            RequestKind::Http => "http",
        }
    }
}

/// Whether there was a stored baseline to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredState {
    Compared,
    /// No stored entry for this check: reported as missing, never as compared.
    Missing,
    /// Not compared: no iteration of this run measured the compared metrics (all failed),
    /// or the stored file could not be read.
    NotCompared,
}

impl StoredState {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredState::Compared => "compared",
            StoredState::Missing => "missing",
            StoredState::NotCompared => "not compared",
        }
    }
}

/// One figure's comparison with its stored baseline, as numbers and as the sentence the
/// case's message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonFact {
    /// The metric compared (`tokens_per_s`): its medians are compared.
    pub figure: String,
    pub unit: crate::metric::Unit,
    /// `regressed`, `improved`, `unchanged`, `changed` or `inconclusive`.
    pub verdict: String,
    pub stored_median: f64,
    pub measured_median: f64,
    pub stored_cov: Option<f64>,
    pub measured_cov: Option<f64>,
    /// measured / stored, and its 95% interval; `None` when the gate did not resample.
    pub ratio: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// As a share: 0.1 for 10%.
    pub tolerance: f64,
    pub sentence: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{self, comparison};
    use rstest::rstest;

    fn facts(stored: StoredState, verdicts: &[&str]) -> BaselineFacts {
        BaselineFacts {
            stored,
            comparisons: verdicts
                .iter()
                .map(|verdict| comparison("ttft", verdict, 0.1, 0.1))
                .collect(),
            ..fixtures::facts(RequestKind::Generation, None)
        }
    }

    #[rstest]
    #[case(StoredState::Compared, &["unchanged", "regressed", "improved"], "regressed")]
    #[case(StoredState::Compared, &["improved", "inconclusive", "changed"], "inconclusive")]
    #[case(StoredState::Compared, &["improved", "changed", "unchanged"], "changed")]
    #[case(StoredState::Compared, &["unchanged", "improved"], "improved")]
    #[case(StoredState::Compared, &["unchanged"], "unchanged")]
    #[case(StoredState::Compared, &[], "unchanged")]
    #[case(StoredState::Compared, &["regressed", "odd"], "odd")]
    #[case(StoredState::Missing, &[], "missing")]
    #[case(StoredState::NotCompared, &[], "not compared")]
    fn names_the_worst_verdict(
        #[case] stored: StoredState,
        #[case] verdicts: &[&str],
        #[case] expected: &str,
    ) {
        assert_eq!(facts(stored, verdicts).verdict(), expected);
    }

    #[rstest]
    #[case(4.0, Some(2.5))]
    #[case(0.0, None)]
    fn counts_requests_per_busy_second(#[case] busy_s: f64, #[case] expected: Option<f64>) {
        let facts = BaselineFacts {
            busy_s,
            ..facts(StoredState::Missing, &[])
        };
        assert_eq!(facts.requests_per_s(), expected);
    }
}
