//! The measurement against the stored baseline: each compared metric's medians through the
//! regression gate (`judge::baseline`), a missing baseline reported as missing, and the
//! measurement written as the new baseline when the update mode says so.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use crate::catalog::case::BaselineSpec;
use crate::judge::baseline::{Comparison, judge_baseline};
use crate::judge::{Cause, Violation};
use crate::metric::{Figure, FigureRef, Metric, Unit, format_value};
use crate::report::record::{ComparisonFact, StoredState};
use crate::stats::Summary;
use crate::store::baselines::{self, StoredCheck, UpdateMode, thin};
use crate::target::Target;
use crate::text::rfc3339;

use super::Samples;
use super::against::{differences, recorded_against};
use crate::runner::context::RunContext;

/// What the comparison found, for the outcome and the reports.
pub struct Compared {
    pub stored: StoredState,
    pub comparisons: Vec<ComparisonFact>,
    pub violations: Vec<Violation>,
    /// Said in the case's details: what was not compared and why, what was written.
    pub notes: Vec<String>,
    pub written: Option<String>,
    /// A stored file that could not be read or written: the case is an error.
    pub error: Option<String>,
}

pub async fn compare(
    context: &RunContext<'_>,
    target: &Target,
    spec: &BaselineSpec,
    samples: &Samples,
    figures: &[Figure],
    iterations: usize,
    complete: bool,
) -> Compared {
    let mut compared = Compared {
        stored: StoredState::NotCompared,
        comparisons: Vec::new(),
        violations: Vec::new(),
        notes: Vec::new(),
        written: None,
        error: None,
    };
    let config = context.config;
    let dir = &config.baselines_dir;
    let path = dir.join(format!("{}.json", context.scenario));
    // Asked of the server only when a stored entry is compared or one is written: a run
    // under CI without stored baselines sends it nothing more.
    let mut against = None;
    match baselines::load(dir, context.scenario) {
        Err(e) => compared.error = Some(e.to_string()),
        Ok(file) => match file.and_then(|mut f| f.checks.remove(context.check)) {
            None => missing(&mut compared, spec, config.ci, &path, context.check),
            Some(entry) => {
                let now = recorded_against(target, spec, context.redactor).await;
                for difference in differences(&entry.against, &now) {
                    compared.notes.push(format!(
                        "the stored baseline was measured against another {difference}"
                    ));
                }
                judge(&mut compared, spec, config.ci, &entry, samples);
                against = Some(now);
            }
        },
    }
    let mode = match &config.update {
        Ok(mode) => *mode,
        Err(e) => {
            compared.error.get_or_insert_with(|| e.clone());
            UpdateMode::No
        }
    };
    if mode != UpdateMode::No && !complete {
        compared.notes.push(
            "not written as a baseline: iterations failed or did not run, and a baseline is recorded from a run whose iterations all count".into(),
        );
    } else if mode != UpdateMode::No && samples.iter().next().is_some() && compared.error.is_none()
    {
        let against = match against {
            Some(against) => against,
            None => recorded_against(target, spec, context.redactor).await,
        };
        let entry = StoredCheck {
            recorded_at: rfc3339(SystemTime::now()),
            perfcase_version: env!("CARGO_PKG_VERSION").to_string(),
            against,
            iterations,
            figures: figures.iter().map(|f| (f.name.clone(), f.value)).collect(),
            samples: samples
                .iter()
                .map(|(metric, values)| (metric.to_string(), thin(values)))
                .collect::<BTreeMap<_, _>>(),
        };
        match baselines::save(
            dir,
            context.scenario,
            context.check,
            entry,
            mode,
            &config.run_id,
        ) {
            Ok(Some(written)) => {
                let wrote = format!("wrote this measurement to {}", written.display());
                // Said as it happens too: a passing case prints nothing else, and a file
                // appearing in the working tree should not be a surprise.
                context.progress.say(&wrote);
                compared.notes.push(wrote);
                compared.written = Some(written.display().to_string());
            }
            Ok(None) => {}
            Err(e) => compared.error = Some(e.to_string()),
        }
    }
    compared
}

