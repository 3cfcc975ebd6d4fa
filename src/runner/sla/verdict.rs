//! What a load run's figures say, as pure functions of the engine's [`Report`]: the
//! figures under the registry's names (a mix's part's with `{name}` after them, a stage's
//! with `@N`), the thresholds judged on the whole run, their stage and their part, the
//! thresholds already lost while the run goes (`abort_on_fail`), and for a ladder the
//! highest stage the server sustained.

use std::time::Duration;

use crate::judge::threshold::judge_threshold;
use crate::judge::{Cause, Violation};
use hdrhistogram::Histogram;

use crate::load::record::RATE_SCALE;
use crate::load::{Figures, Plan, Report, SoFar};
use crate::metric::{Figure, FigureRef, Stat, find_metric};
use crate::scenario::sla::{LOAD_STATS, SlaThreshold};

/// The figures a threshold can be judged on: those of a finished run, or of the run so
/// far.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub total: &'a Figures,
    /// One per stage of the plan.
    pub stages: &'a [Figures],
    /// The names of a mix's parts, in the order of each [`Figures::parts`].
    pub parts: &'a [String],
}

impl<'a> View<'a> {
    pub fn of(report: &'a Report) -> View<'a> {
        View {
            total: &report.total,
            stages: &report.stages,
            parts: &report.parts,
        }
    }

    pub fn so_far(so_far: &'a SoFar<'a>) -> View<'a> {
        View {
            total: so_far.total,
            stages: so_far.stages,
            parts: so_far.parts,
        }
    }

    /// The figures a threshold reads: of its stage (the run's when it names none), and of
    /// its part of the mix (every request's when it names none). `None` for a stage or
    /// part the run does not have.
    fn figures(&self, threshold: &SlaThreshold) -> Option<&'a Figures> {
        let figures = match threshold.stage {
            None => self.total,
            Some(n) => self.stages.get(n.checked_sub(1)?)?,
        };
        match &threshold.scope {
            None => Some(figures),
            Some(name) => figures.part(self.parts, name),
        }
    }
}

/// The figures an sla case reports with [`LOAD_STATS`], each from its histogram: latency
/// for every request, the others for generations (a request's decode rate, `tokens_per_s`,
/// for streamed ones).
const HISTOGRAMS: &[&str] = &["latency", "ttft", "itl", "tpot", "tokens_per_s"];

/// The histograms of durations hold microseconds.
const MICROS: f64 = 1e6;

/// A figure of a stage or of the run in base units; `None` when it has none (no request
/// answered has no latency, a plain HTTP request no first token).
pub fn value(figures: &Figures, figure: FigureRef) -> Option<f64> {
    let tally = &figures.tally;
    let generated = tally.generated.as_deref();
    let answered = tally.answered_count();
    match figure.metric.name {
        "latency" => statistic(&tally.latency, figure.stat?, MICROS),
        "ttft" => statistic(&generated?.ttft, figure.stat?, MICROS),
        "itl" => statistic(&generated?.itl, figure.stat?, MICROS),
        "tpot" => statistic(&generated?.tpot, figure.stat?, MICROS),
        "tokens_per_s" => statistic(&generated?.tokens_per_s, figure.stat?, RATE_SCALE),
        // Answered requests per second, as the README defines it: failures are not served.
        "throughput" if !figures.elapsed.is_zero() => {
            Some(answered as f64 / figures.elapsed.as_secs_f64())
        }
        "output_tokens_per_s" if !figures.elapsed.is_zero() => {
            Some(generated?.output_tokens as f64 / figures.elapsed.as_secs_f64())
        }
        // Of all requests, the share that was answered and met every SLO: a failed
        // request met none, so a run of timeouts cannot read as good.
        "goodput" if tally.requests() > 0 && generated?.judged > 0 => {
            Some(generated?.good as f64 / tally.requests() as f64)
        }
        "error_rate" => Some(tally.error_rate()),
        "late" => Some(tally.late as f64),
        "dropped" => Some(tally.dropped as f64),
        _ => None,
    }
}

