//! The regression gate of a baseline comparison: a stored sample of one figure (repeated
//! measurements from an earlier run) against a sample measured now, judged by the figure's
//! direction and a tolerance. Pure: the samples come in as [`Summary`]s, the verdict goes
//! out with its numbers and a sentence.
//!
//! # The rule
//!
//! The figure compared is the ratio of medians, measured / stored: medians because one
//! slow repetition (a cold cache, a neighbour's burst) moves a mean but not a median, and a
//! ratio because a tolerance is written as a share ("10%") whatever the unit.
//!
//! Whether a change is real is read from a 95% percentile-bootstrap confidence interval of
//! that ratio: each of 2,000 rounds draws, with replacement, as many values as each sample
//! holds from it, and takes the ratio of the two resampled medians; the interval runs from
//! the 2.5th to the 97.5th percentile of the 2,000 ratios. Then, with tolerance t:
//!
//! - **Regressed** when the whole interval is beyond the tolerance in the worse direction:
//!   above 1 + t where lower is better (a latency), below 1 - t where higher is better (a
//!   rate); "beyond" is strict, so a ratio of exactly 1 - t is within;
//! - **Improved** when the whole interval is beyond the tolerance in the better direction;
//! - **Unchanged** when the whole interval lies within [1 - t, 1 + t];
//! - **Inconclusive** otherwise: the interval reaches across a bound, so the samples are
//!   too spread to tell (the comparison carries each sample's CoV to say so).
//!
//! A figure neither way of which is better ([`Direction::Neither`], such as
//! `output_tokens`) whose interval is wholly beyond the tolerance is **Changed**: reported,
//! never a regression or an improvement. Only Regressed fails the gate.
//!
//! Degenerate cases are Inconclusive with their reason, before any resampling: fewer than
//! [`MIN_SAMPLES`] values in either sample (a median of one or two values is a single value
//! or a mean, and resampling two values has three outcomes), and a stored median of 0 (a
//! change relative to 0 has no size as a ratio). Samples without spread need no special
//! case: every resample then has the same median, the interval collapses to the point
//! ratio, and the verdict is the ratio against the tolerance.
//!
//! # Why a bootstrap interval, not a rank test
//!
//! A Mann–Whitney test answers "do the samples differ at all?". The gate asks "is the
//! change larger than the tolerance, and is that more than noise?", and Unchanged asks the
//! opposite, "is any change surely smaller than the tolerance?". An interval on the ratio
//! answers all of them on the tolerance's own scale, gives the message a range to print,
//! and assumes no distribution (latencies are skewed).
//!
//! What it costs: an unchanged figure is called Regressed only when its interval misses
//! the truth on one side (2.5% of the time at 95%) and also lies wholly beyond the
//! tolerance. With a spread small beside the tolerance the second never happens: across
//! 200 seeded pairs of an unchanged server (CoV 5%, 10 values each, 10% tolerance) the gate
//! calls none Regressed, and it catches a real 15% regression at CoV 3% in 183 of 200.
//! With a spread far larger than the tolerance (CoV 40%) nearly everything is
//! Inconclusive, but the false alarms approach the interval's own 2.5% (1 of 200 there).
//! The bootstrap of the median of few values is also lumpy (resampled medians take few
//! distinct values), which is why the gate wants at least [`MIN_SAMPLES`]; the numbers
//! above are for ten, and the tests pin them.
//!
//! # Reproducible
//!
//! The resampling draws from SplitMix64 with a fixed seed, so the same samples give the same
//! interval on every run and machine, and no test can flake. The values are resampled from
//! their sorted order, so the order they arrived in does not matter either. With 2,000
//! rounds each bound is read from the 50 most extreme ratios on its side: precise enough
//! that only an interval grazing a tolerance bound could read differently with more rounds,
//! and cheap (4,000 medians of resampled values per comparison).

use std::fmt;

use crate::metric::{Direction, FigureRef, Stat, Unit, format_change, format_value};
use crate::rng::SplitMix64;
use crate::stats::{Summary, quantile};

