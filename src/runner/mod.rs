//! Cases become libtest-mimic trials; this module runs them and keeps their records.
//!
//! Every kind goes through one dispatch ([`run_check`]) with the same [`RunContext`]. The
//! scheduling rule is in [`schedule`]: cases that measure a server take turns on it.
//! Under cargo-nextest, where each case is a process, the shipped `.config/nextest.toml`
//! gives measuring cases every test slot instead.
//!
//! A managed target is stopped as soon as the last case that will run against it is done,
//! so one scenario's server does not run (and compete) during the next scenario's checks.

pub mod baseline;
pub mod book;
pub mod context;
pub mod inference;
pub mod outcome;
pub mod schedule;
pub mod signals;
pub mod sla;
pub mod smoke;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Completion, Failed, Trial};
use once_cell::sync::OnceCell;

use crate::args::Args;
use crate::catalog::{Case, CaseBody, Spec};
use crate::config::Config;
use crate::report::record::BaselineFacts;
use crate::report::{self, Record, Status};
use crate::target::{Redactor, Target};
use crate::text::printable;
use book::Book;
use context::{Progress, RunContext};
use outcome::{ErrorCause, Outcome};
use schedule::Scheduler;

pub struct Runner {
    config: Config,
    redactor: Redactor,
    /// One runtime for the whole run, built on first use so that `--list` starts no threads.
    runtime: OnceCell<tokio::runtime::Runtime>,
    scheduler: Scheduler,
    book: Book,
    /// Per target (by address), how many cases that will run have not finished yet.
    remaining: Mutex<HashMap<usize, usize>>,
    /// Serializes artifact writing between the end of the run and a signal handler.
    writing: Mutex<()>,
    /// Load errors that the run's filter left out: the run still fails on them.
    hidden_load_errors: Mutex<Vec<String>>,
}

/// The message of a case the run ended before.
const UNFINISHED: &str =
    "not finished: the run was interrupted or aborted before this case completed";

