//! The metric registry: every figure perfcase measures, with its unit and which way is
//! better. Threshold validation and every reporter read this one table (figures carry
//! their unit from here into records), so a new metric is one line here; the direction is
//! what a comparison with a stored baseline will read.
//!
//! A figure is named `<metric>` or `<metric>.<stat>`: `ttft`, `itl.max`, `tokens_per_s.p95`.
//! Within one inference request `itl.mean` and `itl.max` summarise the gaps of its stream;
//! kinds that repeat a request address the same statistics across repetitions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{closest, format_seconds};

/// What a figure's number means; values are kept in base units (seconds, a fraction for
/// ratios, events per second, bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Duration,
    Count,
    Rate,
    Ratio,
    Bytes,
}

/// Which way a figure improves; what a regression gate compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
    /// A count the request itself decides (tokens asked for, a status code): neither way is
    /// better, so it is reported but never called a regression.
    Neither,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub direction: Direction,
}

const fn metric(name: &'static str, unit: Unit, direction: Direction) -> Metric {
    Metric {
        name,
        unit,
        direction,
    }
}

use Direction::{HigherIsBetter, LowerIsBetter, Neither};

/// Every metric, under the names scenario files and reports use (the README defines each).
pub const METRICS: &[Metric] = &[
    metric("ttfb", Unit::Duration, LowerIsBetter),
    metric("ttft", Unit::Duration, LowerIsBetter),
    metric("latency", Unit::Duration, LowerIsBetter),
    metric("itl", Unit::Duration, LowerIsBetter),
    metric("tpot", Unit::Duration, LowerIsBetter),
    metric("output_tokens", Unit::Count, Neither),
    metric("content_chunks", Unit::Count, Neither),
    metric("tokens_per_s", Unit::Rate, HigherIsBetter),
    metric("e2e_tokens_per_s", Unit::Rate, HigherIsBetter),
    metric("server_tokens_per_s", Unit::Rate, HigherIsBetter),
    metric("prompt_tokens", Unit::Count, Neither),
    metric("prompt_tokens_per_s", Unit::Rate, HigherIsBetter),
    metric("load_duration", Unit::Duration, LowerIsBetter),
    metric("dimensions", Unit::Count, Neither),
    metric("inputs_per_s", Unit::Rate, HigherIsBetter),
    metric("http_status", Unit::Count, Neither),
    metric("bytes", Unit::Bytes, Neither),
    metric("error_rate", Unit::Ratio, LowerIsBetter),
    // Figures of a whole run under load (`[[sla]]`), not of one request.
    metric("throughput", Unit::Rate, HigherIsBetter),
    metric("output_tokens_per_s", Unit::Rate, HigherIsBetter),
    metric("goodput", Unit::Ratio, HigherIsBetter),
    metric("late", Unit::Count, LowerIsBetter),
    metric("dropped", Unit::Count, LowerIsBetter),
];

/// Statistics over repeated measurements (or, for `itl`, over the gaps of one stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// How many values the sample holds.
    Count,
    Mean,
    Median,
    Min,
    Max,
    Stddev,
    /// Coefficient of variation, stddev / mean: a ratio whatever the metric's unit.
    Cov,
    P50,
    P90,
    P95,
    P99,
    P999,
}

pub const STATS: &[(&str, Stat)] = &[
    ("count", Stat::Count),
    ("mean", Stat::Mean),
    ("median", Stat::Median),
    ("min", Stat::Min),
    ("max", Stat::Max),
    ("stddev", Stat::Stddev),
    ("cov", Stat::Cov),
    ("p50", Stat::P50),
    ("p90", Stat::P90),
    ("p95", Stat::P95),
    ("p99", Stat::P99),
    ("p99.9", Stat::P999),
];

impl Stat {
    pub fn name(self) -> &'static str {
        STATS
            .iter()
            .find(|(_, stat)| *stat == self)
            .map(|(name, _)| *name)
            .unwrap_or("?")
    }
}

/// A figure name resolved against the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FigureRef {
    pub metric: &'static Metric,
    pub stat: Option<Stat>,
}

impl FigureRef {
    /// The unit of the figure: the metric's, except a coefficient of variation (a ratio).
    pub fn unit(self) -> Unit {
        match self.stat {
            Some(Stat::Cov) => Unit::Ratio,
            Some(Stat::Count) => Unit::Count,
            _ => self.metric.unit,
        }
    }

