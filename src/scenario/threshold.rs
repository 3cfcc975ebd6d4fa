//! Thresholds such as `"< 2s"`, `">= 7000/s"`, `"< 1%"`, `"> 100"`.
//!
//! The unit is part of the threshold so that judging can refuse a comparison that makes no
//! sense (a duration against a token count) instead of silently passing it.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::duration::{format_seconds, parse_duration};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// What the number of a threshold measures; values are kept in base units
/// (seconds, a fraction for percentages, events per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Ratio,
    PerSecond,
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub op: Op,
    pub value: f64,
    pub unit: Unit,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
        }
    }
}

const HINT: &str = "expected a comparison and a value such as \"< 2s\", \"<= 500ms\", \"> 100\", \">= 7000/s\" or \"< 1%\"";

/// Parses `<op> <value>`; the operator is required so that "100" never means "at least"
/// to one reader and "at most" to another.
pub fn parse_threshold(text: &str) -> Result<Threshold, String> {
    let trimmed = text.trim();
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(symbol, op)| trimmed.strip_prefix(symbol).map(|rest| (*op, rest.trim())))
    .ok_or_else(|| format!("invalid threshold \"{text}\": missing comparison; {HINT}"))?;
    let invalid = || format!("invalid threshold \"{text}\": {HINT}");
    let (value, unit) = if let Some(number) = rest.strip_suffix('%') {
        (
            number.trim().parse::<f64>().map_err(|_| invalid())? / 100.0,
            Unit::Ratio,
        )
    } else if let Some(number) = rest.strip_suffix("/s") {
        (
            number.trim().parse::<f64>().map_err(|_| invalid())?,
            Unit::PerSecond,
        )
    } else if let Ok(number) = rest.parse::<f64>() {
        (number, Unit::Plain)
    } else {
        let seconds = parse_duration(rest)
            .map_err(|e| format!("invalid threshold \"{text}\": {e}"))?
            .as_secs_f64();
        (seconds, Unit::Seconds)
    };
    if !value.is_finite() {
        return Err(invalid());
    }
    Ok(Threshold { op, value, unit })
}

impl Threshold {
    pub fn holds(&self, observed: f64) -> bool {
        self.op.holds(observed, self.value)
    }

    /// Formats an observed value in this threshold's unit, for "observed vs expected" messages.
    pub fn format_value(&self, value: f64) -> String {
        format_value(value, self.unit)
    }
}

/// Formats a value in a unit: seconds as a duration, ratios as a percentage.
pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => format_seconds(value),
        Unit::Ratio => format!("{}%", round3(value * 100.0)),
        Unit::PerSecond => format!("{}/s", round3(value)),
        Unit::Plain => round3(value).to_string(),
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), self.format_value(self.value))
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_threshold(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("< 2s", Op::Lt, 2.0, Unit::Seconds)]
    #[case("<= 500ms", Op::Le, 0.5, Unit::Seconds)]
    #[case("> 100", Op::Gt, 100.0, Unit::Plain)]
    #[case(">=7000/s", Op::Ge, 7000.0, Unit::PerSecond)]
    #[case("< 1%", Op::Lt, 0.01, Unit::Ratio)]
    #[case("< 20 %", Op::Lt, 0.2, Unit::Ratio)]
    #[case("== 0", Op::Eq, 0.0, Unit::Plain)]
    #[case("  >= 1.5  ", Op::Ge, 1.5, Unit::Plain)]
    fn parses(#[case] text: &str, #[case] op: Op, #[case] value: f64, #[case] unit: Unit) {
        let t = parse_threshold(text).unwrap();
        assert_eq!((t.op, t.unit), (op, unit));
        assert!((t.value - value).abs() < 1e-12, "{} != {}", t.value, value);
    }

    #[rstest]
    #[case("2s", "missing comparison")]
    #[case("< fast", "invalid threshold")]
    #[case("< 10 sec", "unknown unit")]
    #[case("<", "invalid")]
    #[case("=> 3", "missing comparison")]
    #[case("< x%", "invalid threshold")]
    fn rejects(#[case] text: &str, #[case] message: &str) {
        let err = parse_threshold(text).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[rstest]
    #[case("< 2s", 1.999, true)]
    #[case("< 2s", 2.0, false)]
    #[case("<= 2s", 2.0, true)]
    #[case("> 100", 100.0, false)]
    #[case(">= 100", 100.0, true)]
    #[case("== 0", 0.0, true)]
    #[case("< 1%", 0.011, false)]
    fn judges(#[case] text: &str, #[case] observed: f64, #[case] holds: bool) {
        assert_eq!(parse_threshold(text).unwrap().holds(observed), holds);
    }

    #[rstest]
    #[case("< 2s", "< 2s")]
    #[case("<= 500ms", "<= 500ms")]
    #[case("< 1%", "< 1%")]
    #[case(">= 7000/s", ">= 7000/s")]
    fn displays(#[case] text: &str, #[case] shown: &str) {
        assert_eq!(parse_threshold(text).unwrap().to_string(), shown);
    }
}