impl Runner {
    pub fn new(config: Config, redactor: Redactor) -> Arc<Runner> {
        Arc::new(Runner {
            config,
            redactor,
            runtime: OnceCell::new(),
            scheduler: Scheduler::default(),
            book: Book::default(),
            remaining: Mutex::new(HashMap::new()),
            writing: Mutex::new(()),
            hidden_load_errors: Mutex::new(Vec::new()),
        })
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("perfcase")
                .build()
                .expect("cannot start the tokio runtime")
        })
    }

    /// One trial per case; also counts, per target, the cases these arguments will run.
    ///
    /// Cases of an optional target whose variable is unset carry libtest's ignored flag, so
    /// `--ignored` selects them and nextest skips them; since libtest then never calls them,
    /// their skipped records (with the reason) are made here.
    pub fn trials(self: &Arc<Self>, cases: Vec<Case>, args: &Args) -> Vec<Trial> {
        let mut trials = Vec::with_capacity(cases.len());
        for case in cases {
            let case = Arc::new(case);
            let target = case.target().cloned();
            let disabled = target.as_ref().and_then(|t| t.disabled_reason.clone());
            let runner = Arc::clone(self);
            let for_trial = Arc::clone(&case);
            let trial =
                Trial::ignorable_test(case.name.clone(), move || runner.run_case(&for_trial))
                    .with_ignored_flag(disabled.is_some());
            let filtered_out = args.is_filtered_out(&trial);
            // Listing runs nothing: no records, no plan.
            if !args.libtest.list {
                let ignored = args.libtest.is_ignored(&trial);
                self.note_before_run(&case, disabled, filtered_out, ignored);
            }
            // libtest-mimic counts what its own filter leaves out; what only the further
            // filters leave out it must not see at all.
            if !filtered_out || args.libtest.is_filtered_out(&trial) {
                trials.push(trial);
            }
        }
        trials
    }

    /// What the artifacts say of a case before it runs.
    fn note_before_run(
        &self,
        case: &Case,
        disabled: Option<String>,
        filtered_out: bool,
        ignored: bool,
    ) {
        if let (CaseBody::LoadError(message), true) = (&case.body, filtered_out) {
            // A filter must not hide a broken file: the run fails on it all the same.
            self.hide_load_error(case, message);
        } else if let Some(reason) = disabled
            // libtest never calls an ignored trial, so its skipped record is made here.
            // Under nextest every process records them all, whatever its filter: nextest
            // itself skips these cases, so no process runs them to record them.
            && ((ignored && !filtered_out)
                || (filtered_out && self.config.nextest_run_id.is_some()))
        {
            let skipped = Outcome::skipped(reason);
            self.store(self.record(case, skipped, SystemTime::now(), 0.0));
        } else if !filtered_out && !ignored {
            let unfinished = Outcome::error(ErrorCause::Unfinished, UNFINISHED);
            let record = self.record(case, unfinished, SystemTime::now(), 0.0);
            self.plan(record, case.target());
        }
        // Ignored for another reason (`--bench`): libtest reports it, nothing runs.
    }

    /// Keeps a load error the filter left out: recorded as an error in the artifacts, and
    /// said again after the run, which fails.
    fn hide_load_error(&self, case: &Case, message: &str) {
        let outcome = Outcome::error(ErrorCause::Load, message);
        self.store(self.record(case, outcome, SystemTime::now(), 0.0));
        self.hidden_load_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
                "{} failed, and the filter left it out:\n{}",
                case.name,
                self.for_artifacts(message)
            ));
    }

    /// The load errors the filter left out; a run with any fails.
    pub fn hidden_load_errors(&self) -> Vec<String> {
        self.hidden_load_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Notes a case that will run: for its target's count, and as unfinished until it is.
    fn plan(&self, unfinished: Record, target: Option<&Arc<Target>>) {
        self.book.plan(unfinished);
        if let Some(target) = target {
            let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
            *remaining.entry(target_key(target)).or_default() += 1;
        }
    }

    /// Stops a managed target once its last case is done (outside the count's lock: a
    /// stop can take seconds, and other workers are finishing cases meanwhile).
    fn finished_with(&self, target: &Arc<Target>) {
        let last = {
            let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
            remaining.get_mut(&target_key(target)).is_some_and(|count| {
                *count = count.saturating_sub(1);
                *count == 0
            })
        };
        if last && let Some(managed) = &target.managed {
            managed.stop();
        }
    }

    fn run_case(&self, case: &Case) -> Result<Completion, Failed> {
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let outcome = match &case.body {
            CaseBody::LoadError(message) => Outcome::error(ErrorCause::Load, message.clone()),
            CaseBody::Check { target, spec } => {
                let turn = self.scheduler.turn(spec.schedule(), target);
                let _held = turn.wait();
                let context = RunContext {
                    case: &case.name,
                    scenario: &case.scenario,
                    check: &case.check,
                    config: &self.config,
                    redactor: &self.redactor,
                    file: &case.file,
                    progress: Progress::new(&case.name, &self.redactor),
                };
                // A panic is a bug of the harness; the case says so, and the bookkeeping
                // after it (records, stopping the target) still happens.
                let run = || self.runtime().block_on(run_check(&context, target, spec));
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                    .unwrap_or_else(|panic| Outcome::error(ErrorCause::Bug, panicked(&*panic)))
            }
        };
        let duration_s = clock.elapsed().as_secs_f64();
        if let Some(target) = case.target() {
            self.finished_with(target);
        }
        let record = self.record(case, outcome, started_at, duration_s);
        let result = match record.status {
            Status::Passed => Ok(Completion::Completed),
            Status::Skipped => Ok(Completion::ignored_with(
                record.message.clone().unwrap_or_default(),
            )),
            Status::Failed | Status::Error => {
                Err(Failed::from(record.message.clone().unwrap_or_default()))
            }
        };
        self.store(record);
        result
    }

    fn record(
        &self,
        case: &Case,
        outcome: Outcome,
        started_at: SystemTime,
        duration_s: f64,
    ) -> Record {
        Record {
            name: case.name.clone(),
            kind: case.kind(),
            scenario: case.scenario.clone(),
            check: case.check.clone(),
            file: printable(&case.file.path.display().to_string()).into_owned(),
            status: outcome.status,
            cause: outcome.cause,
            started_at: started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            duration_s,
            message: outcome.message.map(|m| self.for_artifacts(&m)),
            figures: outcome.figures,
            labels: outcome
                .labels
                .into_iter()
                .map(|(name, value)| (name, self.for_artifacts(&value)))
                .collect(),
            details: self.for_artifacts(&outcome.details),
            baseline: outcome
                .baseline
                .map(|facts| self.facts_for_artifacts(facts)),
        }
    }

    /// Every text of a record goes through here: secrets masked, then control characters
    /// made visible, so that no artifact or terminal line carries either.
    fn for_artifacts(&self, text: &str) -> String {
        printable(&self.redactor.redact(text)).into_owned()
    }

    /// A baseline's texts go through [`Runner::for_artifacts`] like every other text.
    fn facts_for_artifacts(&self, mut facts: BaselineFacts) -> BaselineFacts {
        facts.model = facts.model.map(|model| self.for_artifacts(&model));
        facts.endpoint = self.for_artifacts(&facts.endpoint);
        facts.written = facts.written.map(|path| self.for_artifacts(&path));
        for comparison in &mut facts.comparisons {
            comparison.sentence = self.for_artifacts(&comparison.sentence);
        }
        facts
    }

    fn store(&self, record: Record) {
        self.book.store(record);
    }

    /// Writes the artifacts from the records so far; returns the JUnit path.
    pub fn write_artifacts(&self) -> std::io::Result<std::path::PathBuf> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let records = self.book.all();
        match &self.config.nextest_run_id {
            Some(run_id) => report::write_shared_run(&self.config.out_dir, run_id, &records),
            None => {
                let history = report::read_history(&self.config.out_dir);
                report::write_artifacts(&self.config.out_dir, &records, &history)
            }
        }
    }

    /// Claims the end of the run (stopping the targets, writing the artifacts, exiting):
    /// true for the first caller only, and the other leaves the end to it.
    pub fn claim_end(&self) -> bool {
        self.book.close()
    }

    pub fn record_count(&self) -> usize {
        self.book.finished_count()
    }
}