    /// A spread has no better direction of its own except smaller.
    pub fn direction(self) -> Direction {
        match self.stat {
            Some(Stat::Stddev | Stat::Cov) => LowerIsBetter,
            Some(Stat::Count) => Neither,
            _ => self.metric.direction,
        }
    }
}

impl fmt::Display for FigureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stat {
            Some(stat) => write!(f, "{}.{}", self.metric.name, stat.name()),
            None => f.write_str(self.metric.name),
        }
    }
}

/// Why a figure name does not resolve, with the nearest known name when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    #[error("unknown metric \"{name}\"{}", suggest(.closest))]
    UnknownMetric {
        name: String,
        closest: Option<&'static str>,
    },
    #[error("unknown statistic \"{stat}\" of {metric}{}; statistics: {}", suggest(.closest), stat_names())]
    UnknownStat {
        metric: &'static str,
        stat: String,
        closest: Option<&'static str>,
    },
}

fn suggest(closest: &Option<&'static str>) -> String {
    closest.map_or_else(String::new, |c| format!("; did you mean \"{c}\"?"))
}

fn stat_names() -> String {
    STATS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn find_metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// Resolves `ttft`, `itl.max` or `tokens_per_s.p99.9` (the statistic follows the first dot).
pub fn resolve(name: &str) -> Result<FigureRef, FigureError> {
    if let Some(metric) = find_metric(name) {
        return Ok(FigureRef { metric, stat: None });
    }
    let (metric_name, stat_name) = name.split_once('.').unwrap_or((name, ""));
    let Some(metric) = find_metric(metric_name) else {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        return Err(FigureError::UnknownMetric {
            name: name.to_string(),
            closest: closest(metric_name, &names),
        });
    };
    match STATS.iter().find(|(n, _)| *n == stat_name) {
        Some((_, stat)) => Ok(FigureRef {
            metric,
            stat: Some(*stat),
        }),
        None => {
            let names: Vec<&str> = STATS.iter().map(|(n, _)| *n).collect();
            Err(FigureError::UnknownStat {
                metric: metric.name,
                stat: stat_name.to_string(),
                closest: closest(stat_name, &names),
            })
        }
    }
}

/// The unit of a figure name; `None` for a name the registry does not know. A figure of
/// one request of a load's mix (`latency.p99{search}`) or of one of its stages
/// (`latency.p99@2`, `latency.p99{search}@2`) has its metric's unit.
pub fn unit_of(name: &str) -> Option<Unit> {
    resolve(unscoped(name)).ok().map(FigureRef::unit)
}

/// A figure name without its `@N` stage and `{name}` request: `latency.p99{a}@2` is
/// `latency.p99`.
fn unscoped(name: &str) -> &str {
    let name = match name.rsplit_once('@') {
        Some((figure, stage)) if !stage.is_empty() && stage.bytes().all(|b| b.is_ascii_digit()) => {
            figure
        }
        _ => name,
    };
    match name.strip_suffix('}').and_then(|n| n.split_once('{')) {
        Some((figure, _)) => figure,
        None => name,
    }
}

/// A value as people read it in its unit: `12.3ms`, `3.1%`, `131.256`, `2048`.
pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Duration => format_seconds(value),
        Unit::Ratio => format!("{}%", round3(value * 100.0)),
        Unit::Count | Unit::Bytes | Unit::Rate if value.fract() == 0.0 && value.abs() < 1e15 => {
            format!("{value:.0}")
        }
        Unit::Count | Unit::Bytes | Unit::Rate => format!("{}", round3(value)),
    }
}

/// A ratio of a measured to a stored value as a signed change: `-15.1%` for 0.849. The
/// baseline gate's messages and the performance report write changes alike.
pub fn format_change(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// One measured value with its unit, as records carry it to the reporters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
}

impl Figure {
    /// A figure of a registered metric. Every producer names registered metrics (a unit
    /// test holds each kind to that); an unknown name is reported as a plain count rather
    /// than aborting a run.
    pub fn new(name: impl Into<String>, value: f64) -> Figure {
        let name = name.into();
        let unit = unit_of(&name);
        debug_assert!(
            unit.is_some(),
            "figure {name} is not in the metric registry"
        );
        Figure {
            unit: unit.unwrap_or(Unit::Count),
            name,
            value,
        }
    }

