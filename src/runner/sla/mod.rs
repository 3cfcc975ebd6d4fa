//! Running one sla check: the load engine run on its own threads (it blocks until the
//! plan's time limit, so never on a tokio worker), a line on stderr as each stage starts,
//! then the figures of the whole run recorded, every threshold judged on the run or its
//! stage, and the timeline and histograms written beside the reports.
//!
//! Per-stage figures are not record figures (a record's figure names are the registry's,
//! and `latency.p99@2` is not one): they are in the stage table of the details, in the
//! timeline, and in the hlog, whose intervals are tagged by stage.

mod artifacts;
mod live;
mod request;
mod start;
mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::case::SlaSpec;
use crate::load::{ErrorKind, Model, Plan, Report, Stage};
use crate::metric::{FigureRef, Stat, find_metric, format_value};
use crate::text::format_duration;

use super::context::{Progress, RunContext};
use super::outcome::{ErrorCause, Outcome};
use live::Live;

pub async fn run(context: &RunContext<'_>, spec: &Arc<SlaSpec>) -> Outcome {
    let live = Live::new();
    let watch = live.watch(context.case, spec.plan.clone());
    let mut engine = match start::engine(spec, context.redactor, watch) {
        Ok(engine) => engine,
        Err(e) => return Outcome::error(ErrorCause::Request, e),
    };
    let ended = tokio::select! {
        ended = &mut engine => ended,
        () = announce(&context.progress, &live, &spec.plan) => engine.await,
    };
    live.finish();
    let start::Ran { report, examples } = match ended {
        Ok(Ok(ran)) => ran,
        Ok(Err(e)) => return Outcome::error(ErrorCause::Request, e.to_string()),
        Err(e) => {
            return Outcome::error(
                ErrorCause::Bug,
                format!("the load engine failed: {e}; that is a bug of perfcase"),
            );
        }
    };
    let mut outcome = judged(context, spec, &report, &examples);
    if let Err(e) = artifacts::write(
        &context.config.out_dir,
        context.case,
        &report,
        context.redactor,
    ) {
        outcome.keep_as_error(ErrorCause::Artifacts, e);
    }
    outcome
}

/// Says each stage as it starts; ends when the last stage does.
async fn announce(progress: &Progress<'_>, live: &Live, plan: &Plan) {
    let count = plan.stages.len();
    for (i, stage) in plan.stages.iter().enumerate() {
        let warmup = if i == 0 && !plan.warmup.is_zero() {
            format!("warmup {}, then ", format_duration(plan.warmup))
        } else {
            String::new()
        };
        let message = format!(
            "{warmup}stage {} of {count}: {} for {}",
            i + 1,
            level(plan, stage),
            format_duration(measured(plan, i)),
        );
        live.say(progress, &message);
        tokio::time::sleep(stage.duration).await;
    }
}

/// The outcome of a finished run: its thresholds judged, its figures and its details.
fn judged(
    context: &RunContext<'_>,
    spec: &SlaSpec,
    report: &Report,
    examples: &BTreeMap<ErrorKind, String>,
) -> Outcome {
    let plan = &spec.plan;
    let open = matches!(plan.model, Model::Open { .. });
    let violations = verdict::judge(report, &spec.thresholds);
    let total = &report.total.tally;
    let heading = format!(
        "{} under {}: {} requests, {} failed, judged on its thresholds:",
        spec.request,
        describe(plan),
        total.requests(),
        total.error_count(),
    );
    let figures = verdict::figures(&report.total, open);
    let mut outcome = Outcome::judged(&heading, &violations, figures, context.file);
    let mut details = vec![stage_table(plan, report)];
    if total.error_count() > 0 {
        details.push(format!(
            "errors: {}",
            verdict::errors_by_kind(&report.total)
        ));
        details.extend(request::example_lines(examples, context.redactor));
    }
    if plan.stages.len() > 1 {
        let met: Vec<bool> = (0..plan.stages.len())
            .map(|i| verdict::stage_met(report, &spec.thresholds, i))
            .collect();
        let ladder = verdict::ladder(&met);
        let name = |stage: Option<usize>| {
            stage.map_or_else(
                || "none".to_string(),
                |n| format!("stage {n} ({})", level(plan, &plan.stages[n - 1])),
            )
        };
        let sustainable = name(ladder.max_sustainable);
        let breaking = name(ladder.breaking_point);
        details.push(format!(
            "max_sustainable: {sustainable}\nbreaking_point: {breaking}"
        ));
        outcome.labels.push(("max_sustainable".into(), sustainable));
        outcome.labels.push(("breaking_point".into(), breaking));
    }
    if report.unfinished > 0 {
        details.push(format!(
            "{} request(s) still in flight at the time limit never ended",
            report.unfinished
        ));
    }
    details.extend(report.warnings.iter().cloned());
    outcome.details = details.join("\n");
    outcome
}

