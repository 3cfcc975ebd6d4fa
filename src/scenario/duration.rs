//! Human durations (`"500ms"`, `"10s"`, `"1.5m"`) as they appear in scenario files.
//!
//! A duration always carries a unit: a bare `"10"` is rejected, because "10 what?" is the
//! typo that turns a ten-second timeout into a ten-millisecond one.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A limit read from a scenario file (a timeout, a latency bound); deserializes from a
/// string, and must be more than zero and at most [`MAX_SETTING`]: a zero timeout fails
/// every run, and an absurd one (`"10000000000000000000s"`) overflows the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// Units accepted after the number; the whole suffix must match one exactly.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses `<number><unit>` with units ns, us, ms, s, m, h; no space between them.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with(['<', '>', '=']) {
        return Err(format!(
            "invalid duration \"{text}\": this setting takes a plain duration such as \"500ms\", without a comparison"
        ));
    }
    let (number, unit) = super::split_quantity(text);
    let hint = "expected a number and a unit such as \"500ms\", \"10s\", \"2m\" (units: ns, us, ms, s, m, h)";
    if number.is_empty() {
        return Err(format!("invalid duration \"{text}\": {hint}"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration \"{text}\": {hint}"))?;
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(|| {
            if unit.is_empty() {
                format!("duration \"{text}\" has no unit: {hint}")
            } else {
                format!("invalid duration \"{text}\": unknown unit \"{unit}\"; {hint}")
            }
        })?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("duration \"{text}\" is out of range"))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::format_duration(self.0))
    }
}

/// The longest limit a setting may have: a week covers any soak run.
pub const MAX_SETTING: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a limit: a duration more than zero and at most [`MAX_SETTING`].
pub fn parse_limit(text: &str) -> Result<Duration, String> {
    let duration = parse_wait(text)?;
    if duration.is_zero() {
        return Err(format!(
            "duration \"{}\" is zero: this setting needs more than 0s",
            text.trim()
        ));
    }
    Ok(duration)
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_limit(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// A time spent waiting or unmeasured (a think time, a warmup), read from a scenario file:
/// unlike a limit it may be zero (no wait at all), and like one it is at most
/// [`MAX_SETTING`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wait(pub Duration);

impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_wait(&text)
            .map(Wait)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a wait: a duration of at most [`MAX_SETTING`], zero included.
fn parse_wait(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration > MAX_SETTING {
        return Err(format!(
            "duration \"{}\" is longer than a setting may be (at most 168h, a week)",
            text.trim()
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("500ms", Duration::from_millis(500))]
    #[case("10s", Duration::from_secs(10))]
    #[case("1.5s", Duration::from_millis(1500))]
    #[case("2m", Duration::from_secs(120))]
    #[case("1h", Duration::from_secs(3600))]
    #[case("250us", Duration::from_micros(250))]
    #[case("250µs", Duration::from_micros(250))]
    #[case("7ns", Duration::from_nanos(7))]
    #[case(" 3s ", Duration::from_secs(3))]
    fn parses(#[case] text: &str, #[case] expected: Duration) {
        assert_eq!(parse_duration(text).unwrap(), expected);
    }

    #[rstest]
    #[case("10 sec", "unknown unit \" sec\"")]
    #[case("10", "has no unit")]
    #[case("s", "invalid duration")]
    #[case("", "invalid duration")]
    #[case("1.2.3s", "invalid duration")]
    #[case("10days", "unknown unit \"days\"")]
    #[case("99999999999999999999h", "out of range")]
    #[case("< 500ms", "without a comparison")]
    fn rejects(#[case] text: &str, #[case] message: &str) {
        let err = parse_duration(text).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[rstest]
    #[case("0s", Some("is zero"))]
    #[case("0ms", Some("is zero"))]
    #[case("1ns", None)]
    #[case("168h", None)]
    #[case("169h", Some("longer than a setting may be"))]
    #[case("10000000000000000000s", Some("longer than a setting may be"))]
    fn limits_are_bounded(#[case] text: &str, #[case] message: Option<&str>) {
        match (parse_limit(text), message) {
            (Ok(_), None) => {}
            (Err(err), Some(message)) => assert!(err.contains(message), "{err}"),
            (result, _) => panic!("{text}: {result:?}"),
        }
    }

    #[rstest]
    #[case("0s", Ok(Duration::ZERO))]
    #[case("250ms", Ok(Duration::from_millis(250)))]
    #[case("169h", Err("longer than a setting may be"))]
    #[case("5", Err("has no unit"))]
    fn waits_may_be_zero(#[case] text: &str, #[case] expected: Result<Duration, &str>) {
        match (parse_wait(text), expected) {
            (Ok(wait), Ok(expected)) => assert_eq!(wait, expected),
            (Err(err), Err(message)) => assert!(err.contains(message), "{err}"),
            (result, _) => panic!("{text}: {result:?}"),
        }
    }
}