    /// The value in its unit, for messages and the summary.
    pub fn display_value(&self) -> String {
        format_value(self.value, self.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ttft", "ttft", None, Unit::Duration)]
    #[case("itl.max", "itl", Some(Stat::Max), Unit::Duration)]
    #[case("tokens_per_s.p95", "tokens_per_s", Some(Stat::P95), Unit::Rate)]
    #[case("ttft.p99.9", "ttft", Some(Stat::P999), Unit::Duration)]
    #[case("tokens_per_s.cov", "tokens_per_s", Some(Stat::Cov), Unit::Ratio)]
    #[case("error_rate", "error_rate", None, Unit::Ratio)]
    #[case("bytes", "bytes", None, Unit::Bytes)]
    #[case("throughput", "throughput", None, Unit::Rate)]
    #[case("goodput", "goodput", None, Unit::Ratio)]
    #[case("dropped", "dropped", None, Unit::Count)]
    fn resolves(
        #[case] name: &str,
        #[case] metric: &str,
        #[case] stat: Option<Stat>,
        #[case] unit: Unit,
    ) {
        let figure = resolve(name).unwrap();
        assert_eq!(figure.metric.name, metric);
        assert_eq!(figure.stat, stat);
        assert_eq!(figure.unit(), unit);
        assert_eq!(figure.to_string(), name);
    }

    #[rstest]
    #[case("latency.p99{search}", Some(Unit::Duration))]
    #[case("latency.p99@2", Some(Unit::Duration))]
    #[case("latency.p99{a.b}@12", Some(Unit::Duration))]
    #[case("throughput@1", Some(Unit::Rate))]
    #[case("error_rate{search}", Some(Unit::Ratio))]
    #[case("goodput{chat}@3", Some(Unit::Ratio))]
    #[case("latency.p99@", None)]
    #[case("latency.p99@x", None)]
    #[case("latency.p99{search", None)]
    #[case("nope{search}", None)]
    fn a_request_or_stage_keeps_the_unit(#[case] name: &str, #[case] unit: Option<Unit>) {
        assert_eq!(unit_of(name), unit);
        if let Some(unit) = unit {
            assert_eq!(Figure::new(name, 0.5).unit, unit);
        }
    }

    #[rstest]
    #[case("tfft", "unknown metric \"tfft\"; did you mean \"ttft\"?")]
    #[case(
        "ttft.p95x",
        "unknown statistic \"p95x\" of ttft; did you mean \"p95\"?"
    )]
    #[case("ttft.", "unknown statistic \"\" of ttft")]
    #[case("zzzzzz.mean", "unknown metric \"zzzzzz.mean\"")]
    fn rejects(#[case] name: &str, #[case] message: &str) {
        let error = resolve(name).unwrap_err().to_string();
        assert!(error.starts_with(message), "{error}");
    }

    #[rstest]
    #[case("ttft", None, LowerIsBetter)]
    #[case("tokens_per_s", None, HigherIsBetter)]
    #[case("tokens_per_s", Some(Stat::Cov), LowerIsBetter)]
    #[case("output_tokens", None, Neither)]
    #[case("goodput", None, HigherIsBetter)]
    #[case("late", None, LowerIsBetter)]
    fn directions(#[case] name: &str, #[case] stat: Option<Stat>, #[case] direction: Direction) {
        let metric = find_metric(name).unwrap();
        assert_eq!(FigureRef { metric, stat }.direction(), direction);
    }

    #[rstest]
    #[case(0.0123, Unit::Duration, "12.3ms")]
    #[case(0.031, Unit::Ratio, "3.1%")]
    #[case(131.256_4, Unit::Rate, "131.256")]
    #[case(200.0, Unit::Count, "200")]
    #[case(2048.0, Unit::Bytes, "2048")]
    fn formats(#[case] value: f64, #[case] unit: Unit, #[case] expected: &str) {
        assert_eq!(format_value(value, unit), expected);
    }

    #[rstest]
    #[case(0.849, "-15.1%")]
    #[case(1.2, "+20.0%")]
    #[case(1.0, "+0.0%")]
    fn formats_changes(#[case] ratio: f64, #[case] expected: &str) {
        assert_eq!(format_change(ratio), expected);
    }

    #[test]
    fn names_are_unique_and_free_of_dots() {
        for (i, metric) in METRICS.iter().enumerate() {
            assert!(!metric.name.contains('.'), "{}", metric.name);
            assert!(
                METRICS[i + 1..].iter().all(|m| m.name != metric.name),
                "{} twice",
                metric.name
            );
        }
    }
}
