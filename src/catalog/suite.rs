//! Suite files: which scenarios and kinds a run covers, and the environment it runs with.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::kind::Kind;
use crate::scenario::baseline::RegressionDefaults;
use crate::scenario::diagnostic::{line_col, with_suggestion};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    #[serde(default)]
    pub description: String,
    /// Globs over scenario file paths relative to the scenario root (`"gpu/*.toml"`).
    #[serde(default = "all_files")]
    pub scenarios: Vec<String>,
    /// Kinds to run; all when absent.
    pub kinds: Option<Vec<Kind>>,
    /// Variables for interpolation and managed targets. A variable already set in the
    /// environment wins, so a CI job can still override a suite's default.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Defaults for the regression gate of the baseline checks it runs.
    #[serde(default)]
    pub regression: RegressionDefaults,
}

fn all_files() -> Vec<String> {
    vec!["**/*.toml".into()]
}

impl Suite {
    /// Parses a suite file's text; errors carry `line:col`.
    pub fn parse(source: &str) -> Result<(Suite, Vec<glob::Pattern>), String> {
        let suite: Suite = toml::from_str(source).map_err(|e| {
            let (line, col) = line_col(source, e.span().map_or(0, |s| s.start));
            format!("{line}:{col}: {}", with_suggestion(e.message().trim()))
        })?;
        let patterns = suite
            .scenarios
            .iter()
            .map(|glob| {
                glob::Pattern::new(glob)
                    .map_err(|e| format!("invalid scenario glob \"{glob}\": {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((suite, patterns))
    }

    pub fn selects_kind(&self, kind: Kind) -> bool {
        self.kinds
            .as_ref()
            .is_none_or(|kinds| kinds.contains(&kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn parses_a_suite() {
        let (suite, globs) = Suite::parse(
            "description = \"x\"\nscenarios = [\"gpu/*.toml\"]\nkinds = [\"smoke\"]\n[env]\nA = \"1\"\n",
        )
        .unwrap();
        assert!(suite.selects_kind(Kind::Smoke));
        assert!(!suite.selects_kind(Kind::Inference));
        assert!(globs[0].matches("gpu/a.toml"));
        assert!(!globs[0].matches("cpu/a.toml"));
        assert_eq!(suite.env["A"], "1");
        assert!(suite.regression.tolerance.is_none());
    }

    #[test]
    fn a_suite_sets_the_regression_defaults() {
        let (suite, _) =
            Suite::parse("[regression]\ntolerance = \"5%\"\nrequired = false\n").unwrap();
        assert_eq!(suite.regression.tolerance.map(|t| t.0), Some(0.05));
        assert_eq!(suite.regression.required, Some(false));
        let error = Suite::parse("[regression]\ntolerence = \"5%\"\n").unwrap_err();
        assert!(error.contains("unknown field `tolerence`"), "{error}");
    }

    #[rstest]
    #[case("kinds = [\"smok\"]\n", "1:10: unknown variant `smok`")]
    #[case("scenario = []\n", "1:1: unknown field `scenario`")]
    #[case("scenarios = [\"[\"]\n", "invalid scenario glob")]
    fn rejects(#[case] source: &str, #[case] message: &str) {
        let err = Suite::parse(source).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[test]
    fn defaults_select_everything() {
        let (suite, globs) = Suite::parse("").unwrap();
        assert!(suite.selects_kind(Kind::Inference));
        assert!(globs[0].matches("a/b/c.toml"));
    }
}
