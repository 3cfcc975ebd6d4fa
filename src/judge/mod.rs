//! Deciding pass or fail: pure functions of what was observed and what was expected.
//!
//! Nothing here does I/O, so every rule is table-tested without a server.

pub mod baseline;
pub mod embeddings;
pub mod inference;
pub mod smoke;
pub mod threshold;

use std::fmt;
use std::ops::Range;

/// What kind of expectation failed: the JUnit failure `type`, so that a CI page can tell a
/// slow server (threshold) from a wrong answer or a broken endpoint at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Status,
    Body,
    Json,
    Schema,
    Answer,
    Threshold,
    /// A baseline's iterations: some failed, or not all ran within `max_duration`.
    Iterations,
    /// A compared median moved beyond the tolerance the worse way.
    Regression,
    /// A stored baseline the check requires is missing.
    Baseline,
    /// Requests under load failed, and no `error_rate` threshold allows it.
    Errors,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Status => "status",
            Cause::Body => "body",
            Cause::Json => "json",
            Cause::Schema => "schema",
            Cause::Answer => "answer",
            Cause::Threshold => "threshold",
            Cause::Iterations => "iterations",
            Cause::Regression => "regression",
            Cause::Baseline => "baseline",
            Cause::Errors => "errors",
        }
    }
}

/// One expectation that did not hold, with both sides spelled out for the report, and
/// where in the scenario file the expectation was written (a byte span of its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub cause: Cause,
    pub what: String,
    pub expected: String,
    pub observed: String,
    pub at: Option<Range<usize>>,
}

impl Violation {
    pub fn new(
        cause: Cause,
        what: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Self {
        Violation {
            cause,
            what: what.into(),
            expected: expected.into(),
            observed: observed.into(),
            at: None,
        }
    }

    /// Where the expectation was written.
    pub fn at(mut self, span: Range<usize>) -> Self {
        self.at = Some(span);
        self
    }
}

/// The `expect` table of an inference check whose input is `input` (`prompt = "p"`), for
/// the judges' tests.
#[cfg(test)]
fn inference_expect(input: &str, rules: &str) -> crate::scenario::InferenceExpect {
    let text = format!(
        "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[inference]]\nname = \"c\"\nmodel = \"m\"\n{input}\nexpect = {rules}\n"
    );
    crate::scenario::parse_scenario(&text, &|_: &str| None)
        .unwrap()
        .inference
        .remove(0)
        .into_inner()
        .expect
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, observed {}",
            self.what, self.expected, self.observed
        )
    }
}