/// The message of a case whose run panicked.
fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!(
        "perfcase panicked while running this case ({what}); that is a bug of perfcase: please report it with the scenario"
    )
}

/// The one dispatch of every kind: the target made ready, then the kind's own run.
async fn run_check(context: &RunContext<'_>, target: &Target, spec: &Spec) -> Outcome {
    let outcome = match prepare_target(context, target).await {
        Err(outcome) => outcome,
        Ok(()) => match spec {
            Spec::Smoke(spec) => smoke::run(context, target, spec).await,
            Spec::Inference(spec) => inference::run(context, target, spec).await,
            Spec::Baseline(spec) => baseline::run(context, target, spec).await,
            Spec::Sla(spec) => sla::run(context, spec).await,
        },
    };
    match spec {
        Spec::Baseline(_) => baseline::keep_history(context, outcome),
        Spec::Smoke(_) | Spec::Inference(_) | Spec::Sla(_) => outcome,
    }
}

/// Common preamble of every check against a target: skip an optional target that is not
/// configured, start a managed one (once), and build its client.
async fn prepare_target(context: &RunContext<'_>, target: &Target) -> Result<(), Outcome> {
    if let Some(reason) = &target.disabled_reason {
        return Err(Outcome::skipped(reason.clone()));
    }
    let client = target
        .client()
        .map_err(|e| Outcome::error(ErrorCause::Target, e.to_string()))?;
    if let Some(managed) = &target.managed {
        if !managed.is_started() {
            context.progress.say(&format!(
                "waiting for the {} (ready_timeout {})",
                managed.name,
                crate::text::format_duration(managed.ready_timeout)
            ));
        }
        let started = managed.ensure_started(client, context.redactor).await;
        started.map_err(|reason| {
            Outcome::error(
                ErrorCause::Target,
                format!("managed target did not start: {reason}"),
            )
        })?;
    }
    Ok(())
}

/// Stops every managed target (their process groups); used at the end and on a signal.
pub fn stop_targets(targets: &[Arc<Target>]) {
    for target in targets {
        if let Some(managed) = &target.managed {
            managed.stop();
        }
    }
}

fn target_key(target: &Arc<Target>) -> usize {
    Arc::as_ptr(target) as usize
}
