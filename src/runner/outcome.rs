//! What running one check produced, before it becomes a record.

use crate::judge::Violation;
use crate::metric::Figure;
use crate::report::Status;
use crate::scenario::diagnostic::SourceFile;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub message: Option<String>,
    /// What failed, in a word or a few (`threshold`, `status, schema`, `request`): the
    /// JUnit failure or error `type`.
    pub cause: Option<String>,
    pub figures: Vec<Figure>,
    /// Text facts beside the figures (where a token count came from, the finish reason).
    pub labels: Vec<(String, String)>,
    pub details: String,
    /// What a baseline case adds for the reports.
    pub baseline: Option<crate::report::record::BaselineFacts>,
}

/// Why a case could not be judged, as the JUnit error `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCause {
    /// The scenario or suite file did not load.
    Load,
    /// A managed target did not start, or a target's client could not be built.
    Target,
    /// The request failed: refused, timed out, a broken stream, an HTTP error.
    Request,
    /// The run ended before the case did.
    Unfinished,
    /// The harness itself failed (a panic): a bug to report.
    Bug,
    /// An artifact or stored file the case writes or reads could not be (the samples file,
    /// `history.csv`, a stored baseline).
    Artifacts,
}

impl ErrorCause {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCause::Load => "load",
            ErrorCause::Target => "target",
            ErrorCause::Request => "request",
            ErrorCause::Unfinished => "unfinished",
            ErrorCause::Bug => "bug",
            ErrorCause::Artifacts => "artifacts",
        }
    }
}

impl Outcome {
    pub fn error(cause: ErrorCause, message: impl Into<String>) -> Outcome {
        let mut outcome = Outcome::with(Status::Error, Some(message.into()));
        outcome.cause = Some(cause.as_str().to_string());
        outcome
    }

    pub fn skipped(reason: impl Into<String>) -> Outcome {
        Outcome::with(Status::Skipped, Some(reason.into()))
    }

    /// Passed when nothing was violated, else failed with every violation, one a line and
    /// each behind the `file:line:col` of the expectation that set it, under a heading that
    /// says what was checked.
    pub fn judged(
        heading: &str,
        violations: &[Violation],
        figures: Vec<Figure>,
        file: &SourceFile,
    ) -> Outcome {
        let mut outcome = if violations.is_empty() {
            Outcome::with(Status::Passed, None)
        } else {
            let lines: Vec<String> = violations
                .iter()
                .map(|v| match &v.at {
                    Some(span) => format!("  {}: {v}", file.locate(span)),
                    None => format!("  {v}"),
                })
                .collect();
            let mut causes: Vec<&str> = violations.iter().map(|v| v.cause.as_str()).collect();
            causes.sort_unstable();
            causes.dedup();
            let mut failed = Outcome::with(
                Status::Failed,
                Some(format!("{heading}\n{}", lines.join("\n"))),
            );
            failed.cause = Some(causes.join(", "));
            failed
        };
        outcome.figures = figures;
        outcome
    }

    /// Turns a judged outcome into an error, keeping its figures and its message after the
    /// error's: what was measured stays reported, and the run still fails.
    pub fn keep_as_error(&mut self, cause: ErrorCause, message: impl Into<String>) {
        let message = message.into();
        self.message = Some(match self.message.take() {
            Some(judged) => format!("{message}\n{judged}"),
            None => message,
        });
        self.status = Status::Error;
        self.cause = Some(cause.as_str().to_string());
    }

    fn with(status: Status, message: Option<String>) -> Outcome {
        Outcome {
            status,
            message,
            cause: None,
            figures: Vec::new(),
            labels: Vec::new(),
            details: String::new(),
            baseline: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Cause;
    use std::path::Path;

    #[test]
    fn violations_are_placed_and_their_causes_named() {
        let file = SourceFile::new(Path::new("s/x.toml"), "a\nexpect = 1\n");
        let violations = [
            Violation::new(Cause::Threshold, "ttft", "< 1s", "2s").at(2..3),
            Violation::new(Cause::Status, "status", "2xx", "503"),
            Violation::new(Cause::Threshold, "latency", "< 1s", "3s").at(11..12),
        ];
        let outcome = Outcome::judged("GET /:", &violations, Vec::new(), &file);
        assert_eq!(outcome.status, Status::Failed);
        assert_eq!(outcome.cause.as_deref(), Some("status, threshold"));
        assert_eq!(
            outcome.message.as_deref(),
            Some(
                "GET /:\n  s/x.toml:2:1: ttft: expected < 1s, observed 2s\n  status: expected 2xx, observed 503\n  s/x.toml:2:10: latency: expected < 1s, observed 3s"
            )
        );
    }

    #[test]
    fn nothing_violated_passes() {
        let outcome = Outcome::judged(
            "x",
            &[],
            vec![Figure::new("latency", 0.5)],
            &SourceFile::default(),
        );
        assert_eq!((outcome.status, outcome.cause), (Status::Passed, None));
        assert_eq!(outcome.figures.len(), 1);
    }
}
