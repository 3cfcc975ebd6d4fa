//! Running one sla check: the load engine run on its own threads (it blocks until the
//! plan's time limit, so never on a tokio worker), a line on stderr as the engine starts
//! each phase, then the figures of the whole run, of each part of a mix and of each stage
//! recorded, every threshold judged on its stage and part, and the timeline and
//! histograms written beside the reports. With `abort_on_fail`, the thresholds are judged
//! after every interval on the figures so far, and the run stops at the first one lost.

mod artifacts;
mod live;
mod request;
mod start;
mod verdict;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::catalog::case::SlaSpec;
use crate::load::{ErrorKind, Event, Figures, Model, Phase, Plan, Report, SoFar, Stage};
use crate::metric::{FigureRef, Stat, format_value};
use crate::text::format_duration;

use super::context::{Progress, RunContext};
use super::outcome::{ErrorCause, Outcome};
use live::Live;
use verdict::{Lost, View};

/// What the engine's watch passes on to the case's task while the run goes.
#[derive(Debug)]
enum Note {
    Starts(Phase),
    Lost(Lost),
}

pub async fn run(context: &RunContext<'_>, spec: &Arc<SlaSpec>) -> Outcome {
    let live = Live::new();
    let (notes, mut heard) = unbounded_channel();
    let watch = watch(
        live.watch(context.case, spec.plan.clone()),
        spec.clone(),
        notes,
    );
    // Opened before the run, for the engine to write as intervals close; a file that
    // cannot be opened is an artifacts error after the run, which goes on without it.
    let hlog = artifacts::open_hlog(&context.config.out_dir, context.case);
    let mut engine = match start::engine(spec, context.redactor, hlog, watch) {
        Ok(engine) => engine,
        Err(e) => return Outcome::error(ErrorCause::Request, e),
    };
    let mut lost = None;
    let ended = loop {
        tokio::select! {
            ended = &mut engine => break ended,
            Some(note) = heard.recv() => hear(note, &context.progress, &live, &spec.plan, &mut lost),
        }
    };
    while let Ok(note) = heard.try_recv() {
        hear(note, &context.progress, &live, &spec.plan, &mut lost);
    }
    live.finish();
    let start::Ran {
        report,
        examples,
        hlog,
    } = match ended {
        Ok(Ok(ran)) => ran,
        Ok(Err(e)) => return Outcome::error(ErrorCause::Request, e.to_string()),
        Err(e) => {
            return Outcome::error(
                ErrorCause::Bug,
                format!("the load engine failed: {e}; that is a bug of perfcase"),
            );
        }
    };
    let mut outcome = judged(context, spec, &report, &examples, lost.as_ref());
    if let Err(e) = artifacts::write(
        &context.config.out_dir,
        context.case,
        &report,
        hlog,
        context.redactor,
    ) {
        outcome.keep_as_error(ErrorCause::Artifacts, e);
    }
    outcome
}

