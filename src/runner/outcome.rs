//! What running one check produced, before it becomes a record.

use crate::judge::Violation;
use crate::report::Status;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub message: Option<String>,
    pub figures: Vec<(String, f64)>,
    /// Text facts beside the figures (where a token count came from, the finish reason).
    pub labels: Vec<(String, String)>,
    pub details: String,
}

impl Outcome {
    pub fn error(message: impl Into<String>) -> Outcome {
        Outcome::with(Status::Error, Some(message.into()))
    }

    pub fn skipped(reason: impl Into<String>) -> Outcome {
        Outcome::with(Status::Skipped, Some(reason.into()))
    }

    /// Passed when nothing was violated, else failed with every violation, one a line,
    /// under a heading that says what was checked.
    pub fn judged(heading: &str, violations: &[Violation], figures: Vec<(String, f64)>) -> Outcome {
        let mut outcome = if violations.is_empty() {
            Outcome::with(Status::Passed, None)
        } else {
            let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
            Outcome::with(
                Status::Failed,
                Some(format!("{heading}\n{}", lines.join("\n"))),
            )
        };
        outcome.figures = figures;
        outcome
    }

    fn with(status: Status, message: Option<String>) -> Outcome {
        Outcome {
            status,
            message,
            figures: Vec::new(),
            labels: Vec::new(),
            details: String::new(),
        }
    }
}