/// A statistic of a histogram whose values are `scale` times the base unit (microseconds
/// of seconds, thousandths of a rate), in the base unit; `None` when it is empty. A
/// percentile or the maximum is the top of its bucket (HdrHistogram's
/// `value_at_quantile`), the minimum the bottom of its own.
fn statistic(histogram: &Histogram<u64>, stat: Stat, scale: f64) -> Option<f64> {
    if histogram.is_empty() {
        return None;
    }
    let micros = match stat {
        Stat::P50 => histogram.value_at_quantile(0.5),
        Stat::P90 => histogram.value_at_quantile(0.9),
        Stat::P95 => histogram.value_at_quantile(0.95),
        Stat::P99 => histogram.value_at_quantile(0.99),
        Stat::P999 => histogram.value_at_quantile(0.999),
        Stat::Min => histogram.min(),
        Stat::Max => histogram.max(),
        Stat::Mean => return Some(histogram.mean() / scale),
        _ => return None,
    };
    Some(micros as f64 / scale)
}

/// A figure of the registry by name: every name an sla case reports is registered (a
/// unit test holds the figures to that).
pub fn figure(name: &str, stat: Option<Stat>) -> FigureRef {
    FigureRef {
        metric: find_metric(name).expect("sla figures are registered metrics"),
        stat,
    }
}

/// The figures of the whole run as records carry them, those it has: the durations of a
/// generation, its output tokens/s and its goodput (when its check has SLOs) are a model
/// request's; `late` and `dropped` are an open loop's (a closed loop sends nothing on a
/// schedule).
pub fn figures(total: &Figures, open: bool) -> Vec<Figure> {
    named(total, open, "")
}

/// The figures a record carries: the whole run's (see [`figures`]); each part's of a mix
/// of more than one request, the same set named `latency.p99{search}` (a mix of one would
/// repeat the run's); and, for more than one stage, each stage's latency p50, p99 and max,
/// throughput and error rate, named `latency.p99@2`.
pub fn record_figures(report: &Report, open: bool) -> Vec<Figure> {
    let mut all = figures(&report.total, open);
    if report.parts.len() > 1 {
        for (name, part) in report.parts.iter().zip(&report.total.parts) {
            all.extend(named(part, open, &format!("{{{name}}}")));
        }
    }
    if report.stages.len() > 1 {
        let staged = [
            figure("latency", Some(Stat::P50)),
            figure("latency", Some(Stat::P99)),
            figure("latency", Some(Stat::Max)),
            figure("throughput", None),
            figure("error_rate", None),
        ];
        for (i, stage) in report.stages.iter().enumerate() {
            all.extend(staged.iter().filter_map(|figure| {
                Some(Figure::new(
                    format!("{figure}@{}", i + 1),
                    value(stage, *figure)?,
                ))
            }));
        }
    }
    all
}

/// [`figures`] with `suffix` after each name.
fn named(total: &Figures, open: bool, suffix: &str) -> Vec<Figure> {
    let durations = HISTOGRAMS
        .iter()
        .flat_map(|name| LOAD_STATS.iter().map(|stat| figure(name, Some(*stat))));
    let run: &[&str] = if open {
        &[
            "throughput",
            "output_tokens_per_s",
            "goodput",
            "error_rate",
            "late",
            "dropped",
        ]
    } else {
        &["throughput", "output_tokens_per_s", "goodput", "error_rate"]
    };
    let run = run.iter().map(|name| figure(name, None));
    durations
        .chain(run)
        .filter_map(|named| {
            Some(Figure::new(
                format!("{named}{suffix}"),
                value(total, named)?,
            ))
        })
        .collect()
}

/// Every threshold judged on its stage's and part's figures (the whole run's and every
/// request's when it names none), placed where it is written; and failed requests,
/// unless an `error_rate` threshold says how many may fail.
pub fn judge(report: &Report, thresholds: &[SlaThreshold]) -> Vec<Violation> {
    let view = View::of(report);
    let mut violations: Vec<Violation> = thresholds
        .iter()
        .filter_map(|t| judged(t, view.figures(t)))
        .collect();
    violations.extend(unallowed_errors(&report.total, thresholds));
    violations
}

