//! Byte sizes (`"256MiB"`, `"16MiB"`, `"500KB"`) as they appear in scenario files.
//!
//! A size always carries a unit, as a duration does: a bare `"1024"` or `1024` is refused,
//! because "1024 what?" is the slip that turns a kibibyte limit into one of a few bytes, or
//! a megabyte one into a gigabyte. Both the decimal units (KB, MB, GB: powers of 1000) and
//! the binary ones (KiB, MiB, GiB: powers of 1024) are accepted, spelled exactly, since
//! `"Mb"` (megabits) or `"m"` could mean something else.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A size limit read from a scenario file (`max_body`, `max_line`): more than zero and at
/// most [`MAX_SIZE`]; a limit of zero refuses every answer, and a larger one than memory
/// can hold is no limit at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Units accepted after the number, largest first: [`Size`]'s display picks the first that
/// divides the size exactly. `kB` is the SI spelling of `KB`.
const UNITS: &[(&str, u64)] = &[
    ("GiB", GIB),
    ("GB", 1_000_000_000),
    ("MiB", MIB),
    ("MB", 1_000_000),
    ("KiB", KIB),
    ("KB", 1_000),
    ("kB", 1_000),
    ("B", 1),
];

/// The largest limit a setting may have. A body is held in memory whole to be judged, so a
/// limit beyond a few GiB would only move the failure from a clear message to the OOM
/// killer.
pub const MAX_SIZE: Size = Size(4 * GIB);

const HINT: &str = "expected a number and a unit such as \"256MiB\", \"16MiB\", \"500KB\" (units: B, KB, KiB, MB, MiB, GB, GiB)";

/// Parses `<number><unit>`, no space between them; a fraction is allowed (`"1.5MiB"`) and
/// rounded down to whole bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = super::split_quantity(text);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size \"{text}\": {HINT}"))?;
    if unit.is_empty() {
        return Err(format!(
            "size \"{text}\" has no unit: write \"{number}B\" for bytes, or {HINT}"
        ));
    }
    let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some((_, scale)) => *scale,
        None if UNITS.iter().any(|(name, _)| *name == unit.trim_start()) => {
            return Err(format!(
                "invalid size \"{text}\": write the unit right after the number (\"{number}{}\")",
                unit.trim_start()
            ));
        }
        None => {
            return Err(format!(
                "invalid size \"{text}\": unknown unit \"{unit}\"; {HINT}"
            ));
        }
    };
    let bytes = (value * scale as f64).floor();
    if bytes >= u64::MAX as f64 {
        return Err(format!("size \"{text}\" is out of range"));
    }
    Ok(bytes as u64)
}

/// Parses a limit: a size more than zero and at most [`MAX_SIZE`].
pub fn parse_size_limit(text: &str) -> Result<Size, String> {
    let bytes = parse_size(text)?;
    if bytes == 0 {
        return Err(format!(
            "size \"{}\" is zero: this setting needs at least 1B",
            text.trim()
        ));
    }
    if bytes > MAX_SIZE.0 {
        return Err(format!(
            "size \"{}\" is larger than a setting may be (at most {MAX_SIZE}: a body is held in memory to be judged)",
            text.trim()
        ));
    }
    Ok(Size(bytes))
}

impl Size {
    /// The size as a buffer length; every limit fits, being at most [`MAX_SIZE`].
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// The largest unit that divides the size exactly (`256MiB`, `1MB`, `1500B`), so a
/// message names the limit the way it was most likely written.
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, scale) = UNITS
            .iter()
            .find(|(_, scale)| self.0 % scale == 0 && self.0 >= *scale)
            .copied()
            .unwrap_or(("B", 1));
        write!(f, "{}{unit}", self.0 / scale)
    }
}

/// From a string; a TOML integer is refused with the same advice as a bare number in a
/// string, rather than serde's "invalid type".
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as \"256MiB\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Size, E> {
        parse_size_limit(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Size, E> {
        Err(E::custom(format!(
            "size {number} has no unit: write it as a string with a unit, \"{number}B\" for bytes, or {HINT}"
        )))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Size, E> {
        self.visit_i64(number as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("1B", 1)]
    #[case("500KB", 500_000)]
    #[case("500kB", 500_000)]
    #[case("64KiB", 65_536)]
    #[case("16MiB", 16 * 1024 * 1024)]
    #[case("2MB", 2_000_000)]
    #[case("1.5MiB", 1_572_864)]
    #[case("1GiB", 1 << 30)]
    #[case("3GB", 3_000_000_000)]
    #[case(" 8MiB ", 8 << 20)]
    #[case("0.5B", 0)]
    fn parses(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(parse_size(text).unwrap(), bytes);
    }

    #[rstest]
    #[case("1024", "has no unit: write \"1024B\" for bytes")]
    #[case("8 MiB", "write the unit right after the number (\"8MiB\")")]
    #[case("8mb", "unknown unit \"mb\"")]
    #[case("8Mb", "unknown unit \"Mb\"")]
    #[case("8M", "unknown unit \"M\"")]
    #[case("MiB", "invalid size \"MiB\"")]
    #[case("", "invalid size \"\"")]
    #[case("1.2.3MiB", "invalid size")]
    #[case("-1MiB", "invalid size")]
    #[case("99999999999999999999GiB", "out of range")]
    fn rejects(#[case] text: &str, #[case] message: &str) {
        let err = parse_size(text).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[rstest]
    #[case("0B", Some("is zero"))]
    #[case("0.5B", Some("is zero"))]
    #[case("1B", None)]
    #[case("4GiB", None)]
    #[case("4097MiB", Some("larger than a setting may be (at most 4GiB"))]
    #[case("5GB", Some("larger than a setting may be"))]
    fn limits_are_bounded(#[case] text: &str, #[case] message: Option<&str>) {
        match (parse_size_limit(text), message) {
            (Ok(_), None) => {}
            (Err(err), Some(message)) => assert!(err.contains(message), "{err}"),
            (result, _) => panic!("{text}: {result:?}"),
        }
    }

    #[rstest]
    #[case(256 << 20, "256MiB")]
    #[case(16 << 20, "16MiB")]
    #[case(1 << 30, "1GiB")]
    #[case(4 << 30, "4GiB")]
    #[case(1_000_000, "1MB")]
    #[case(1_572_864, "1536KiB")]
    #[case(1_500, "1500B")]
    #[case(2_048_000, "2000KiB")]
    #[case(1, "1B")]
    fn displays_in_the_largest_exact_unit(#[case] bytes: u64, #[case] text: &str) {
        assert_eq!(Size(bytes).to_string(), text);
        assert_eq!(parse_size(text).unwrap(), bytes, "reads back");
    }
}
