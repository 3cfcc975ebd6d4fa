//! Running one baseline check: the request repeated (warmup first, then the counted
//! iterations, every one kept as a row of `samples/<case>.csv`), the statistics of each
//! metric judged against the check's thresholds, the medians compared with the stored
//! baseline, the measurement written as a new baseline when the update mode says so, and
//! one row appended to `history.csv`.
//!
//! The stored baseline is written only after the last iteration, atomically: a run
//! interrupted before leaves it as it was.

mod against;
mod gate;
mod iteration;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::catalog::case::{BaselineSpec, RepeatedRequest};
use crate::inference::request::InferenceRequest;
use crate::judge::threshold::judge_threshold;
use crate::judge::{Cause, Violation};
use crate::metric::{Figure, find_metric};
use crate::report::Status;
use crate::report::record::{BaselineFacts, RequestKind};
use crate::report::samples;
use crate::stats::Summary;
use crate::store::history::{self, HISTORY_FIGURES, HistoryRow};
use crate::target::Target;
use crate::text::{format_duration, rfc3339};

use super::context::RunContext;
use super::outcome::{ErrorCause, Outcome};
use iteration::{Iteration, columns, run_once};

/// How often a long baseline says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub async fn run(context: &RunContext<'_>, target: &Target, spec: &BaselineSpec) -> Outcome {
    if let RepeatedRequest::Model(model) = &spec.request
        && let Err(message) = super::inference::ensure_model(target, &model.check.model).await
    {
        return Outcome::error(ErrorCause::Request, message);
    }
    let run = repeat(context, target, spec).await;
    let header = columns(&spec.request);
    let rows: Vec<Vec<String>> = run
        .iterations
        .iter()
        .enumerate()
        .map(|(i, iteration)| sample_row(header, i + 1, iteration))
        .collect();
    if let Err(e) = samples::write(
        &context.config.out_dir,
        context.case,
        "csv",
        header.iter().copied(),
        &rows,
        context.redactor,
    ) {
        return Outcome::error(
            ErrorCause::Artifacts,
            format!("cannot write the samples file: {e}"),
        );
    }
    let samples = Samples::of(&run.iterations);
    let failed = run.iterations.iter().filter(|i| i.error.is_some()).count();
    let counted = run.iterations.len();
    let error_rate = if counted == 0 {
        0.0
    } else {
        failed as f64 / counted as f64
    };
    let figures = statistics(&samples, error_rate);
    let mut violations = judge_run(spec, &run, &figures);
    let complete = !violations.iter().any(|v| v.cause == Cause::Iterations);
    let compared =
        gate::compare(context, target, spec, &samples, &figures, counted, complete).await;
    violations.extend(compared.violations);
    let heading = format!(
        "{} repeated {counted} time{} ({failed} failed, warmup {}), judged on its statistics and compared with the stored baseline:",
        describe(target, spec),
        if counted == 1 { "" } else { "s" },
        spec.warmup,
    );
    let mut outcome = Outcome::judged(&heading, &violations, figures, context.file);
    let mut notes = compared.notes;
    if run.warmup_failed > 0 {
        // Said, not judged: a warmup is there to absorb a cold start.
        notes.push(format!("{} warmup iteration(s) failed", run.warmup_failed));
    }
    outcome.details = notes.join("\n");
    let facts = BaselineFacts {
        request: request_kind(spec),
        model: match &spec.request {
            RepeatedRequest::Model(model) => Some(model.check.model.clone()),
            RepeatedRequest::Http(_) => None,
        },
        endpoint: endpoint(spec),
        iterations: counted,
        failed,
        busy_s: run.busy.as_secs_f64(),
        stored: compared.stored,
        comparisons: compared.comparisons,
        written: compared.written,
    };
    if let Some(error) = compared.error {
        outcome.keep_as_error(ErrorCause::Artifacts, error);
    }
    outcome.baseline = Some(facts);
    outcome
}