/// A threshold lost while the run goes, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    /// Since the start of the run: the end of the interval it was judged after.
    pub at: Duration,
    pub violations: Vec<Violation>,
}

impl Lost {
    /// `aborted at 12s: latency.p99 = 40ms, not < 10ms; ...`
    pub fn detail(&self) -> String {
        let lost: Vec<String> = self
            .violations
            .iter()
            .map(|v| format!("{} = {}, not {}", v.what, v.observed, v.expected))
            .collect();
        format!(
            "aborted at {}: {}",
            crate::text::format_duration(self.at),
            lost.join("; ")
        )
    }
}

/// The thresholds already lost on the run so far, as k6's `abortOnFail` judges them: each
/// of the whole run on the figures so far, and each of a stage once that stage has ended
/// (by `at`, since the run's start). A threshold with no value yet (nothing answered) is
/// not lost. Failed requests without an `error_rate` threshold do not stop a run: they
/// fail it at the end.
pub fn lost(
    view: View<'_>,
    plan: &Plan,
    thresholds: &[SlaThreshold],
    at: Duration,
) -> Vec<Violation> {
    let ended = |stage: usize| {
        let end: Duration = plan.stages.iter().take(stage).map(|s| s.duration).sum();
        end <= at
    };
    thresholds
        .iter()
        .filter(|t| t.stage.is_none_or(ended))
        .filter_map(|t| {
            let observed = view.figures(t).and_then(|f| value(f, t.figure))?;
            judged_value(t, Some(observed))
        })
        .collect()
}

/// Whether stage `index` (from 0) met every threshold that applies to it: those of the
/// whole run, read on this stage's figures, and those written for this stage; each on its
/// part when it names one.
pub fn stage_met(report: &Report, thresholds: &[SlaThreshold], index: usize) -> bool {
    let Some(figures) = report.stages.get(index) else {
        return false;
    };
    let view = View::of(report);
    let applies = thresholds
        .iter()
        .filter(|t| t.stage.is_none_or(|n| n == index + 1));
    applies.clone().all(|t| {
        let on_stage = SlaThreshold {
            stage: Some(index + 1),
            ..t.clone()
        };
        judged(t, view.figures(&on_stage)).is_none()
    }) && unallowed_errors(figures, thresholds).is_none()
}

fn judged(threshold: &SlaThreshold, figures: Option<&Figures>) -> Option<Violation> {
    judged_value(threshold, figures.and_then(|f| value(f, threshold.figure)))
}

fn judged_value(threshold: &SlaThreshold, observed: Option<f64>) -> Option<Violation> {
    judge_threshold(&key(threshold), &threshold.threshold, observed)
        .map(|v| v.at(threshold.span.clone()))
}

/// The threshold's key as written: `latency.p99`, `latency.p99{search}@2`.
fn key(threshold: &SlaThreshold) -> String {
    let scope = threshold
        .scope
        .as_ref()
        .map_or_else(String::new, |s| format!("{{{s}}}"));
    let stage = threshold
        .stage
        .map_or_else(String::new, |n| format!("@{n}"));
    format!("{}{scope}{stage}", threshold.figure)
}

fn unallowed_errors(figures: &Figures, thresholds: &[SlaThreshold]) -> Option<Violation> {
    let allowed = thresholds
        .iter()
        .any(|t| t.figure.metric.name == "error_rate");
    let tally = &figures.tally;
    (tally.error_count() > 0 && !allowed).then(|| {
        Violation::new(
            Cause::Errors,
            "failed requests",
            "none (set an error_rate threshold to allow some)",
            format!(
                "{} of {} ({})",
                tally.error_count(),
                tally.requests(),
                errors_by_kind(figures)
            ),
        )
    })
}

/// The errors counted by kind, most frequent first: `3 http 500, 1 timeout`.
pub fn errors_by_kind(figures: &Figures) -> String {
    let mut kinds: Vec<_> = figures.errors().iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    kinds.join(", ")
}

