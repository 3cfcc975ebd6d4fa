//! The one division every rate in the inference figures comes down to, kept on
//! its own so that the chunk reader and the metrics can both use it without
//! depending on each other.

/// `count / seconds`, or `None` when no time passed to divide by, or when a server's
/// duration is so small (a subnormal `1e-320`) that the rate is no number.
pub(crate) fn per_second(count: u64, seconds: f64) -> Option<f64> {
    Some(count as f64 / seconds).filter(|rate| seconds > 0.0 && rate.is_finite())
}

#[cfg(test)]
mod tests {
    use super::per_second;
    use rstest::rstest;

    #[rstest]
    #[case(10, 2.0, Some(5.0))]
    #[case(10, 0.0, None)]
    #[case(10, -1.0, None)]
    #[case(10, 1e-320, None)]
    #[case(10, f64::NAN, None)]
    fn rates(#[case] count: u64, #[case] seconds: f64, #[case] expected: Option<f64>) {
        assert_eq!(per_second(count, seconds), expected);
    }
}