/// The fewest values each sample needs before the gate will call a change.
pub const MIN_SAMPLES: usize = 3;
const RESAMPLES: usize = 2_000;
const CONFIDENCE: f64 = 0.95;
const SEED: u64 = 0x5EED_BA5E_11E5_0001;

/// How far the measured median may move from the stored one, as a share of the stored
/// median: 0.1 for 10%.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance(f64);

/// A tolerance of 1 or more would put the lower bound of a rate at or below 0, where it
/// could never regress; a negative one or NaN means nothing.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("tolerance {0} is not a share from 0 up to (not including) 1; 0.1 means 10%")]
pub struct ToleranceError(pub f64);

impl Tolerance {
    pub fn new(share: f64) -> Result<Tolerance, ToleranceError> {
        if (0.0..1.0).contains(&share) {
            Ok(Tolerance(share))
        } else {
            Err(ToleranceError(share))
        }
    }

    pub fn share(self) -> f64 {
        self.0
    }
}

/// What the comparison says, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Regressed,
    /// Better beyond the tolerance: the stored baseline is stale and may be updated.
    Improved,
    Unchanged,
    /// A figure of [`Direction::Neither`] moved beyond the tolerance.
    Changed,
    Inconclusive(Doubt),
}

/// Why the gate could not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doubt {
    /// The interval reaches across a tolerance bound.
    Spread,
    /// A sample holds fewer than [`MIN_SAMPLES`] values.
    TooFew,
    /// The stored median is 0 (or below), so there is no ratio.
    ZeroStored,
}

impl Verdict {
    /// Whether the gate fails: only a regression does. Inconclusive passes, so a noisy
    /// machine cannot fail a build; the message says the comparison told nothing.
    pub fn fails(self) -> bool {
        self == Verdict::Regressed
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Changed => "changed",
            Verdict::Inconclusive(_) => "inconclusive",
        }
    }
}

/// One sample as the comparison reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    pub count: usize,
    pub median: f64,
    pub cov: Option<f64>,
}

impl Side {
    fn of(summary: &Summary) -> Side {
        Side {
            count: summary.count(),
            median: summary.median(),
            cov: summary.get(Stat::Cov),
        }
    }
}

/// The ratio of medians, measured / stored, with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

/// The outcome of the gate with everything its message needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub figure: FigureRef,
    pub tolerance: Tolerance,
    pub stored: Side,
    pub measured: Side,
    /// `None` when the gate did not resample (too few values, a stored median of 0).
    pub change: Option<Change>,
    pub verdict: Verdict,
}

/// Compares a measured sample of `figure` with its stored baseline (see the module doc).
/// The direction is the registry's for the figure ([`FigureRef::direction`]).
pub fn judge_baseline(
    figure: FigureRef,
    tolerance: Tolerance,
    stored: &Summary,
    measured: &Summary,
) -> Comparison {
    let (change, verdict) = if stored.count() < MIN_SAMPLES || measured.count() < MIN_SAMPLES {
        (None, Verdict::Inconclusive(Doubt::TooFew))
    } else if stored.median() <= 0.0 {
        (None, Verdict::Inconclusive(Doubt::ZeroStored))
    } else {
        let change = bootstrap(stored, measured);
        (
            Some(change),
            classify(change, figure.direction(), tolerance),
        )
    };
    Comparison {
        figure,
        tolerance,
        stored: Side::of(stored),
        measured: Side::of(measured),
        change,
        verdict,
    }
}

fn classify(change: Change, direction: Direction, tolerance: Tolerance) -> Verdict {
    let (floor, ceiling) = (1.0 - tolerance.0, 1.0 + tolerance.0);
    let went_up = if change.low > ceiling {
        true
    } else if change.high < floor {
        false
    } else if change.low >= floor && change.high <= ceiling {
        return Verdict::Unchanged;
    } else {
        return Verdict::Inconclusive(Doubt::Spread);
    };
    match (direction, went_up) {
        (Direction::Neither, _) => Verdict::Changed,
        (Direction::LowerIsBetter, true) | (Direction::HigherIsBetter, false) => Verdict::Regressed,
        (Direction::LowerIsBetter, false) | (Direction::HigherIsBetter, true) => Verdict::Improved,
    }
}

