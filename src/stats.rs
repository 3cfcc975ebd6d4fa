//! Statistics of a sample of measurements: every statistic of the metric registry
//! ([`STATS`]) plus the count, for kinds that repeat a request and for the baseline gate.
//! Pure arithmetic, no I/O.
//!
//! Definitions, so that a figure in a report means one thing:
//!
//! - `mean`: the arithmetic mean.
//! - `stddev`: the *sample* standard deviation, dividing by n - 1 (Bessel's correction),
//!   because the values are a sample of what the server does, not all of it. Undefined for
//!   fewer than 2 values.
//! - `cov`: stddev / |mean|, a ratio whatever the unit; undefined with fewer than 2 values or
//!   a mean of 0.
//! - `median` and the percentiles `p50`, `p90`, `p95`, `p99`, `p99.9`: linear interpolation
//!   between closest ranks, numpy's default ("linear", Hyndman and Fan type 7): for sorted
//!   values x0..x(n-1), the q-quantile sits at rank h = (n - 1)·q and is
//!   x⌊h⌋ + (h - ⌊h⌋)·(x⌊h⌋+1 - x⌊h⌋). So `median` and `p50` are the same number (the mean of
//!   the middle two for an even count), the 0-quantile is the min and the 1-quantile the max.
//!
//! How much a percentile says depends on the count. Whenever n ≤ 1 + 1/(1 - q), the
//! q-quantile lies between the two largest values: p90 for n ≤ 11, p95 for n ≤ 21, p99 for
//! n ≤ 101, p99.9 for n ≤ 1001. There it is an interpolation towards the max, not an
//! estimate of the tail, and a single slow repetition moves it; p99 of 10 repetitions is
//! 0.91 of the way from the second largest value to the max. Read tail percentiles of few
//! repetitions as "about the max".
//!
//! A sample must be non-empty and finite. An empty one has no statistics ([`SampleError::Empty`]
//! rather than NaN or a panic). A NaN or an infinity is rejected, not skipped: producers
//! give `None` rather than a non-finite number for a figure they have no basis for (see
//! `inference::metrics`), so one here is a broken measurement, and skipping it would
//! silently shrink the sample the gate trusts.

use crate::metric::{Figure, FigureRef, Metric, STATS, Stat};

/// Why a sample has no statistics.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("no values")]
    Empty,
    #[error("value {} of the sample is {value}, not a finite number", .index + 1)]
    NotFinite { index: usize, value: f64 },
}

/// The statistics of one sample. Keeps the values sorted, which the percentiles need and
/// which makes every statistic (and the baseline gate's resampling) independent of the
/// order the values arrived in.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    sorted: Vec<f64>,
    mean: f64,
    stddev: Option<f64>,
}

impl Summary {
    pub fn of(values: &[f64]) -> Result<Summary, SampleError> {
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SampleError::NotFinite { index, value });
        }
        if values.is_empty() {
            return Err(SampleError::Empty);
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let n = sorted.len() as f64;
        // Each value divided first: a sum of values near f64::MAX would overflow.
        let mean = sorted.iter().map(|x| x / n).sum::<f64>();
        // Two passes (mean first, then squared deviations) rather than the sum of squares,
        // which loses every digit when the spread is small beside the mean.
        // Squares of huge deviations overflow: such a spread is undefined rather than inf.
        let stddev = (sorted.len() >= 2)
            .then(|| {
                let squares: f64 = sorted.iter().map(|x| (x - mean).powi(2)).sum();
                (squares / (n - 1.0)).sqrt()
            })
            .filter(|s| s.is_finite());
        Ok(Summary {
            sorted,
            mean,
            stddev,
        })
    }

    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// The median: every sample has one (the baseline gate's robust figure).
    pub fn median(&self) -> f64 {
        quantile(&self.sorted, 0.5)
    }

    /// The values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// A statistic as the module doc defines it; `None` only for `stddev` and `cov` where
    /// they are undefined.
    pub fn get(&self, stat: Stat) -> Option<f64> {
        let at = |q| Some(quantile(&self.sorted, q));
        match stat {
            Stat::Count => Some(self.sorted.len() as f64),
            Stat::Mean => Some(self.mean),
            Stat::Median | Stat::P50 => Some(self.median()),
            Stat::Min => self.sorted.first().copied(),
            Stat::Max => self.sorted.last().copied(),
            Stat::Stddev => self.stddev,
            Stat::Cov => self
                .stddev
                .filter(|_| self.mean != 0.0)
                .map(|s| s / self.mean.abs()),
            Stat::P90 => at(0.90),
            Stat::P95 => at(0.95),
            Stat::P99 => at(0.99),
            Stat::P999 => at(0.999),
        }
    }

    /// Every defined statistic as a figure `<metric>.<stat>` with its registry unit, in the
    /// registry's order: what a report records for a repeated measurement.
    pub fn figures(&self, metric: &'static Metric) -> Vec<Figure> {
        STATS
            .iter()
            .filter_map(|&(_, stat)| {
                let name = FigureRef {
                    metric,
                    stat: Some(stat),
                };
                self.get(stat).map(|v| Figure::new(name.to_string(), v))
            })
            .collect()
    }
}

