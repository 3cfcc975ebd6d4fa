//! A live line for an sla check on a terminal: while the load runs, one stderr line
//! updated in place each second with the stage, its elapsed time, the rate achieved, p99
//! and errors so far. A run of minutes should show how it goes before its verdict, yet a
//! CI log must not fill with redraws: without a terminal there is no line at all.

use std::fmt;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::load::{Plan, SoFar};
use crate::runner::context::Progress;
use crate::text::format_duration;

pub struct Live {
    /// `None` when stderr is not a terminal.
    bar: Option<ProgressBar>,
}

impl Live {
    pub fn new() -> Live {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
            bar
        });
        Live { bar }
    }

    /// A progress line printed above the live line, which would otherwise be written
    /// over or end up in the middle of it.
    pub fn say(&self, progress: &Progress<'_>, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| progress.say(message)),
            None => progress.say(message),
        }
    }

    /// What the engine calls as each interval closes: updates the line. On the engine's
    /// collecting thread, hence owned and `Send`.
    pub fn watch(&self, case: &str, plan: Plan) -> impl FnMut(&SoFar<'_>) + Send + 'static {
        let bar = self.bar.clone();
        let prefix = format!("perfcase: {case}: ");
        move |so_far| {
            if let Some(bar) = &bar {
                bar.set_message(format!("{prefix}{}", Line::of(&plan, so_far)));
            }
        }
    }

    /// Clears the line: the verdict follows, and the stage table has the figures.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The figures the line shows: of the warmup's last interval, or of the stage so far.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    /// The stage's index, `None` in the warmup.
    stage: Option<usize>,
    stages: usize,
    elapsed: Duration,
    /// How long the stage (or warmup) measures in all.
    planned: Duration,
    /// Requests ended per second.
    rate: f64,
    p99: Option<Duration>,
    errors: u64,
}

impl Line {
    fn of(plan: &Plan, so_far: &SoFar<'_>) -> Line {
        let interval = so_far.interval;
        match (interval.phase, so_far.stage) {
            (crate::load::Phase::Stage(i), Some(figures)) => Line {
                stage: Some(i),
                stages: plan.stages.len(),
                elapsed: figures.elapsed,
                planned: super::measured(plan, i),
                rate: figures.rate(),
                p99: figures.latency().map(|l| l.p99),
                errors: figures.tally.error_count(),
            },
            _ => Line {
                stage: None,
                stages: plan.stages.len(),
                elapsed: interval.end,
                planned: plan.warmup,
                rate: interval.rate(),
                p99: interval.p99,
                errors: interval.errors,
            },
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Some(i) => write!(f, "stage {} of {}", i + 1, self.stages)?,
            None => f.write_str("warmup (not measured)")?,
        }
        let p99 = self.p99.map_or_else(|| "-".to_string(), format_duration);
        let errors = if self.errors == 1 { "error" } else { "errors" };
        write!(
            f,
            ": {} of {}, {:.0}/s, p99 {p99}, {} {errors}",
            format_duration(self.elapsed),
            format_duration(self.planned),
            self.rate,
            self.errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const MS: Duration = Duration::from_millis(1);

    fn line(stage: Option<usize>, stages: usize, elapsed: Duration, planned: Duration) -> Line {
        Line {
            stage,
            stages,
            elapsed,
            planned,
            rate: 0.0,
            p99: None,
            errors: 0,
        }
    }

    #[rstest]
    #[case::a_stage(
        Line { rate: 31204.4, p99: Some(Duration::from_micros(412)), ..line(Some(1), 3, 1500 * MS, 2000 * MS) },
        "stage 2 of 3: 1.5s of 2s, 31204/s, p99 412µs, 0 errors"
    )]
    #[case::the_warmup(
        Line { rate: 499.6, p99: Some(3900 * MS / 1000), errors: 1, ..line(None, 1, 1000 * MS, 1000 * MS) },
        "warmup (not measured): 1s of 1s, 500/s, p99 3.9ms, 1 error"
    )]
    #[case::nothing_answered_yet(
        Line { errors: 12, ..line(Some(0), 1, 1000 * MS, 3000 * MS) },
        "stage 1 of 1: 1s of 3s, 0/s, p99 -, 12 errors"
    )]
    fn the_line_says_the_stage_its_time_and_its_figures_so_far(
        #[case] line: Line,
        #[case] expected: &str,
    ) {
        assert_eq!(line.to_string(), expected);
    }
}