/// No stored entry for the check: missing, never compared and passed; under `CI` a
/// required one fails.
fn missing(compared: &mut Compared, spec: &BaselineSpec, ci: bool, path: &Path, check: &str) {
    compared.stored = StoredState::Missing;
    let expected = format!("an entry \"{check}\" in {}", path.display());
    absent(compared, spec, ci, "stored baseline", expected);
}

/// What to say of a baseline that is not there, or lacks a metric: a failure under `CI`
/// when the check requires it, else a note.
fn absent(compared: &mut Compared, spec: &BaselineSpec, ci: bool, what: &str, expected: String) {
    let how = "record it with PERFCASE_UPDATE=new (then review and rename the .json.new file) or PERFCASE_UPDATE=always, and commit it";
    if ci && spec.gate.required {
        compared.violations.push(
            Violation::new(
                Cause::Baseline,
                what,
                expected,
                format!("none, and under CI a missing baseline fails: {how}; or set regression = {{ required = false }}"),
            )
            .at(spec.gate.at.clone()),
        );
    } else {
        compared.notes.push(format!(
            "{what}: none ({expected} expected), not compared; {how}"
        ));
    }
}

/// Each compared metric through the gate. A metric the stored entry has no values of (one
/// added to `regression.metrics` since, a stream mode changed) is missing like a missing
/// entry; one no iteration of this run measured is not compared.
fn judge(
    compared: &mut Compared,
    spec: &BaselineSpec,
    ci: bool,
    entry: &StoredCheck,
    samples: &Samples,
) {
    let mut lacking = false;
    for metric in &spec.gate.metrics {
        let stored = entry
            .samples
            .get(metric.name)
            .map_or(&[][..], Vec::as_slice);
        let Ok(stored) = Summary::of(stored) else {
            lacking = true;
            let what = format!("stored baseline of {}", metric.name);
            let expected = format!("values of {} in the stored entry", metric.name);
            absent(compared, spec, ci, &what, expected);
            continue;
        };
        // The gate resamples what would be stored: at most MAX_STORED_SAMPLES values.
        let Ok(measured) = Summary::of(&thin(samples.get(metric.name))) else {
            compared.notes.push(format!(
                "{} not compared: no iteration of this run measured it",
                metric.name
            ));
            continue;
        };
        let figure = FigureRef { metric, stat: None };
        let comparison = judge_baseline(figure, spec.gate.tolerance, &stored, &measured);
        if comparison.verdict.fails() {
            compared
                .violations
                .push(regression(metric, &comparison).at(spec.gate.at.clone()));
        }
        compared.comparisons.push(fact(&comparison));
        compared.stored = StoredState::Compared;
    }
    if lacking && compared.stored != StoredState::Compared {
        compared.stored = StoredState::Missing;
    }
}

fn regression(metric: &Metric, comparison: &Comparison) -> Violation {
    let unit = metric.unit;
    let tolerance = format_value(comparison.tolerance.share(), Unit::Ratio);
    Violation::new(
        Cause::Regression,
        format!("{} against the stored baseline", metric.name),
        format!(
            "median within {tolerance} of the stored {}",
            format_value(comparison.stored.median, unit)
        ),
        comparison.to_string(),
    )
}

fn fact(comparison: &Comparison) -> ComparisonFact {
    ComparisonFact {
        figure: comparison.figure.metric.name.to_string(),
        unit: comparison.figure.unit(),
        verdict: comparison.verdict.word().to_string(),
        stored_median: comparison.stored.median,
        measured_median: comparison.measured.median,
        stored_cov: comparison.stored.cov,
        measured_cov: comparison.measured.cov,
        ratio: comparison.change.map(|c| c.ratio),
        low: comparison.change.map(|c| c.low),
        high: comparison.change.map(|c| c.high),
        tolerance: comparison.tolerance.share(),
        sentence: comparison.to_string(),
    }
}