/// The engine's watch: updates the live line, passes on each phase's start, and with
/// `abort_on_fail` stops the run at the first threshold lost (on the collecting thread,
/// hence owned and `Send`).
fn watch(
    mut line: impl FnMut(&SoFar<'_>) + Send + 'static,
    spec: Arc<SlaSpec>,
    notes: UnboundedSender<Note>,
) -> impl FnMut(Event<'_>) -> ControlFlow<()> + Send + 'static {
    let mut stopped = false;
    move |event| {
        match event {
            // The case's task has gone only if it was cancelled; nothing to tell then.
            Event::Starts(phase) => drop(notes.send(Note::Starts(phase))),
            Event::Closed(so_far) => {
                line(so_far);
                if spec.abort_on_fail && !stopped {
                    let at = so_far.interval.end;
                    let violations =
                        verdict::lost(View::so_far(so_far), &spec.plan, &spec.thresholds, at);
                    if !violations.is_empty() {
                        drop(notes.send(Note::Lost(Lost { at, violations })));
                        stopped = true;
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Acts on what the watch passed on: says a phase as it starts, keeps what was lost.
fn hear(note: Note, progress: &Progress<'_>, live: &Live, plan: &Plan, lost: &mut Option<Lost>) {
    match note {
        Note::Starts(phase) => live.say(progress, &announcement(plan, phase)),
        Note::Lost(first) => {
            live.say(progress, &first.detail());
            lost.get_or_insert(first);
        }
    }
}

/// What is said as a phase starts: `warmup 1s (not measured)`, `stage 2 of 3: 4 users for 10s`.
fn announcement(plan: &Plan, phase: Phase) -> String {
    match phase {
        Phase::Warmup => format!("warmup {} (not measured)", format_duration(plan.warmup)),
        Phase::Stage(i) => format!(
            "stage {} of {}: {} for {}",
            i + 1,
            plan.stages.len(),
            level(plan, &plan.stages[i]),
            format_duration(measured(plan, i)),
        ),
    }
}

/// The outcome of a finished run: its thresholds judged, its figures and its details. A
/// run stopped by `abort_on_fail` fails with the thresholds it lost, as they stood then.
fn judged(
    context: &RunContext<'_>,
    spec: &SlaSpec,
    report: &Report,
    examples: &BTreeMap<ErrorKind, String>,
    lost: Option<&Lost>,
) -> Outcome {
    let plan = &spec.plan;
    let open = matches!(plan.model, Model::Open { .. });
    // A stage a stopped run never reached has nothing to judge: the run failed already.
    let reached: Vec<_> = spec
        .thresholds
        .iter()
        .filter(|t| {
            report.aborted.is_none()
                || t.stage.is_none_or(|n| {
                    report
                        .stages
                        .get(n - 1)
                        .is_some_and(|s| !s.elapsed.is_zero())
                })
        })
        .cloned()
        .collect();
    let mut violations = verdict::judge(report, &reached);
    if let Some(lost) = lost {
        let earlier: Vec<_> = lost
            .violations
            .iter()
            .filter(|v| !violations.iter().any(|w| w.what == v.what))
            .cloned()
            .collect();
        violations.splice(0..0, earlier);
    }
    let total = &report.total.tally;
    let stopped = report.aborted.map_or_else(String::new, |at| {
        format!(", stopped at {} (abort_on_fail)", format_duration(at))
    });
    let heading = format!(
        "{} under {}: {} requests, {} failed{stopped}, judged on its thresholds:",
        spec.request,
        describe(plan),
        total.requests(),
        total.error_count(),
    );
    let figures = verdict::record_figures(report, open);
    let mut outcome = Outcome::judged(&heading, &violations, figures, context.file);
    let mut details = Vec::new();
    if let Some(lost) = lost {
        details.push(lost.detail());
    }
    details.push(stage_table(plan, report));
    if report.parts.len() > 1 {
        details.push(part_table(report));
    }
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
        let when = if report.aborted.is_some() {
            "when abort_on_fail stopped the run"
        } else {
            "at the time limit"
        };
        details.push(format!(
            "{} request(s) still in flight {when} never ended",
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
    let rows = plan
        .stages
        .iter()
        .zip(&report.stages)
        .enumerate()
        .map(|(i, (stage, figures))| {
            let leading = vec![
                (i + 1).to_string(),
                level(plan, stage),
                format_duration(measured(plan, i)),
            ];
            (leading, figures)
        });
    table(&[("stage", 6), ("level", 14), ("time", 5)], rows)
}

/// One line per part of a mix: its name and its figures over the whole run.
fn part_table(report: &Report) -> String {
    let width = report
        .parts
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(7);
    let rows = report
        .parts
        .iter()
        .zip(&report.total.parts)
        .map(|(name, figures)| (vec![name.clone()], figures));
    table(&[("request", width)], rows)
}

/// A table of figures: the `leading` columns (a name and a width each) of each row, then
/// its requests, errors, throughput and latency p50, p90, p99 and max.
fn table<'a>(
    leading: &[(&str, usize)],
    rows: impl Iterator<Item = (Vec<String>, &'a Figures)>,
) -> String {
    const FIGURES: [(&str, usize); 7] = [
        ("requests", 9),
        ("errors", 7),
        ("throughput", 11),
        ("p50", 8),
        ("p90", 8),
        ("p99", 8),
        ("max", 0),
    ];
    let widths: Vec<usize> = leading.iter().chain(&FIGURES).map(|c| c.1).collect();
    let line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        cells.join(" ")
    };
    let header = leading
        .iter()
        .chain(&FIGURES)
        .map(|c| c.0.to_string())
        .collect();
    let mut lines = vec![line(header)];
    for (mut cells, figures) in rows {
        cells.extend(figure_cells(figures));
        lines.push(line(cells));
    }
    lines.join("\n")
}

/// A row's figures: requests, errors, throughput, latency p50, p90, p99 and max.
fn figure_cells(figures: &Figures) -> [String; 7] {
    let figure = verdict::figure;
    let shown = |figure: FigureRef| {
        verdict::value(figures, figure).map_or("-".into(), |v| format_value(v, figure.unit()))
    };
    let [p50, p90, p99, max] =
        [Stat::P50, Stat::P90, Stat::P99, Stat::Max].map(|s| shown(figure("latency", Some(s))));
    [
        figures.tally.requests().to_string(),
        figures.tally.error_count().to_string(),
        shown(figure("throughput", None)),
        p50,
        p90,
        p99,
        max,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Arrival;
    use rstest::rstest;
    use std::time::Duration;

    fn ladder() -> Plan {
        let stage = |level, seconds, ramp: bool| Stage {
            level,
            duration: Duration::from_secs(seconds),
            ramp: Duration::from_secs(if ramp { seconds } else { 0 }),
        };
        Plan {
            model: Model::Closed {
                think: Duration::ZERO,
            },
            stages: vec![stage(1.0, 3, false), stage(4.0, 10, true)],
            warmup: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            time_limit: Duration::from_secs(20),
            max_requests: None,
        }
    }

    #[rstest]
    #[case(Phase::Warmup, "warmup 1s (not measured)")]
    #[case(Phase::Stage(0), "stage 1 of 2: 1 user for 2s")]
    #[case(Phase::Stage(1), "stage 2 of 2: ramp to 4 users for 10s")]
    fn each_phase_is_announced_with_what_it_measures(#[case] phase: Phase, #[case] said: &str) {
        assert_eq!(announcement(&ladder(), phase), said);
    }

    #[test]
    fn tables_line_up_their_columns() {
        let plan = Plan {
            model: Model::Open {
                arrival: Arrival::Constant,
                max_in_flight: 1,
            },
            ..ladder()
        };
        let table = table(
            &[("stage", 6), ("level", 14)],
            [(
                vec!["1".into(), level(&plan, &plan.stages[1])],
                &Figures::default(),
            )]
            .into_iter(),
        );
        assert_eq!(
            table,
            "stage  level          requests  errors  throughput  p50      p90      p99      max\n\
             1      ramp to 4/s    0         0       -           -        -        -        -"
        );
    }
}
