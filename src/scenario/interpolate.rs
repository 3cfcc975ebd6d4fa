//! `${VAR}` and `${VAR:-default}` in every string of a scenario file.
//!
//! Interpolation runs on the parsed TOML tree, not on the raw text, so that every error still
//! points at the line and column the user wrote, and a value can never break TOML quoting.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where variables come from: the process environment overlaid with a suite's variables.
pub trait Vars {
    /// The value of `name`; `None` when unset. An empty value is treated as unset.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// An interpolation failure inside one string; the caller adds the string's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
}

/// Expands `${NAME}`, `${NAME:-default}` (default used when NAME is unset or empty) and `$$`
/// (a literal `$`). A `$` not followed by `{` or `$` stays as it is.
pub fn interpolate(text: &str, vars: &dyn Vars) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail.find('}').ok_or_else(|| InterpolationError {
                message: format!(
                    "unterminated \"${{\" in \"{text}\": write ${{NAME}} or ${{NAME:-default}}, or $$ for a literal $"
                ),
            })?;
            out.push_str(&expand(&body_and_tail[..end], vars)?);
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(body: &str, vars: &dyn Vars) -> Result<String, InterpolationError> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(InterpolationError {
            message: format!(
                "invalid variable name \"{name}\" in \"${{{body}}}\": use letters, digits and _"
            ),
        });
    }
    match (vars.get(name).filter(|v| !v.is_empty()), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => interpolate(default, vars),
        (None, None) => Err(InterpolationError {
            message: format!(
                "environment variable {name} is not set: set it, or give a default with ${{{name}:-value}}"
            ),
        }),
    }
}

/// Interpolates every string value (not keys) of a parsed document in place; returns the
/// first failure with the span of the string it occurred in.
pub fn interpolate_table(
    table: &mut DeTable<'_>,
    vars: &dyn Vars,
) -> Result<(), (InterpolationError, Range<usize>)> {
    for (_, value) in table.iter_mut() {
        interpolate_value(value, vars)?;
    }
    Ok(())
}

fn interpolate_value(
    value: &mut Spanned<DeValue<'_>>,
    vars: &dyn Vars,
) -> Result<(), (InterpolationError, Range<usize>)> {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) if text.contains('$') => {
            let expanded = interpolate(text, vars).map_err(|e| (e, span))?;
            *text = expanded.into();
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(item, vars)?;
            }
        }
        DeValue::Table(table) => interpolate_table(table, vars)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("10.0.0.1".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    #[rstest]
    #[case("plain", "plain")]
    #[case("http://${HOST}:${PORT}", "http://10.0.0.1:8080")]
    #[case("${MISSING:-http://127.0.0.1:11434}", "http://127.0.0.1:11434")]
    #[case("${HOST:-fallback}", "10.0.0.1")]
    #[case("${EMPTY:-fallback}", "fallback")]
    #[case("Bearer ${MISSING:-}", "Bearer ")]
    #[case("cost $$5", "cost $5")]
    #[case("a $ b", "a $ b")]
    #[case("trailing $", "trailing $")]
    fn expands(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(interpolate(text, &vars).unwrap(), expected);
    }

    #[rstest]
    #[case("${MISSING}", "MISSING is not set")]
    #[case("${EMPTY}", "EMPTY is not set")]
    #[case("${HOST", "unterminated")]
    #[case("${}", "invalid variable name")]
    #[case("${A B}", "invalid variable name")]
    fn rejects(#[case] text: &str, #[case] message: &str) {
        let err = interpolate(text, &vars).unwrap_err();
        assert!(err.message.contains(message), "{}", err.message);
    }

    #[test]
    fn walks_nested_tables_and_arrays_and_reports_the_span() {
        let source = "a = \"${HOST}\"\n[t]\nlist = [\"x\", \"${PORT}\"]\nbad = \"${NOPE}\"\n";
        let mut doc = DeTable::parse(source).unwrap();
        let (err, span) = interpolate_table(doc.get_mut(), &vars).unwrap_err();
        assert!(err.message.contains("NOPE"));
        assert_eq!(&source[span], "\"${NOPE}\"");

        let source = "a = \"${HOST}\"\n[t]\nlist = [\"x\", \"${PORT}\"]\n";
        let mut doc = DeTable::parse(source).unwrap();
        interpolate_table(doc.get_mut(), &vars).unwrap();
        let t = doc.get_ref()["t"].get_ref().as_table().unwrap();
        let list = t["list"].get_ref().as_array().unwrap();
        assert_eq!(list[1].get_ref().as_str(), Some("8080"));
    }
}
