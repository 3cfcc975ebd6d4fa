//! The records of a run, kept in one place under one lock: the cases that finished, the
//! cases that will run and have not finished yet, and whether the run has ended. One lock
//! so that a case moves from unfinished to finished in one step: artifacts written by a
//! signal's handler at any moment list every case exactly once.

use std::sync::Mutex;

use crate::report::Record;

#[derive(Default)]
pub struct Book {
    pages: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    finished: Vec<Record>,
    /// An error record for every case that will run and has not finished: what the
    /// artifacts show for it if the run is interrupted or aborted, so that a cut-short run
    /// never reads as green.
    unfinished: Vec<Record>,
    /// Set by whoever ends the run first, the end of `main` or a signal's handler. Cases
    /// that finish after it (their server stopped under them) are not recorded: they stay
    /// unfinished rather than show errors the stop caused.
    closed: bool,
}

impl Book {
    fn pages(&self) -> std::sync::MutexGuard<'_, Pages> {
        self.pages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a case that will run, as unfinished until it is.
    pub fn plan(&self, unfinished: Record) {
        self.pages().unfinished.push(unfinished);
    }

    /// Records a case's outcome in place of its unfinished record; ignored once closed.
    pub fn store(&self, record: Record) {
        let mut pages = self.pages();
        if pages.closed {
            return;
        }
        pages
            .unfinished
            .retain(|pending| pending.name != record.name);
        pages.finished.push(record);
    }

    /// Closes the book: true for the first caller only.
    pub fn close(&self) -> bool {
        !std::mem::replace(&mut self.pages().closed, true)
    }

    /// Every case once: the finished ones, then those not finished.
    pub fn all(&self) -> Vec<Record> {
        let pages = self.pages();
        pages
            .finished
            .iter()
            .chain(&pages.unfinished)
            .cloned()
            .collect()
    }

    pub fn finished_count(&self) -> usize {
        self.pages().finished.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;
    use crate::report::Status;

    fn record(name: &str, status: Status) -> Record {
        Record {
            name: name.into(),
            kind: Kind::Smoke,
            scenario: "s".into(),
            check: name.into(),
            file: "s.toml".into(),
            status,
            started_at: 0.0,
            duration_s: 0.0,
            message: None,
            cause: None,
            figures: Vec::new(),
            labels: Vec::new(),
            details: String::new(),
            baseline: None,
        }
    }

    fn statuses(book: &Book) -> Vec<(String, Status)> {
        book.all().into_iter().map(|r| (r.name, r.status)).collect()
    }

    #[test]
    fn a_case_is_listed_once_unfinished_then_finished() {
        let book = Book::default();
        book.plan(record("a", Status::Error));
        book.plan(record("b", Status::Error));
        book.store(record("a", Status::Passed));
        assert_eq!(
            statuses(&book),
            [("a".into(), Status::Passed), ("b".into(), Status::Error)]
        );
        assert_eq!(book.finished_count(), 1);
    }

    #[test]
    fn once_closed_outcomes_are_not_recorded() {
        let book = Book::default();
        book.plan(record("a", Status::Error));
        assert!(book.close());
        assert!(!book.close(), "only the first caller ends the run");
        book.store(record("a", Status::Error));
        assert_eq!(statuses(&book), [("a".into(), Status::Error)]);
        assert_eq!(book.finished_count(), 0);
    }
}
