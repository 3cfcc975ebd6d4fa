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
}
