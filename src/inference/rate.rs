//! The one division every rate in the inference figures comes down to, kept on
//! its own so that the chunk reader and the metrics can both use it without
//! depending on each other.

/// `count / seconds`, or `None` when no time passed to divide by.
pub(crate) fn per_second(count: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| count as f64 / seconds)
}