/// Appends the case's row to `history.csv`: every baseline case that ran has one, also
/// one that measured nothing (its server did not start, its model was missing), so the
/// history shows the runs that broke too. A skipped case did not run.
pub fn keep_history(context: &RunContext<'_>, mut outcome: Outcome) -> Outcome {
    if outcome.status == Status::Skipped {
        return outcome;
    }
    let row = history_row(context, &outcome);
    if let Err(e) = history::append(&context.config.out_dir.join("history.csv"), &row) {
        outcome.keep_as_error(ErrorCause::Artifacts, e.to_string());
    }
    outcome
}

/// What the repetitions produced.
struct Run {
    iterations: Vec<Iteration>,
    /// Warmup iterations that failed: said in the message, not counted.
    warmup_failed: u32,
    /// The counted iterations that `max_duration` left unrun.
    unrun: u32,
    /// Time spent in counted iterations, pauses excluded.
    busy: Duration,
}

async fn repeat(context: &RunContext<'_>, target: &Target, spec: &BaselineSpec) -> Run {
    let deadline = Instant::now() + spec.max_duration;
    let mut run = Run {
        iterations: Vec::new(),
        warmup_failed: 0,
        unrun: 0,
        busy: Duration::ZERO,
    };
    let mut said = Instant::now();
    for _ in 0..spec.warmup {
        if Instant::now() >= deadline {
            break;
        }
        let Some(warm) = within(deadline, run_once(target, &spec.request, context.redactor)).await
        else {
            break;
        };
        run.warmup_failed += u32::from(warm.error.is_some());
        pause(spec, deadline).await;
    }
    for i in 0..spec.iterations {
        if Instant::now() >= deadline {
            run.unrun = spec.iterations - i;
            break;
        }
        let started = Instant::now();
        let once = run_once(target, &spec.request, context.redactor);
        let Some(iteration) = within(deadline, once).await else {
            // Cut off by max_duration: not a measurement of the server, so not a row.
            run.unrun = spec.iterations - i;
            break;
        };
        run.busy += started.elapsed();
        run.iterations.push(iteration);
        if said.elapsed() >= PROGRESS_EVERY {
            said = Instant::now();
            let failed = run.iterations.iter().filter(|i| i.error.is_some()).count();
            context.progress.say(&format!(
                "iteration {} of {} ({failed} failed so far)",
                i + 1,
                spec.iterations
            ));
        }
        if i + 1 < spec.iterations {
            pause(spec, deadline).await;
        }
    }
    run
}

/// The iteration, unless the deadline comes first: `max_duration` bounds the whole check,
/// even a request still inside its own timeout.
async fn within(
    deadline: Instant,
    iteration: impl Future<Output = Iteration>,
) -> Option<Iteration> {
    tokio::time::timeout_at(deadline.into(), iteration)
        .await
        .ok()
}

/// The pause between iterations, cut short at the deadline.
async fn pause(spec: &BaselineSpec, deadline: Instant) {
    if let Some(pause) = spec.pause {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(pause.min(left)).await;
    }
}

