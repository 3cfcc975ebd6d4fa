//! Deciding pass or fail: pure functions of what was observed and what was expected.
//!
//! Nothing here does I/O, so every rule is table-tested without a server.

pub mod inference;
pub mod smoke;
pub mod threshold;

use std::fmt;

/// One expectation that did not hold, with both sides spelled out for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub what: String,
    pub expected: String,
    pub observed: String,
}

impl Violation {
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Self {
        Violation {
            what: what.into(),
            expected: expected.into(),
            observed: observed.into(),
        }
    }
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
