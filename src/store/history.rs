//! `history.csv`: one row per baseline case per run, appended, so the trend of a check
//! over runs can be read back (the report's "last runs" table).

/// The columns every row has, in order, before the figure columns.
pub const FIXED_COLUMNS: &[&str] = &[
    "time",
    "case",
    "status",
    "verdict",
    "iterations",
    "error_rate",
];

/// The figures history keeps, one column each (empty where a case has no such figure):
/// few and fixed, so the header never depends on which checks ran.
pub const HISTORY_FIGURES: &[&str] = &[
    "latency.median",
    "latency.p95",
    "ttft.median",
    "ttft.p95",
    "tokens_per_s.median",
    "tokens_per_s.cov",
    "inputs_per_s.median",
];

/// One row: a baseline case in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// When the case started, RFC 3339 in UTC (`2026-11-27T21:50:00Z`).
    pub time: String,
    /// The case name (`baseline::local-llm::generate`).
    pub case: String,
    /// `passed`, `failed`, `error`.
    pub status: String,
    /// The worst comparison verdict, or `missing` / `not compared`: see
    /// [`crate::report::record::BaselineFacts::verdict`].
    pub verdict: String,
    pub iterations: usize,
    pub error_rate: f64,
    /// The value of each of [`HISTORY_FIGURES`], in that order.
    pub figures: Vec<Option<f64>>,
}