/// The point ratio of medians and its percentile-bootstrap interval.
fn bootstrap(stored: &Summary, measured: &Summary) -> Change {
    let mut rng = SplitMix64::new(SEED);
    let mut scratch = Vec::with_capacity(stored.count().max(measured.count()));
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let m = resampled_median(measured.sorted(), &mut rng, &mut scratch);
            let s = resampled_median(stored.sorted(), &mut rng, &mut scratch);
            ratio(m, s)
        })
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Change {
        ratio: ratio(measured.median(), stored.median()),
        low: quantile(&ratios, tail),
        high: quantile(&ratios, 1.0 - tail),
    }
}

fn resampled_median(values: &[f64], rng: &mut SplitMix64, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend((0..values.len()).map(|_| values[rng.below(values.len())]));
    scratch.sort_unstable_by(f64::total_cmp);
    quantile(scratch, 0.5)
}

/// measured / stored. A resampled stored median can be 0 when the stored sample holds
/// zeros (an error rate): the ratio is then +inf, or 1 when both are 0 (nothing changed).
fn ratio(measured: f64, stored: f64) -> f64 {
    match (measured, stored) {
        (0.0, 0.0) => 1.0,
        (_, 0.0) => f64::INFINITY,
        _ => measured / stored,
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.figure.unit();
        write!(
            f,
            "{}: median {} {} vs stored {}",
            self.verdict.word(),
            self.figure,
            format_value(self.measured.median, unit),
            format_value(self.stored.median, unit),
        )?;
        if let Some(c) = self.change {
            write!(
                f,
                " ({}, {:.0}% interval {} to {})",
                format_change(c.ratio),
                CONFIDENCE * 100.0,
                format_change(c.low),
                format_change(c.high)
            )?;
        }
        let tolerance = format_value(self.tolerance.0, Unit::Ratio);
        match self.verdict {
            Verdict::Regressed => write!(f, ", beyond the {tolerance} tolerance"),
            Verdict::Improved => write!(
                f,
                ", beyond the {tolerance} tolerance; consider updating the stored baseline"
            ),
            Verdict::Unchanged => write!(f, ", within the {tolerance} tolerance"),
            Verdict::Changed => write!(
                f,
                ", beyond the {tolerance} tolerance; neither way is better for {}, so this is \
                 reported, not judged",
                self.figure.metric.name
            ),
            Verdict::Inconclusive(Doubt::Spread) => {
                let cov = |side: &Side| {
                    side.cov
                        .map_or_else(|| "undefined".into(), |c| format_value(c, Unit::Ratio))
                };
                write!(
                    f,
                    ", reaching across the {tolerance} tolerance: the samples are too spread to \
                     tell (CoV {} stored, {} measured)",
                    cov(&self.stored),
                    cov(&self.measured)
                )
            }
            Verdict::Inconclusive(Doubt::TooFew) => write!(
                f,
                "; {} stored and {} measured values, and telling a change from noise needs at \
                 least {MIN_SAMPLES} of each",
                self.stored.count, self.measured.count
            ),
            Verdict::Inconclusive(Doubt::ZeroStored) => write!(
                f,
                "; a change from a stored median of 0 has no size as a ratio"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::resolve;
    use rstest::rstest;

    /// `n` values around `median` with about `cov` relative spread: log-normal noise
    /// (median · e^(cov·z), z standard normal by Box–Muller), positive and right-skewed as
    /// latencies and rates are; its CoV is √(e^(cov²) - 1), within 2% of `cov` up to 20%.
    fn noisy(seed: u64, n: usize, median: f64, cov: f64) -> Summary {
        let mut rng = SplitMix64::new(seed);
        let values: Vec<f64> = (0..n)
            .map(|_| {
                let (u, v) = (rng.unit(), rng.unit());
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                median * (cov * z).exp()
            })
            .collect();
        Summary::of(&values).unwrap()
    }

    fn judge(figure: &str, tolerance: f64, stored: &Summary, measured: &Summary) -> Comparison {
        judge_baseline(
            resolve(figure).unwrap(),
            Tolerance::new(tolerance).unwrap(),
            stored,
            measured,
        )
    }

    fn fixed(values: &[f64]) -> Summary {
        Summary::of(values).unwrap()
    }

    const SPREAD: Verdict = Verdict::Inconclusive(Doubt::Spread);

    // Stored and measured samples of 10 values from different seeds; `shift` is the true
    // ratio of the measured median to the stored one, `cov` the spread of each sample. One
    // seed pair a case; `detection_and_false_alarms` below counts across 200 pairs.
    #[rstest]
    #[case::rate_falls_15_at_cov_3("tokens_per_s", 127.5, 0.85, 0.03, Verdict::Regressed)]
    #[case::rate_rises_15_at_cov_3("tokens_per_s", 127.5, 1.15, 0.03, Verdict::Improved)]
    #[case::latency_rises_15_at_cov_3("ttft", 0.120, 1.15, 0.03, Verdict::Regressed)]
    #[case::latency_falls_15_at_cov_3("ttft", 0.120, 0.85, 0.03, Verdict::Improved)]
    #[case::spread_grows_20("ttft.cov", 0.05, 1.20, 0.03, Verdict::Regressed)]
    #[case::rate_wobbles_5_at_cov_8("tokens_per_s", 127.5, 0.95, 0.08, SPREAD)]
    #[case::latency_wobbles_5_at_cov_8("latency", 2.5, 1.05, 0.08, Verdict::Unchanged)]
    #[case::rate_steady_at_cov_3("tokens_per_s", 127.5, 1.0, 0.03, Verdict::Unchanged)]
    #[case::rate_falls_12_at_cov_40("tokens_per_s", 127.5, 0.88, 0.40, SPREAD)]
    #[case::latency_rises_12_at_cov_40("ttft", 0.120, 1.12, 0.40, SPREAD)]
    #[case::tokens_grow_15("output_tokens", 128.0, 1.15, 0.03, Verdict::Changed)]
    #[case::tokens_shrink_15("output_tokens", 128.0, 0.85, 0.03, Verdict::Changed)]
    #[case::tokens_steady("output_tokens", 128.0, 1.0, 0.01, Verdict::Unchanged)]
    fn judges_synthetic_runs(
        #[case] figure: &str,
        #[case] median: f64,
        #[case] shift: f64,
        #[case] cov: f64,
        #[case] expected: Verdict,
    ) {
        let stored = noisy(1, 10, median, cov);
        let measured = noisy(2, 10, median * shift, cov);
        let comparison = judge(figure, 0.10, &stored, &measured);
        assert_eq!(comparison.verdict, expected, "{comparison}");
        let change = comparison.change.unwrap();
        assert!(change.low <= change.ratio && change.ratio <= change.high);
    }

    #[rstest]
    #[case::rate_falls(
        "tokens_per_s",
        0.10,
        &[127.5; 5],
        &[108.2; 5],
        Verdict::Regressed,
        "regressed: median tokens_per_s 108.2 vs stored 127.5 (-15.1%, 95% interval -15.1% to -15.1%), beyond the 10% tolerance"
    )]
    #[case::latency_rises(
        "ttft",
        0.10,
        &[0.1, 0.1, 0.1],
        &[0.125, 0.125, 0.125],
        Verdict::Regressed,
        "regressed: median ttft 125ms vs stored 100ms (+25.0%, 95% interval +25.0% to +25.0%), beyond the 10% tolerance"
    )]
    #[case::latency_falls(
        "ttft",
        0.10,
        &[0.1, 0.1, 0.1],
        &[0.08, 0.08, 0.08],
        Verdict::Improved,
        "improved: median ttft 80ms vs stored 100ms (-20.0%, 95% interval -20.0% to -20.0%), beyond the 10% tolerance; consider updating the stored baseline"
    )]
    // Exactly at the bound is within it: "beyond" is strict.
    #[case::at_the_bound(
        "tokens_per_s",
        0.10,
        &[100.0; 4],
        &[90.0; 4],
        Verdict::Unchanged,
        "unchanged: median tokens_per_s 90 vs stored 100 (-10.0%, 95% interval -10.0% to -10.0%), within the 10% tolerance"
    )]
    #[case::neither_way_is_better(
        "output_tokens",
        0.05,
        &[128.0; 3],
        &[140.0; 3],
        Verdict::Changed,
        "changed: median output_tokens 140 vs stored 128 (+9.4%, 95% interval +9.4% to +9.4%), beyond the 5% tolerance; neither way is better for output_tokens, so this is reported, not judged"
    )]
    #[case::too_few(
        "ttft",
        0.10,
        &[0.1, 0.1],
        &[0.5, 0.5, 0.5],
        Verdict::Inconclusive(Doubt::TooFew),
        "inconclusive: median ttft 500ms vs stored 100ms; 2 stored and 3 measured values, and telling a change from noise needs at least 3 of each"
    )]
    #[case::zero_stored(
        "error_rate",
        0.10,
        &[0.0, 0.0, 0.0, 0.1],
        &[0.2, 0.2, 0.3],
        Verdict::Inconclusive(Doubt::ZeroStored),
        "inconclusive: median error_rate 20% vs stored 0%; a change from a stored median of 0 has no size as a ratio"
    )]
    fn says_why(
        #[case] figure: &str,
        #[case] tolerance: f64,
        #[case] stored: &[f64],
        #[case] measured: &[f64],
        #[case] verdict: Verdict,
        #[case] message: &str,
    ) {
        let comparison = judge(figure, tolerance, &fixed(stored), &fixed(measured));
        assert_eq!(comparison.verdict, verdict);
        assert_eq!(comparison.to_string(), message);
    }

    #[test]
    fn an_inconclusive_spread_names_both_covs() {
        // Hand-made: medians 100ms and 112ms, each sample spread ±40%.
        let stored = fixed(&[0.06, 0.08, 0.1, 0.12, 0.14]);
        let measured = fixed(&[0.0672, 0.0896, 0.112, 0.1344, 0.1568]);
        let comparison = judge("ttft", 0.10, &stored, &measured);
        assert_eq!(comparison.verdict, Verdict::Inconclusive(Doubt::Spread));
        let message = comparison.to_string();
        assert!(
            message.starts_with(
                "inconclusive: median ttft 112ms vs stored 100ms (+12.0%, 95% interval "
            ),
            "{message}"
        );
        assert!(
            message.ends_with(
                "reaching across the 10% tolerance: the samples are too spread to tell \
                 (CoV 31.623% stored, 31.623% measured)"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_zero_in_a_resample_of_the_stored_sample_makes_an_open_interval() {
        // The stored median is 0.1, but resamples drawing mostly the zeros have median 0.
        let stored = fixed(&[0.0, 0.0, 0.1, 0.1, 0.1]);
        let measured = fixed(&[0.1, 0.1, 0.1, 0.1, 0.1]);
        let comparison = judge("error_rate", 0.10, &stored, &measured);
        let change = comparison.change.unwrap();
        assert_eq!((change.ratio, change.high), (1.0, f64::INFINITY));
        assert_eq!(comparison.verdict, Verdict::Inconclusive(Doubt::Spread));
    }

    #[test]
    fn the_same_samples_give_the_same_comparison_in_any_order() {
        let stored = noisy(7, 10, 100.0, 0.06);
        let measured = noisy(8, 10, 91.0, 0.06);
        let first = judge("tokens_per_s", 0.10, &stored, &measured);
        let mut reversed: Vec<f64> = measured.sorted().to_vec();
        reversed.reverse();
        for _ in 0..3 {
            assert_eq!(judge("tokens_per_s", 0.10, &stored, &measured), first);
        }
        assert_eq!(
            judge("tokens_per_s", 0.10, &stored, &fixed(&reversed)),
            first
        );
    }

    #[test]
    fn only_a_regression_fails() {
        let failing: Vec<Verdict> = [
            Verdict::Regressed,
            Verdict::Improved,
            Verdict::Unchanged,
            Verdict::Changed,
            Verdict::Inconclusive(Doubt::Spread),
            Verdict::Inconclusive(Doubt::TooFew),
            Verdict::Inconclusive(Doubt::ZeroStored),
        ]
        .into_iter()
        .filter(|v| v.fails())
        .collect();
        assert_eq!(failing, [Verdict::Regressed]);
    }

    #[rstest]
    #[case(0.0, true)]
    #[case(0.1, true)]
    #[case(0.999, true)]
    #[case(1.0, false)]
    #[case(-0.1, false)]
    #[case(f64::NAN, false)]
    fn tolerances(#[case] share: f64, #[case] valid: bool) {
        match Tolerance::new(share) {
            Ok(t) => assert!(valid && t.share() == share),
            Err(e) => {
                assert!(!valid);
                assert!(
                    e.to_string()
                        .starts_with(&format!("tolerance {share} is not"))
                );
            }
        }
    }

    /// How the gate decides across 200 seeded pairs of runs per setting (10 values a
    /// sample, 10% tolerance, a rate so that falling is worse); the counts are
    /// [Regressed, Improved, Unchanged, Inconclusive]. Measured when written, and pinned so
    /// that a change to the rule shows up here:
    ///
    /// - an unchanged server at CoV 5% is never called Regressed (181 Unchanged, 19
    ///   Inconclusive): the gate does not flake on ordinary noise;
    /// - a real 15% regression at CoV 3% is caught in 183 of 200 (the rest Inconclusive,
    ///   never passed as Unchanged);
    /// - a 5% wobble at CoV 8% is never Regressed;
    /// - a real 8% regression (within the tolerance) at CoV 5% is called Regressed once: its
    ///   interval fell just below -10%;
    /// - with a spread (CoV about 40%) far larger than the tolerance, nearly all are
    ///   Inconclusive; a real 12% regression is still caught 5 times, and an unchanged
    ///   server is called Regressed once. That is the interval's own error rate: when the
    ///   interval is much wider than the tolerance band, the band no longer protects, and
    ///   only the 2.5% chance of the interval missing the truth on one side remains. (At 99%
    ///   confidence these were 0 and 1 of 200, at the price of catching 161 rather than 183
    ///   of the real 15% regressions.)
    #[rstest]
    #[case::unchanged_at_cov_5(1.0, 0.05, [0, 0, 181, 19])]
    #[case::falls_15_at_cov_3(0.85, 0.03, [183, 0, 0, 17])]
    #[case::wobbles_5_at_cov_8(0.95, 0.08, [0, 0, 32, 168])]
    #[case::falls_8_at_cov_5(0.92, 0.05, [1, 0, 24, 175])]
    #[case::falls_12_at_cov_40(0.88, 0.40, [5, 0, 0, 195])]
    #[case::unchanged_at_cov_40(1.0, 0.40, [1, 0, 0, 199])]
    fn detection_and_false_alarms(
        #[case] shift: f64,
        #[case] cov: f64,
        #[case] expected: [usize; 4],
    ) {
        let mut counts = [0; 4];
        for pair in 0..200u64 {
            let stored = noisy(1000 + 2 * pair, 10, 127.5, cov);
            let measured = noisy(1001 + 2 * pair, 10, 127.5 * shift, cov);
            let slot = match judge("tokens_per_s", 0.10, &stored, &measured).verdict {
                Verdict::Regressed => 0,
                Verdict::Improved => 1,
                Verdict::Unchanged => 2,
                _ => 3,
            };
            counts[slot] += 1;
        }
        assert_eq!(counts, expected);
    }
}
