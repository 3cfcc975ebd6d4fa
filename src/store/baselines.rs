//! Stored baselines: `<PERFCASE_BASELINES>/<scenario>.json`, one entry per check, written
//! pretty-printed with sorted keys so that a team reviews and commits them as diffs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The file of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredFile {
    /// The format's version: 1.
    pub format: u32,
    /// Keyed by the check's name within the scenario (`generate`).
    pub checks: BTreeMap<String, StoredCheck>,
}

/// One check's measurement, kept as the baseline later runs compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCheck {
    /// When it was measured, RFC 3339 in UTC.
    pub recorded_at: String,
    pub perfcase_version: String,
    pub against: RecordedAgainst,
    /// Iterations counted, failed ones included.
    pub iterations: usize,
    /// Every statistic of every metric (`tokens_per_s.median`), in base units.
    pub figures: BTreeMap<String, f64>,
    /// The values of each metric (`ttft`), at most [`MAX_STORED_SAMPLES`]: what the gate
    /// resamples.
    pub samples: BTreeMap<String, Vec<f64>>,
}

/// What was measured: a stored baseline is only meaningful against the same server,
/// model and machine, and the comparison says so when they differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedAgainst {
    /// The target's origin (`http://127.0.0.1:8080`): never its path, query or credentials.
    pub server: String,
    /// `ollama`, `openai` or `http`.
    pub api: String,
    pub server_version: Option<String>,
    pub model: Option<String>,
    pub model_digest: Option<String>,
    /// `linux x86_64, 2 CPUs`.
    pub machine: String,
}

/// At most this many values of a metric are stored: enough for the gate (its tests use
/// ten), few enough that the file stays reviewable.
pub const MAX_STORED_SAMPLES: usize = 1_000;

/// `PERFCASE_UPDATE`: what a run does with its measurements, in the spirit of insta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Write nothing (the default under `CI`).
    No,
    /// Write `<scenario>.json.new` beside the stored file for review (the default
    /// elsewhere).
    New,
    /// Rewrite `<scenario>.json` in place.
    Always,
}
