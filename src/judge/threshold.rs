//! A metric threshold against an observed value. A threshold on a metric the response did
//! not produce is a violation, never a silent pass.

use super::{Cause, Violation};
use crate::scenario::Threshold;

pub fn judge_threshold(
    metric: &str,
    threshold: &Threshold,
    observed: Option<f64>,
) -> Option<Violation> {
    match observed {
        Some(value) if threshold.holds(value) => None,
        Some(value) => Some(Violation::new(
            Cause::Threshold,
            metric,
            threshold.to_string(),
            observed_beside(threshold, value),
        )),
        None => Some(Violation::new(
            Cause::Threshold,
            metric,
            threshold.to_string(),
            "no value: this response does not produce it (see the metric definitions in the README)",
        )),
    }
}

/// The observed value as the threshold is written; when rounding would make it read the
/// same as the limit ("expected < 2s, observed 2s"), the exact value in base units follows.
fn observed_beside(threshold: &Threshold, value: f64) -> String {
    let shown = threshold.format_value(value);
    if shown == threshold.format_value(threshold.value) {
        format!("{shown} ({value} exactly)")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::threshold::parse_threshold;
    use rstest::rstest;

    #[rstest]
    #[case("ttft", "< 2s", Some(1.5), None)]
    #[case("ttft", "< 2s", Some(2.5), Some("ttft: expected < 2s, observed 2.5s"))]
    #[case(
        "ttft",
        "< 150ms",
        Some(0.2),
        Some("ttft: expected < 150ms, observed 200ms")
    )]
    #[case(
        "ttft",
        "< 2s",
        Some(2.0004),
        Some("ttft: expected < 2s, observed 2s (2.0004 exactly)")
    )]
    #[case(
        "tokens_per_s",
        "> 100",
        Some(90.5),
        Some("tokens_per_s: expected > 100, observed 90.5")
    )]
    #[case(
        "server_tokens_per_s",
        "> 1",
        None,
        Some(
            "server_tokens_per_s: expected > 1, observed no value: this response does not produce it (see the metric definitions in the README)"
        )
    )]
    fn judges(
        #[case] metric: &str,
        #[case] threshold: &str,
        #[case] observed: Option<f64>,
        #[case] message: Option<&str>,
    ) {
        let violation = judge_threshold(metric, &parse_threshold(threshold).unwrap(), observed);
        assert_eq!(violation.map(|v| v.to_string()).as_deref(), message);
    }
}
