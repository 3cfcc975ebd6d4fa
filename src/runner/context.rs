//! What every kind's run function receives besides its target and spec: the run's
//! settings (the artifacts folder among them), the redactor every text that leaves the
//! harness goes through, the scenario file for `file:line:col`, and a progress sink for
//! long cases.

use crate::config::Config;
use crate::scenario::diagnostic::SourceFile;
use crate::target::Redactor;
use crate::text::printable;

pub struct RunContext<'a> {
    /// The case's name, scenario and check (`baseline::local-llm::generate`, `local-llm`,
    /// `generate`): what its artifacts and stored files are named by.
    pub case: &'a str,
    pub scenario: &'a str,
    pub check: &'a str,
    pub config: &'a Config,
    pub redactor: &'a Redactor,
    /// The scenario file the case's check was written in.
    pub file: &'a SourceFile,
    pub progress: Progress<'a>,
}

/// Progress lines on stderr, named by case: libtest prints a case only when it ends, and a
/// case that waits for a model server to load should not look hung meanwhile.
pub struct Progress<'a> {
    case: &'a str,
    redactor: &'a Redactor,
}

impl<'a> Progress<'a> {
    pub fn new(case: &'a str, redactor: &'a Redactor) -> Progress<'a> {
        Progress { case, redactor }
    }

    pub fn say(&self, message: &str) {
        let message = self.redactor.redact(message);
        eprintln!("perfcase: {}: {}", self.case, printable(&message));
    }
}