/// The load in words: `a closed loop of 1, 2, 4 users (warmup 1s)`.
fn describe(plan: &Plan) -> String {
    let levels: Vec<String> = plan.stages.iter().map(|s| format!("{}", s.level)).collect();
    let users = if levels == ["1"] { "user" } else { "users" };
    let what = match plan.model {
        Model::Closed { .. } => format!("a closed loop of {} {users}", levels.join(", ")),
        Model::Open { .. } => format!("an open loop of {} requests/s", levels.join(", ")),
    };
    if plan.warmup.is_zero() {
        what
    } else {
        format!("{what} (warmup {})", format_duration(plan.warmup))
    }
}

/// A stage's level in words: `2 users`, `200/s`, `ramp to 4 users`, `ramp to 4 users in 1m`.
fn level(plan: &Plan, stage: &Stage) -> String {
    let level = match plan.model {
        Model::Closed { .. } if stage.level == 1.0 => "1 user".to_string(),
        Model::Closed { .. } => format!("{} users", stage.level),
        Model::Open { .. } => format!("{}/s", stage.level),
    };
    if stage.ramp == stage.duration {
        format!("ramp to {level}")
    } else if !stage.ramp.is_zero() {
        format!("ramp to {level} in {}", format_duration(stage.ramp))
    } else {
        level
    }
}

/// What stage `index` measures: the first holds the warmup too, which counts in nothing.
fn measured(plan: &Plan, index: usize) -> std::time::Duration {
    let duration = plan.stages[index].duration;
    if index == 0 {
        duration.saturating_sub(plan.warmup)
    } else {
        duration
    }
}

/// One line per stage: its level, what it measured, and its figures.
fn stage_table(plan: &Plan, report: &Report) -> String {
    let stat = |stat| FigureRef {
        metric: find_metric("latency").expect("latency is a registered metric"),
        stat: Some(stat),
    };
    let columns = [
        stat(Stat::P50),
        stat(Stat::P90),
        stat(Stat::P99),
        stat(Stat::Max),
    ];
    let row = |cells: [String; 10]| {
        let [
            stage,
            level,
            time,
            requests,
            errors,
            throughput,
            p50,
            p90,
            p99,
            max,
        ] = cells;
        format!(
            "{stage:<6} {level:<14} {time:<5} {requests:<9} {errors:<7} {throughput:<11} {p50:<8} {p90:<8} {p99:<8} {max}"
        )
    };
    let throughput = FigureRef {
        metric: find_metric("throughput").expect("throughput is a registered metric"),
        stat: None,
    };
    let header = [
        "stage",
        "level",
        "time",
        "requests",
        "errors",
        "throughput",
        "p50",
        "p90",
        "p99",
        "max",
    ];
    let mut lines = vec![row(header.map(String::from))];
    for (i, (stage, figures)) in plan.stages.iter().zip(&report.stages).enumerate() {
        let shown = |figure: FigureRef| {
            verdict::value(figures, figure).map_or("-".into(), |v| format_value(v, figure.unit()))
        };
        let [p50, p90, p99, max] = columns.map(shown);
        lines.push(row([
            (i + 1).to_string(),
            level(plan, stage),
            format_duration(measured(plan, i)),
            figures.tally.requests().to_string(),
            figures.tally.error_count().to_string(),
            shown(throughput),
            p50,
            p90,
            p99,
            max,
        ]));
    }
    lines.join("\n")
}
