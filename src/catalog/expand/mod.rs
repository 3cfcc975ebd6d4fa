//! Expansion: the checks of one parsed scenario file become named cases, one module per
//! kind. This is where a check meets its target (request paths, API flavour, default
//! timeouts) and where schema files are read; everything after it only runs cases.

mod baseline;
mod inference;
mod sla;
mod smoke;

use std::ops::Range;
use std::sync::Arc;

use crate::scenario::baseline::RegressionDefaults;
use crate::scenario::diagnostic::SourceFile;
use crate::scenario::{CheckRequest, ScenarioDoc, SmokeCheck};
use crate::target::{Secret, Target};

use super::case::Case;

/// What expansion needs of the file the checks come from.
pub struct FileScope<'a> {
    pub scenario: &'a str,
    pub file: &'a Arc<SourceFile>,
    pub target: &'a Arc<Target>,
    /// The suite's defaults for the regression gate of baseline checks.
    pub regression: &'a RegressionDefaults,
}

impl FileScope<'_> {
    /// The check's JSON Schema compiled (a file is read relative to the scenario file); an
    /// error is placed at the check.
    fn schema(
        &self,
        source: Option<&toml::Spanned<crate::scenario::SchemaSource>>,
        span: &Range<usize>,
    ) -> Result<Option<jsonschema::Validator>, String> {
        source
            .map(|schema| {
                super::schema::compile_schema(schema.get_ref(), &self.file.path)
                    .map_err(|e| self.at(span, e))
            })
            .transpose()
    }

    /// A message about the check written at `span`, prefixed with `file:line:col`.
    fn at(&self, span: &Range<usize>, message: impl std::fmt::Display) -> String {
        format!("{}: {message}", self.file.locate(span))
    }
}

/// The cases of one file, and the secrets its checks add (header values of smoke checks,
/// and their credential-like query parameters).
#[derive(Default)]
pub struct Expanded {
    pub cases: Vec<Case>,
    pub secrets: Vec<Secret>,
}

/// Expands every check of the file; fails with every problem found, one a line.
pub fn expand(scope: &FileScope<'_>, doc: ScenarioDoc) -> Result<Expanded, String> {
    let mut expanded = Expanded::default();
    let mut errors = Vec::new();
    for check in doc.smoke {
        expanded.secrets.extend(request_secrets(check.get_ref()));
        match smoke::expand(scope, check) {
            Ok(case) => expanded.cases.push(case),
            Err(e) => errors.push(e),
        }
    }
    for check in doc.inference {
        match inference::expand(scope, check) {
            Ok(cases) => expanded.cases.extend(cases),
            Err(e) => errors.push(e),
        }
    }
    for check in doc.baseline {
        if let CheckRequest::Http(request) = &check.get_ref().request {
            expanded.secrets.extend(request_secrets(request));
        }
        match baseline::expand(scope, check) {
            Ok(case) => expanded.cases.push(case),
            Err(e) => errors.push(e),
        }
    }
    for check in doc.sla {
        if let Some(CheckRequest::Http(request)) = check.get_ref().single() {
            expanded.secrets.extend(request_secrets(request));
        }
        match sla::expand(scope, check) {
            Ok(case) => expanded.cases.push(case),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(expanded)
    } else {
        Err(errors.join("\n"))
    }
}

/// The secrets an HTTP request adds: its header values, and its credential-like query
/// parameters.
fn request_secrets(request: &SmokeCheck) -> Vec<Secret> {
    let headers = request.headers.values().cloned().map(Secret::Header);
    let query = request.query.iter();
    let params = query.filter_map(|(name, value)| Secret::query_param(name, value));
    headers.chain(params).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use std::path::Path;

    /// Parses a scenario text and expands it as the file `s/x.toml` of scenario `x`.
    pub(crate) fn expand_text(text: &str) -> Result<Expanded, String> {
        let doc = parse_scenario(text, &|_: &str| None).map_err(|e| e.to_string())?;
        let file = Arc::new(SourceFile::new(Path::new("s/x.toml"), text));
        let target = Arc::new(Target::new("x".into(), &doc.target, None, None).unwrap());
        let scope = FileScope {
            scenario: "x",
            file: &file,
            target: &target,
            regression: &RegressionDefaults::default(),
        };
        expand(&scope, doc)
    }

    /// The spec of a file of one check of `kind` named `c` under `head`, which must become
    /// the one case `<kind>::x::c`, scheduled as `schedule`.
    pub(crate) fn only_spec(
        head: &str,
        kind: &str,
        check: &str,
        schedule: crate::catalog::case::Schedule,
    ) -> crate::catalog::case::Spec {
        let text = format!("{head}[[{kind}]]\nname = \"c\"\n{check}");
        let mut expanded = expand_text(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&expanded), [format!("{kind}::x::c")]);
        match expanded.cases.remove(0).body {
            crate::catalog::CaseBody::Check { spec, .. } => {
                assert_eq!(spec.schedule(), schedule);
                spec
            }
            crate::catalog::CaseBody::LoadError(e) => panic!("{e}"),
        }
    }

    pub(crate) fn names(expanded: &Expanded) -> Vec<&str> {
        expanded.cases.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn every_problem_of_a_file_is_reported() {
        let text = "[target]\nbase_url = \"http://127.0.0.1:1\"\n\
             [[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { json_schema = \"missing.json\" }\n\
             [[inference]]\nname = \"b\"\nmodel = \"m\"\nprompt = \"p\"\n";
        let error = expand_text(text).err().unwrap();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(
            lines[0].starts_with("s/x.toml:3:1: cannot read json_schema"),
            "{error}"
        );
        assert!(
            lines[1].starts_with("s/x.toml:7:1: inference checks need a model API"),
            "{error}"
        );
    }

    #[test]
    fn header_values_and_credential_like_query_params_of_checks_are_secrets() {
        let text = "[target]\nbase_url = \"http://127.0.0.1:1\"\n\
             [[smoke]]\nname = \"a\"\nget = \"/\"\nheaders = { X-Key = \"k-123456\" }\n\
             query = { Api_Key = \"q-123456\", page = \"2\" }\n";
        assert_eq!(
            expand_text(text).ok().unwrap().secrets,
            [
                Secret::Header("k-123456".into()),
                Secret::Value("q-123456".into())
            ]
        );
    }
}