/// A ladder's verdict, stages numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ladder {
    /// The highest stage met before the first that was not: a stage after the breaking
    /// point that passes again (noise, a warmed cache) does not raise it.
    pub max_sustainable: Option<usize>,
    /// The first stage that did not meet every threshold.
    pub breaking_point: Option<usize>,
}

/// The verdict of stages that did or did not meet their thresholds, in order.
pub fn ladder(met: &[bool]) -> Ladder {
    let breaking = met.iter().position(|m| !m);
    let sustained = breaking.unwrap_or(met.len());
    Ladder {
        max_sustainable: (sustained > 0).then_some(sustained),
        breaking_point: breaking.map(|i| i + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ErrorKind;
    use crate::load::record::{Sample, Tally};
    use crate::metric::resolve;
    use crate::scenario::threshold::parse_threshold;
    use rstest::rstest;
    use std::time::{Duration, SystemTime};

    /// Figures over `seconds` of requests answered in these milliseconds, and failures.
    fn figures(ms: &[u64], errors: &[ErrorKind], seconds: u64) -> Figures {
        let mut tally = Tally::default();
        for ms in ms {
            tally.answered(Duration::from_millis(*ms));
        }
        for kind in errors {
            tally.failed(*kind);
        }
        Figures {
            tally,
            elapsed: Duration::from_secs(seconds),
            parts: Vec::new(),
        }
    }

    fn report(stages: Vec<Figures>) -> Report {
        let mut total = Figures::default();
        for stage in &stages {
            total.tally.add(&stage.tally);
            total.elapsed += stage.elapsed;
        }
        Report {
            started: SystemTime::UNIX_EPOCH,
            intervals: Vec::new(),
            parts: Vec::new(),
            stages,
            total,
            unfinished: 0,
            open_files: None,
            warnings: Vec::new(),
            aborted: None,
            log_error: None,
        }
    }

    fn threshold(figure: &str, stage: Option<usize>, text: &str, at: usize) -> SlaThreshold {
        SlaThreshold {
            figure: resolve(figure).unwrap(),
            scope: None,
            stage,
            threshold: parse_threshold(text).unwrap(),
            span: at..at + 1,
        }
    }

    #[rstest]
    #[case("latency.p50", Some(0.020))]
    #[case("latency.min", Some(0.020))]
    #[case("latency.max", Some(0.040))]
    #[case("latency.mean", Some(0.025))]
    #[case("throughput", Some(2.0))]
    #[case("error_rate", Some(0.2))]
    #[case("dropped", Some(0.0))]
    fn values_are_in_base_units(#[case] figure: &str, #[case] expected: Option<f64>) {
        let figures = figures(&[20, 20, 20, 40], &[ErrorKind::Timeout], 2);
        let observed = value(&figures, resolve(figure).unwrap());
        match (observed, expected) {
            (Some(o), Some(e)) => assert!((o - e).abs() < e.max(1e-9) * 0.002, "{o} vs {e}"),
            other => assert_eq!(other.0, other.1),
        }
    }

    /// Two generations over 2 s: first tokens at 100 and 300 ms, 16 and 24 tokens, one of
    /// the two good when `judged`.
    fn generations(judged: bool) -> Figures {
        let mut tally = Tally::default();
        for (ttft, tokens, good) in [(100, 16, true), (300, 24, false)] {
            let sample = Sample {
                ttft: Some(Duration::from_millis(ttft)),
                itl: Some(Duration::from_millis(10)),
                tpot: Some(Duration::from_millis(12)),
                tokens_per_s: Some(80.0),
                output_tokens: Some(tokens),
                good: judged.then_some(good),
            };
            tally.sampled(Duration::from_millis(ttft + 200), &sample);
        }
        Figures {
            tally,
            elapsed: Duration::from_secs(2),
            parts: Vec::new(),
        }
    }

    #[rstest]
    #[case("ttft.p50", true, Some(0.100))]
    #[case("ttft.max", true, Some(0.300))]
    #[case("ttft.min", true, Some(0.100))]
    #[case("itl.p99", true, Some(0.010))]
    #[case("tpot.mean", true, Some(0.012))]
    #[case("latency.p99", true, Some(0.500))]
    #[case("output_tokens_per_s", true, Some(20.0))]
    // Each request's decode rate: 80 tokens/s in both.
    #[case("tokens_per_s.p50", true, Some(80.0))]
    #[case("tokens_per_s.min", true, Some(80.0))]
    #[case("goodput", true, Some(0.5))]
    #[case("goodput", false, None)]
    fn generations_have_their_own_figures(
        #[case] figure: &str,
        #[case] judged: bool,
        #[case] expected: Option<f64>,
    ) {
        let observed = value(&generations(judged), resolve(figure).unwrap());
        match (observed, expected) {
            (Some(o), Some(e)) => assert!((o - e).abs() < e * 0.002, "{o} vs {e}"),
            other => assert_eq!(other.0, other.1),
        }
    }

    #[test]
    fn plain_requests_have_no_generation_figures() {
        let plain = figures(&[5], &[], 1);
        for figure in [
            "ttft.p50",
            "itl.p99",
            "tpot.mean",
            "tokens_per_s.p50",
            "output_tokens_per_s",
            "goodput",
        ] {
            assert_eq!(value(&plain, resolve(figure).unwrap()), None, "{figure}");
        }
        let names = super::figures(&generations(true), false).len();
        assert_eq!(names, 5 * 8 + 4);
    }

    #[test]
    fn nothing_answered_has_no_latency_and_nothing_timed_has_no_throughput() {
        let none = figures(&[], &[], 0);
        assert_eq!(value(&none, resolve("latency.p99").unwrap()), None);
        assert_eq!(value(&none, resolve("throughput").unwrap()), None);
    }

    #[rstest]
    #[case::closed(false, 10)]
    #[case::open(true, 12)]
    fn the_record_has_the_registered_figures_of_the_run(#[case] open: bool, #[case] count: usize) {
        let names: Vec<String> = super::figures(&figures(&[5], &[], 1), open)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names.len(), count, "{names:?}");
        assert_eq!(names[0], "latency.p50");
        assert_eq!(names[4], "latency.p99.9");
        assert_eq!(names[8], "throughput");
    }

    #[test]
    fn a_stage_threshold_reads_its_stage_and_is_placed_where_it_is_written() {
        let report = report(vec![figures(&[10, 10], &[], 1), figures(&[50, 50], &[], 1)]);
        let thresholds = [
            threshold("latency.p99", Some(1), "< 20ms", 3),
            threshold("latency.p99", Some(2), "< 20ms", 7),
            threshold("throughput", None, ">= 2", 9),
        ];
        let violations = judge(&report, &thresholds);
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["latency.p99@2: expected < 20ms, observed 50.01ms"]);
        assert_eq!(violations[0].at, Some(7..8));
    }

    #[rstest]
    #[case::not_allowed(&[], Some("failed requests: expected none (set an error_rate threshold to allow some), observed 3 of 5 (2 http 503, 1 timeout)"))]
    #[case::allowed(&[("error_rate", "< 80%")], None)]
    fn failed_requests_fail_unless_an_error_rate_allows_them(
        #[case] written: &[(&str, &str)],
        #[case] expected: Option<&str>,
    ) {
        let errors = [
            ErrorKind::Timeout,
            ErrorKind::Status(503),
            ErrorKind::Status(503),
        ];
        let report = report(vec![figures(&[10, 10], &errors, 1)]);
        let thresholds: Vec<_> = written
            .iter()
            .map(|(f, t)| threshold(f, None, t, 0))
            .collect();
        let violations = judge(&report, &thresholds);
        let text = violations.first().map(ToString::to_string);
        assert_eq!(text.as_deref(), expected);
    }

    #[test]
    fn a_stage_meets_the_run_thresholds_on_its_own_figures_and_its_own_stage_thresholds() {
        let report = report(vec![
            figures(&[10], &[], 1),
            figures(&[30], &[], 1),
            figures(&[10], &[], 1),
        ]);
        let thresholds = [
            threshold("latency.p99", None, "< 40ms", 0),
            threshold("latency.p99", Some(2), "< 20ms", 1),
        ];
        let met: Vec<bool> = (0..4).map(|i| stage_met(&report, &thresholds, i)).collect();
        assert_eq!(met, [true, false, true, false]);
    }

    /// Two stages of a mix: `search` answers in 10 ms then 50 ms, `chat` in 100 ms both
    /// times; the stages together, as the engine adds them.
    fn mixed() -> Report {
        let stage = |search_ms: u64| {
            let search = figures(&[search_ms, search_ms], &[], 1);
            let chat = figures(&[100], &[], 1);
            let mut tally = search.tally.clone();
            tally.add(&chat.tally);
            Figures {
                tally,
                elapsed: Duration::from_secs(1),
                parts: vec![search, chat],
            }
        };
        let stages = vec![stage(10), stage(50)];
        let mut total = Figures {
            parts: vec![Figures::default(), Figures::default()],
            ..Figures::default()
        };
        for stage in &stages {
            total.tally.add(&stage.tally);
            total.elapsed += stage.elapsed;
            for (mine, theirs) in total.parts.iter_mut().zip(&stage.parts) {
                mine.tally.add(&theirs.tally);
                mine.elapsed += theirs.elapsed;
            }
        }
        Report {
            parts: vec!["search".into(), "chat".into()],
            ..report(stages)
        }
        .with_total(total)
    }

    impl Report {
        fn with_total(mut self, total: Figures) -> Report {
            self.total = total;
            self
        }
    }

    fn scoped(figure: &str, scope: &str, stage: Option<usize>, text: &str) -> SlaThreshold {
        SlaThreshold {
            scope: Some(scope.to_string()),
            ..threshold(figure, stage, text, 0)
        }
    }

    #[rstest]
    #[case::part_of_the_run(
        scoped("latency.max", "search", None, "< 40ms"),
        Some("latency.max{search}: expected < 40ms, observed 50.01ms")
    )]
    #[case::other_part(scoped("latency.max", "chat", None, "< 150ms"), None)]
    #[case::part_of_a_stage_met(scoped("latency.max", "search", Some(1), "< 40ms"), None)]
    #[case::part_of_a_stage_lost(
        scoped("latency.p50", "search", Some(2), "< 40ms"),
        Some("latency.p50{search}@2: expected < 40ms, observed 50.01ms")
    )]
    #[case::count_of_a_part(
        scoped("throughput", "chat", Some(2), ">= 2"),
        Some("throughput{chat}@2: expected >= 2, observed 1")
    )]
    #[case::every_request(
        threshold("latency.max", None, "< 40ms", 0),
        Some("latency.max: expected < 40ms, observed 100.03ms")
    )]
    #[case::no_such_part(
        scoped("latency.max", "nope", None, "< 40ms"),
        Some(
            "latency.max{nope}: expected < 40ms, observed no value: this response does not produce it (see the metric definitions in the README)"
        )
    )]
    fn a_scoped_threshold_reads_its_part_of_its_stage(
        #[case] threshold: SlaThreshold,
        #[case] expected: Option<&str>,
    ) {
        let violations = judge(&mixed(), &[threshold]);
        let text = violations.first().map(ToString::to_string);
        assert_eq!(text.as_deref(), expected);
    }

    #[test]
    fn a_ladder_judges_a_scoped_run_threshold_on_each_stage_part() {
        let thresholds = [scoped("latency.max", "search", None, "< 40ms")];
        let met: Vec<bool> = (0..2)
            .map(|i| stage_met(&mixed(), &thresholds, i))
            .collect();
        assert_eq!(met, [true, false]);
    }

    /// The engine tallies no part of a mix of one: the run's figures are the part's.
    #[test]
    fn a_mix_of_one_request_is_judged_and_recorded_as_the_run() {
        let mut report = mixed();
        report.parts.truncate(1);
        report.total.parts.clear();
        for stage in &mut report.stages {
            stage.parts.clear();
        }
        let names: Vec<String> = record_figures(&report, false)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert!(names.iter().all(|n| !n.contains('{')), "{names:?}");
        let violations = judge(
            &report,
            &[scoped("latency.max", "search", Some(1), "< 40ms")],
        );
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            ["latency.max{search}@1: expected < 40ms, observed 100.03ms"]
        );
    }

    #[test]
    fn records_name_each_parts_figures_and_each_stages_main_ones() {
        let names: Vec<String> = record_figures(&mixed(), false)
            .into_iter()
            .map(|f| f.name)
            .collect();
        let has = |name: &str| names.iter().any(|n| n == name);
        for name in [
            "latency.p99",
            "latency.p99{search}",
            "latency.p99.9{chat}",
            "error_rate{chat}",
            "throughput{search}",
            "latency.p50@1",
            "latency.p99@2",
            "latency.max@2",
            "throughput@1",
            "error_rate@2",
        ] {
            assert!(has(name), "{name} not in {names:?}");
        }
        assert!(!has("latency.p90@1") && !has("latency.p99{search}@1"));
        assert_eq!(names.len(), 3 * 10 + 2 * 5);
        let unit = |name: &str| {
            record_figures(&mixed(), false)
                .into_iter()
                .find(|f| f.name == name)
                .unwrap()
                .unit
        };
        assert_eq!(unit("latency.p99{search}"), crate::metric::Unit::Duration);
        assert_eq!(unit("error_rate@2"), crate::metric::Unit::Ratio);
    }

    fn plan(seconds: &[u64]) -> Plan {
        use crate::load::{Arrival, Model, Stage};
        Plan {
            model: Model::Open {
                arrival: Arrival::Constant,
                max_in_flight: 1,
            },
            stages: seconds
                .iter()
                .map(|s| Stage {
                    level: 1.0,
                    duration: Duration::from_secs(*s),
                    ramp: Duration::ZERO,
                })
                .collect(),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(1),
            time_limit: Duration::from_secs(60),
            max_requests: None,
        }
    }

    #[rstest]
    #[case::run_threshold_lost_so_far(threshold("latency.max", None, "< 60ms", 0), 1, &["latency.max"])]
    #[case::run_threshold_kept(threshold("latency.max", None, "< 200ms", 0), 1, &[])]
    #[case::stage_not_ended(threshold("latency.p50", Some(2), "< 20ms", 0), 1, &[])]
    #[case::stage_ended(threshold("latency.p50", Some(2), "< 20ms", 0), 2, &["latency.p50@2"])]
    #[case::part(scoped("latency.max", "search", None, "< 20ms"), 1, &["latency.max{search}"])]
    #[case::no_value_yet(threshold("ttft.p50", None, "< 1ms", 0), 2, &[])]
    fn lost_thresholds_are_those_of_the_run_so_far_and_of_ended_stages(
        #[case] threshold: SlaThreshold,
        #[case] at_s: u64,
        #[case] expected: &[&str],
    ) {
        let report = mixed();
        let lost = lost(
            View::of(&report),
            &plan(&[1, 1, 1]),
            &[threshold],
            Duration::from_secs(at_s),
        );
        let what: Vec<&str> = lost.iter().map(|v| v.what.as_str()).collect();
        assert_eq!(what, expected);
    }

    #[test]
    fn an_abort_says_when_and_what() {
        let report = mixed();
        let violations = lost(
            View::of(&report),
            &plan(&[30]),
            &[threshold("latency.p99", None, "< 10ms", 0)],
            Duration::from_secs(12),
        );
        let lost = Lost {
            at: Duration::from_secs(12),
            violations,
        };
        assert_eq!(
            lost.detail(),
            "aborted at 12s: latency.p99 = 100.03ms, not < 10ms"
        );
    }

    #[rstest]
    #[case::all_met(&[true, true, true], Some(3), None)]
    #[case::breaks_at_3(&[true, true, false], Some(2), Some(3))]
    #[case::first_fails(&[false, true], None, Some(1))]
    #[case::recovery_does_not_count(&[true, false, true], Some(1), Some(2))]
    fn a_ladder_sustains_up_to_its_first_failed_stage(
        #[case] met: &[bool],
        #[case] max_sustainable: Option<usize>,
        #[case] breaking_point: Option<usize>,
    ) {
        assert_eq!(
            ladder(met),
            Ladder {
                max_sustainable,
                breaking_point
            }
        );
    }
}