/// The q-quantile (0 ≤ q ≤ 1) of ascending values by linear interpolation between closest
/// ranks (see the module doc). `sorted` must be non-empty. A rank that lands on a value
/// returns it exactly, and an interpolation towards +inf is +inf rather than NaN: the
/// baseline gate takes quantiles of ratios, which are infinite where a resampled stored
/// median is 0.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let frac = h - below as f64;
    let lo = sorted[below];
    if frac == 0.0 {
        return lo;
    }
    let hi = sorted[below + 1];
    if lo == hi { lo } else { lo + (hi - lo) * frac }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Unit, find_metric};
    use rstest::rstest;

    fn close(actual: Option<f64>, expected: Option<f64>) -> bool {
        match (actual, expected) {
            (Some(a), Some(e)) => (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            (a, e) => a == e,
        }
    }

    // Hand-computed. [1, 2, 3, 4]: deviations ±1.5, ±0.5, so stddev = √(5/3); p90 at rank
    // 3·0.9 = 2.7, 3 + 0.7·(4 - 3). [2, 4, 4, 4, 5, 5, 7, 9]: the textbook sample with
    // population σ 2, sample stddev √(32/7); p90 at rank 6.3, 7 + 0.3·2; p99.9 at 6.993.
    #[rstest]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Mean, Some(2.5))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Median, Some(2.5))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::P50, Some(2.5))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Min, Some(1.0))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Max, Some(4.0))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Stddev, Some(1.290_994_448_735_805_6))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::Cov, Some(0.516_397_779_494_322_3))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::P90, Some(3.7))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::P95, Some(3.85))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::P99, Some(3.97))]
    #[case::four(&[4.0, 1.0, 3.0, 2.0], Stat::P999, Some(3.997))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::Mean, Some(5.0))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::Median, Some(4.5))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::Stddev, Some(2.138_089_935_299_395))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::Cov, Some(0.427_617_987_059_879))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::P90, Some(7.6))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::P95, Some(8.3))]
    #[case::textbook(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], Stat::P999, Some(8.986))]
    #[case::odd(&[3.0, 1.0, 2.0], Stat::Median, Some(2.0))]
    #[case::odd(&[3.0, 1.0, 2.0], Stat::Stddev, Some(1.0))]
    #[case::one(&[5.0], Stat::Mean, Some(5.0))]
    #[case::one(&[5.0], Stat::Median, Some(5.0))]
    #[case::one(&[5.0], Stat::P999, Some(5.0))]
    #[case::one(&[5.0], Stat::Stddev, None)]
    #[case::one(&[5.0], Stat::Cov, None)]
    #[case::zero_mean(&[-1.0, 1.0], Stat::Stddev, Some(std::f64::consts::SQRT_2))]
    #[case::zero_mean(&[-1.0, 1.0], Stat::Cov, None)]
    #[case::no_spread(&[7.0, 7.0, 7.0], Stat::Stddev, Some(0.0))]
    #[case::no_spread(&[7.0, 7.0, 7.0], Stat::Cov, Some(0.0))]
    #[case::no_spread(&[7.0, 7.0, 7.0], Stat::P99, Some(7.0))]
    fn statistics(#[case] values: &[f64], #[case] stat: Stat, #[case] expected: Option<f64>) {
        let actual = Summary::of(values).unwrap().get(stat);
        assert!(close(actual, expected), "{stat:?}: {actual:?}");
    }

    #[rstest]
    #[case::empty(&[], SampleError::Empty, "no values")]
    #[case::nan(&[1.0, f64::NAN], SampleError::NotFinite { index: 1, value: f64::NAN }, "value 2 of the sample is NaN, not a finite number")]
    #[case::infinite(&[f64::INFINITY], SampleError::NotFinite { index: 0, value: f64::INFINITY }, "value 1 of the sample is inf, not a finite number")]
    fn rejects(#[case] values: &[f64], #[case] error: SampleError, #[case] message: &str) {
        let actual = Summary::of(values).unwrap_err();
        assert_eq!(actual.to_string(), message);
        // NaN is not equal to itself, so compare the variant and position.
        match (actual, error) {
            (SampleError::NotFinite { index: a, .. }, SampleError::NotFinite { index: b, .. }) => {
                assert_eq!(a, b)
            }
            (a, b) => assert_eq!(a, b),
        }
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let a = Summary::of(&[3.0, 1.0, 2.0, 5.0]).unwrap();
        let b = Summary::of(&[5.0, 2.0, 1.0, 3.0]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sorted(), &[1.0, 2.0, 3.0, 5.0]);
        assert_eq!(a.count(), 4);
    }

    #[rstest]
    #[case(&[1.0, 2.0], 0.0, 1.0)]
    #[case(&[1.0, 2.0], 1.0, 2.0)]
    #[case(&[1.0, f64::INFINITY], 0.0, 1.0)]
    #[case(&[1.0, f64::INFINITY], 0.5, f64::INFINITY)]
    #[case(&[f64::INFINITY, f64::INFINITY], 0.5, f64::INFINITY)]
    fn quantiles_at_the_edges(#[case] sorted: &[f64], #[case] q: f64, #[case] expected: f64) {
        assert_eq!(quantile(sorted, q), expected);
    }

    #[test]
    fn figures_are_named_for_the_metric_in_its_units() {
        let ttft = find_metric("ttft").unwrap();
        let figures = Summary::of(&[0.1, 0.2, 0.3, 0.4]).unwrap().figures(ttft);
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ttft.count",
                "ttft.mean",
                "ttft.median",
                "ttft.min",
                "ttft.max",
                "ttft.stddev",
                "ttft.cov",
                "ttft.p50",
                "ttft.p90",
                "ttft.p95",
                "ttft.p99",
                "ttft.p99.9"
            ]
        );
        assert_eq!((figures[0].value, figures[0].unit), (4.0, Unit::Count));
        let cov = &figures[6];
        assert_eq!(cov.unit, Unit::Ratio);
        assert!(close(Some(cov.value), Some(0.516_397_779_494_322_3)));
        assert_eq!(figures[8].display_value(), "370ms");
        assert!(
            figures[1..]
                .iter()
                .all(|f| f.name == "ttft.cov" || f.unit == Unit::Duration)
        );
    }

    #[test]
    fn a_single_value_has_no_spread_figures() {
        let rate = find_metric("tokens_per_s").unwrap();
        let figures = Summary::of(&[42.0]).unwrap().figures(rate);
        assert_eq!(figures.len(), STATS.len() - 2);
        assert_eq!((figures[0].value, figures[0].unit), (1.0, Unit::Count));
        assert!(
            figures[1..]
                .iter()
                .all(|f| f.value == 42.0 && f.unit == Unit::Rate)
        );
    }
}
