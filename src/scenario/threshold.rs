//! Thresholds such as `"< 2s"`, `">= 7000/s"`, `"< 1%"`, `"> 100"`.
//!
//! The unit is part of the threshold so that judging can refuse a comparison that makes no
//! sense (a duration against a token count) instead of silently passing it.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::duration::parse_duration;
use crate::metric::{Unit, format_value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// How the number of a threshold was written; values are kept in base units (seconds, a
/// fraction for percentages, events per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    Duration,
    Percent,
    PerSecond,
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub op: Op,
    pub value: f64,
    pub notation: Notation,
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
    let (value, notation) = if let Some(number) = rest.strip_suffix('%') {
        (
            number.trim().parse::<f64>().map_err(|_| invalid())? / 100.0,
            Notation::Percent,
        )
    } else if let Some(number) = rest.strip_suffix("/s") {
        (
            number.trim().parse::<f64>().map_err(|_| invalid())?,
            Notation::PerSecond,
        )
    } else if let Ok(number) = rest.parse::<f64>() {
        (number, Notation::Plain)
    } else {
        let seconds = parse_duration(rest)
            .map_err(|e| format!("invalid threshold \"{text}\": {e}"))?
            .as_secs_f64();
        (seconds, Notation::Duration)
    };
    if !value.is_finite() {
        return Err(invalid());
    }
    Ok(Threshold {
        op,
        value,
        notation,
    })
}

impl Threshold {
    pub fn holds(&self, observed: f64) -> bool {
        self.op.holds(observed, self.value)
    }

    /// Formats an observed value the way the threshold is written, for "observed vs
    /// expected" messages.
    pub fn format_value(&self, value: f64) -> String {
        match self.notation {
            Notation::Duration => format_value(value, Unit::Duration),
            Notation::Percent => format_value(value, Unit::Ratio),
            Notation::PerSecond => format!("{}/s", format_value(value, Unit::Rate)),
            Notation::Plain => format_value(value, Unit::Count),
        }
    }

    /// `Ok` when the way the threshold is written fits the figure's unit; else what to
    /// write instead. A plain number for a ratio is refused: "< 1" could mean 1% or 100%.
    pub fn check_fits(&self, figure: &str, unit: Unit) -> Result<(), String> {
        let fits = match unit {
            Unit::Duration => self.notation == Notation::Duration,
            Unit::Count | Unit::Bytes => self.notation == Notation::Plain,
            Unit::Rate => matches!(self.notation, Notation::Plain | Notation::PerSecond),
            Unit::Ratio => self.notation == Notation::Percent,
        };
        if fits {
            return Ok(());
        }
        let example = match unit {
            Unit::Duration => "a duration such as \"< 2s\" or \"< 150ms\"",
            Unit::Count => "a plain number such as \">= 16\"",
            Unit::Bytes => "a number of bytes such as \"< 1048576\"",
            Unit::Rate => "a rate such as \"> 100\" or \"> 100/s\"",
            Unit::Ratio => "a percentage such as \"< 1%\"",
        };
        Err(format!(
            "threshold \"{self}\" does not fit {figure}: it takes {example}"
        ))
    }
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
    #[case("< 2s", Op::Lt, 2.0, Notation::Duration)]
    #[case("<= 500ms", Op::Le, 0.5, Notation::Duration)]
    #[case("> 100", Op::Gt, 100.0, Notation::Plain)]
    #[case(">=7000/s", Op::Ge, 7000.0, Notation::PerSecond)]
    #[case("< 1%", Op::Lt, 0.01, Notation::Percent)]
    #[case("< 20 %", Op::Lt, 0.2, Notation::Percent)]
    #[case("== 0", Op::Eq, 0.0, Notation::Plain)]
    #[case("  >= 1.5  ", Op::Ge, 1.5, Notation::Plain)]
    fn parses(#[case] text: &str, #[case] op: Op, #[case] value: f64, #[case] notation: Notation) {
        let t = parse_threshold(text).unwrap();
        assert_eq!((t.op, t.notation), (op, notation));
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
    #[case("< 2s", Unit::Duration, true)]
    #[case("< 2", Unit::Duration, false)]
    #[case(">= 16", Unit::Count, true)]
    #[case(">= 16ms", Unit::Count, false)]
    #[case("> 100", Unit::Rate, true)]
    #[case("> 100/s", Unit::Rate, true)]
    #[case("> 10%", Unit::Rate, false)]
    #[case("< 1%", Unit::Ratio, true)]
    #[case("< 0.01", Unit::Ratio, false)]
    #[case("< 2048", Unit::Bytes, true)]
    fn fits(#[case] text: &str, #[case] unit: Unit, #[case] expected: bool) {
        let threshold = parse_threshold(text).unwrap();
        assert_eq!(threshold.check_fits("x", unit).is_ok(), expected);
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
