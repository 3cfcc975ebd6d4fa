//! The metrics thresholds may name, and the unit each is measured in, so that a threshold
//! of the wrong kind ("ttft < 100", a token count for a time) is a load error.

use super::threshold::{Threshold, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    Seconds,
    Count,
    Rate,
}

/// Every per-request inference metric, with the names scenario files use.
pub const INFERENCE_METRICS: &[(&str, MetricUnit)] = &[
    ("ttfb", MetricUnit::Seconds),
    ("ttft", MetricUnit::Seconds),
    ("latency", MetricUnit::Seconds),
    ("itl.mean", MetricUnit::Seconds),
    ("itl.max", MetricUnit::Seconds),
    ("tpot", MetricUnit::Seconds),
    ("output_tokens", MetricUnit::Count),
    ("content_chunks", MetricUnit::Count),
    ("tokens_per_s", MetricUnit::Rate),
    ("e2e_tokens_per_s", MetricUnit::Rate),
    ("server_tokens_per_s", MetricUnit::Rate),
    ("prompt_tokens", MetricUnit::Count),
    ("prompt_tokens_per_s", MetricUnit::Rate),
    ("load_duration", MetricUnit::Seconds),
];

/// The unit a per-request metric is measured in; `None` for a name that is no metric.
pub fn unit_of(metric: &str) -> Option<MetricUnit> {
    INFERENCE_METRICS
        .iter()
        .find(|(name, _)| *name == metric)
        .map(|(_, unit)| *unit)
}

/// Metrics that exist only when chunks are streamed: without a stream the first token
/// arrives with the last, so there are no gaps and no decode time to divide by.
pub const STREAM_ONLY: &[&str] = &["itl.mean", "itl.max", "tpot", "tokens_per_s"];

/// `Ok` when the threshold's unit fits the metric; else what to write instead.
pub fn check_unit(metric: &str, unit: MetricUnit, threshold: &Threshold) -> Result<(), String> {
    let fits = match unit {
        MetricUnit::Seconds => threshold.unit == Unit::Seconds,
        MetricUnit::Count => threshold.unit == Unit::Plain,
        MetricUnit::Rate => matches!(threshold.unit, Unit::Plain | Unit::PerSecond),
    };
    if fits {
        return Ok(());
    }
    let example = match unit {
        MetricUnit::Seconds => "a duration such as \"< 2s\" or \"< 150ms\"",
        MetricUnit::Count => "a plain number such as \">= 16\"",
        MetricUnit::Rate => "a rate such as \"> 100\" or \"> 100/s\"",
    };
    Err(format!(
        "threshold \"{threshold}\" does not fit {metric}: it takes {example}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::threshold::parse_threshold;
    use rstest::rstest;

    #[rstest]
    #[case("ttft", MetricUnit::Seconds, "< 2s", true)]
    #[case("ttft", MetricUnit::Seconds, "< 2", false)]
    #[case("output_tokens", MetricUnit::Count, ">= 16", true)]
    #[case("output_tokens", MetricUnit::Count, ">= 16ms", false)]
    #[case("tokens_per_s", MetricUnit::Rate, "> 100", true)]
    #[case("tokens_per_s", MetricUnit::Rate, "> 100/s", true)]
    #[case("tokens_per_s", MetricUnit::Rate, "> 10%", false)]
    fn units(
        #[case] metric: &str,
        #[case] unit: MetricUnit,
        #[case] text: &str,
        #[case] fits: bool,
    ) {
        let threshold = parse_threshold(text).unwrap();
        assert_eq!(check_unit(metric, unit, &threshold).is_ok(), fits);
    }
}