/// The values of each metric over the iterations that succeeded, in the order they ran.
pub struct Samples(BTreeMap<&'static str, Vec<f64>>);

impl Samples {
    fn of(iterations: &[Iteration]) -> Samples {
        let mut by_metric: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for iteration in iterations {
            for &(metric, value) in &iteration.values {
                by_metric.entry(metric).or_default().push(value);
            }
        }
        Samples(by_metric)
    }

    pub fn get(&self, metric: &str) -> &[f64] {
        self.0.get(metric).map_or(&[], Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[f64])> {
        self.0
            .iter()
            .map(|(metric, values)| (*metric, values.as_slice()))
    }
}

/// Every statistic of every metric measured, then `error_rate`.
fn statistics(samples: &Samples, error_rate: f64) -> Vec<Figure> {
    let mut figures = Vec::new();
    for (name, values) in samples.iter() {
        let (Some(metric), Ok(summary)) = (find_metric(name), Summary::of(values)) else {
            // A producer gives no non-finite value (stats.rs), and every name is registered.
            continue;
        };
        figures.extend(summary.figures(metric));
    }
    figures.push(Figure::new("error_rate", error_rate));
    figures
}

/// The check's thresholds, and what the run itself must be: every counted iteration run,
/// and none failed unless an `error_rate` threshold allows it.
fn judge_run(spec: &BaselineSpec, run: &Run, figures: &[Figure]) -> Vec<Violation> {
    let mut violations = Vec::new();
    if run.unrun > 0 {
        violations.push(Violation::new(
            Cause::Iterations,
            "iterations",
            format!(
                "{} within max_duration {}",
                spec.iterations,
                format_duration(spec.max_duration)
            ),
            format!(
                "{} ran before the time was up; raise max_duration, or lower iterations or pause",
                spec.iterations - run.unrun
            ),
        ));
    }
    let failed: Vec<&str> = run
        .iterations
        .iter()
        .filter_map(|i| i.error.as_deref())
        .collect();
    let allows_errors = spec
        .thresholds
        .iter()
        .any(|t| t.figure.metric.name == "error_rate");
    if !failed.is_empty() && !allows_errors {
        violations.push(Violation::new(
            Cause::Iterations,
            "failed iterations",
            "none (set an error_rate threshold to allow some)",
            format!(
                "{} of {}; the first: {}",
                failed.len(),
                run.iterations.len(),
                failed[0]
            ),
        ));
    }
    for threshold in &spec.thresholds {
        let name = threshold.figure.to_string();
        let observed = figures.iter().find(|f| f.name == name).map(|f| f.value);
        if let Some(violation) = judge_threshold(&name, &threshold.threshold, observed) {
            violations.push(violation.at(threshold.at.clone()));
        }
    }
    violations
}

/// The iteration's cells with its time and number in the places the header gives them.
fn sample_row(header: &[&str], iter: usize, iteration: &Iteration) -> Vec<String> {
    let mut cells = iteration.cells.iter();
    header
        .iter()
        .map(|column| match *column {
            "timestamp" => rfc3339(iteration.started),
            "iter" => iter.to_string(),
            _ => cells.next().cloned().unwrap_or_default(),
        })
        .collect()
}

fn request_kind(spec: &BaselineSpec) -> RequestKind {
    match &spec.request {
        RepeatedRequest::Http(_) => RequestKind::Http,
        RepeatedRequest::Model(model) => match model.request {
            InferenceRequest::Generation(_) => RequestKind::Generation,
            InferenceRequest::Embeddings(_) => RequestKind::Embeddings,
        },
    }
}

fn endpoint(spec: &BaselineSpec) -> String {
    match &spec.request {
        RepeatedRequest::Http(http) => format!("{} {}", http.request.method, http.request.path),
        RepeatedRequest::Model(model) => format!("POST {}", model.request.path()),
    }
}

fn describe(target: &Target, spec: &BaselineSpec) -> String {
    match &spec.request {
        RepeatedRequest::Http(http) => {
            format!("{} {}", http.request.method, target.url(&http.request.path))
        }
        RepeatedRequest::Model(model) => format!(
            "POST {} ({}), model {}",
            target.url(model.request.path()),
            spec.measured,
            model.check.model
        ),
    }
}

fn history_row(context: &RunContext<'_>, outcome: &Outcome) -> HistoryRow {
    let facts = outcome.baseline.as_ref();
    let figure = |name: &str| {
        outcome
            .figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
    };
    HistoryRow {
        time: rfc3339(SystemTime::now()),
        case: context.case.to_string(),
        status: outcome.status.as_str().to_string(),
        verdict: facts
            .map_or("not measured", BaselineFacts::verdict)
            .to_string(),
        iterations: facts.map_or(0, |facts| facts.iterations),
        error_rate: figure("error_rate"),
        figures: HISTORY_FIGURES.iter().map(|name| figure(name)).collect(),
    }
}
