//! What a load run's figures say, as pure functions of the engine's [`Report`]: the
//! figures under the registry's names, the thresholds judged on the whole run or on their
//! stage, and for a ladder the highest stage the server sustained.

use crate::judge::threshold::judge_threshold;
use crate::judge::{Cause, Violation};
use hdrhistogram::Histogram;

use crate::load::{Figures, Report};
use crate::metric::{Figure, FigureRef, Stat, find_metric};
use crate::scenario::sla::{LOAD_STATS, SlaThreshold};

/// The durations an sla case reports with [`LOAD_STATS`]: latency for every request,
/// the others for generations.
const DURATIONS: &[&str] = &["latency", "ttft", "itl", "tpot"];

/// A figure of a stage or of the run in base units; `None` when it has none (no request
/// answered has no latency, a plain HTTP request no first token).
pub fn value(figures: &Figures, figure: FigureRef) -> Option<f64> {
    let tally = &figures.tally;
    let generated = tally.generated.as_deref();
    let answered = tally.answered_count();
    match figure.metric.name {
        "latency" => statistic(&tally.latency, figure.stat?),
        "ttft" => statistic(&generated?.ttft, figure.stat?),
        "itl" => statistic(&generated?.itl, figure.stat?),
        "tpot" => statistic(&generated?.tpot, figure.stat?),
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

/// A statistic of a histogram of microseconds, in seconds; `None` when it is empty. A
/// percentile or the maximum is the top of its bucket (HdrHistogram's
/// `value_at_quantile`), the minimum the bottom of its own.
fn statistic(histogram: &Histogram<u64>, stat: Stat) -> Option<f64> {
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
        Stat::Mean => return Some(histogram.mean() / 1e6),
        _ => return None,
    };
    Some(micros as f64 / 1e6)
}

/// The figures of the whole run as records carry them, those it has: the durations of a
/// generation, its output tokens/s and its goodput (when its check has SLOs) are a model
/// request's; `late` and `dropped` are an open loop's (a closed loop sends nothing on a
/// schedule).
pub fn figures(total: &Figures, open: bool) -> Vec<Figure> {
    let metric = |name| find_metric(name).expect("sla figures are registered metrics");
    let durations = DURATIONS.iter().flat_map(|name| {
        LOAD_STATS.iter().map(|stat| FigureRef {
            metric: metric(name),
            stat: Some(*stat),
        })
    });
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
    let run = run.iter().map(|name| FigureRef {
        metric: metric(name),
        stat: None,
    });
    durations
        .chain(run)
        .filter_map(|figure| Some(Figure::new(figure.to_string(), value(total, figure)?)))
        .collect()
}

/// Every threshold judged on its stage's figures (the whole run's when it names none),
/// placed where it is written; and failed requests, unless an `error_rate` threshold says
/// how many may fail.
pub fn judge(report: &Report, thresholds: &[SlaThreshold]) -> Vec<Violation> {
    let mut violations: Vec<Violation> = thresholds
        .iter()
        .filter_map(|t| {
            let figures = match t.stage {
                None => Some(&report.total),
                Some(n) => report.stages.get(n - 1),
            };
            judged(t, figures)
        })
        .collect();
    violations.extend(unallowed_errors(&report.total, thresholds));
    violations
}

/// Whether stage `index` (from 0) met every threshold that applies to it: those of the
/// whole run, read on this stage's figures, and those written for this stage.
pub fn stage_met(report: &Report, thresholds: &[SlaThreshold], index: usize) -> bool {
    let Some(figures) = report.stages.get(index) else {
        return false;
    };
    let applies = thresholds
        .iter()
        .filter(|t| t.stage.is_none_or(|n| n == index + 1));
    applies.clone().all(|t| judged(t, Some(figures)).is_none())
        && unallowed_errors(figures, thresholds).is_none()
}

fn judged(threshold: &SlaThreshold, figures: Option<&Figures>) -> Option<Violation> {
    let observed = figures.and_then(|f| value(f, threshold.figure));
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
            stages,
            total,
            unfinished: 0,
            open_files: None,
            warnings: Vec::new(),
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
                output_tokens: Some(tokens),
                good: judged.then_some(good),
            };
            tally.sampled(Duration::from_millis(ttft + 200), &sample);
        }
        Figures {
            tally,
            elapsed: Duration::from_secs(2),
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
            "output_tokens_per_s",
            "goodput",
        ] {
            assert_eq!(value(&plain, resolve(figure).unwrap()), None, "{figure}");
        }
        let names = super::figures(&generations(true), false).len();
        assert_eq!(names, 4 * 8 + 4);
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
