//! Figures as people read them: durations in ms or s, rates with their unit.

use crate::scenario::duration::format_seconds;
use crate::scenario::metric::{MetricUnit, unit_of};

/// Figure names whose values are seconds (kept as `f64` seconds everywhere): the metrics
/// measured in seconds, and a case's own duration.
pub fn is_seconds(name: &str) -> bool {
    name == "duration" || unit_of(name) == Some(MetricUnit::Seconds)
}

pub fn format_figure(name: &str, value: f64) -> String {
    if is_seconds(name) {
        format_seconds(value)
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// One `name = value` line per figure, for JUnit system-out and the summary.
pub fn format_figures(figures: &[(String, f64)]) -> String {
    figures
        .iter()
        .map(|(name, value)| format!("{name} = {}", format_figure(name, *value)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("latency", 0.0123, "12.3ms")]
    #[case("itl.max", 0.002, "2ms")]
    #[case("status", 200.0, "200")]
    #[case("tokens_per_s", 131.256, "131.256")]
    fn formats(#[case] name: &str, #[case] value: f64, #[case] expected: &str) {
        assert_eq!(format_figure(name, value), expected);
    }
}
