//! A `[[smoke]]` check becomes one case: its request built, its schema compiled.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::FileScope;
use crate::catalog::case::{Case, SmokeSpec, Spec};
use crate::client::http::{Body, HttpRequest};
use crate::scenario::SmokeCheck;
use crate::target::header_map;

pub fn expand(scope: &FileScope<'_>, spanned: Spanned<SmokeCheck>) -> Result<Case, String> {
    let span = spanned.span();
    let spec = spec(scope, spanned.into_inner(), &span)?;
    Ok(Case::check(
        scope.scenario,
        spec.check.name.get_ref().clone(),
        scope.file.clone(),
        scope.target.clone(),
        Spec::Smoke(Arc::new(spec)),
    ))
}

/// The check's request built, its schema compiled and its limits settled against the
/// target; errors are placed at `span`, the check. A baseline repeats what this builds.
pub fn spec(
    scope: &FileScope<'_>,
    check: SmokeCheck,
    span: &Range<usize>,
) -> Result<SmokeSpec, String> {
    let schema = scope.schema(check.expect.json_schema.as_ref(), span)?;
    let request = build_request(&check).map_err(|e| scope.at(span, e))?;
    Ok(SmokeSpec {
        timeout: check.timeout.map_or(scope.target.timeout, |t| t.0),
        max_body: check.max_body.unwrap_or(scope.target.max_body),
        check,
        request,
        schema,
    })
}

fn build_request(check: &SmokeCheck) -> Result<HttpRequest, String> {
    let method = reqwest::Method::from_bytes(check.method().as_bytes())
        .map_err(|e| format!("invalid method: {e}"))?;
    let body = match (&check.json, &check.body) {
        (Some(json), _) => Body::Json(json.clone()),
        (None, Some(text)) => Body::Text(text.clone()),
        (None, None) => Body::Empty,
    };
    Ok(HttpRequest {
        method,
        path: check.request_path().to_string(),
        query: check
            .query
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        headers: header_map(&check.headers).map_err(|e| e.to_string())?,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{expand_text, names};
    use crate::catalog::case::{CaseBody, Schedule, Spec};
    use crate::kind::Kind;
    use std::time::Duration;

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\ntimeout = \"7s\"\n";

    fn smoke_spec(checks: &str) -> std::sync::Arc<crate::catalog::case::SmokeSpec> {
        first_smoke_spec(&format!("{HEAD}{checks}"))
    }

    fn first_smoke_spec(text: &str) -> std::sync::Arc<crate::catalog::case::SmokeSpec> {
        let expanded = expand_text(text).ok().unwrap();
        match &expanded.cases[0].body {
            CaseBody::Check {
                spec: Spec::Smoke(spec),
                ..
            } => spec.clone(),
            _ => panic!("not a smoke case"),
        }
    }

    #[test]
    fn one_case_per_check_named_by_kind_scenario_and_check() {
        let expanded = expand_text(&format!(
            "{HEAD}[[smoke]]\nname = \"a\"\nget = \"/\"\n[[smoke]]\nname = \"b\"\npost = \"/q\"\n"
        ))
        .ok()
        .unwrap();
        assert_eq!(names(&expanded), ["smoke::x::a", "smoke::x::b"]);
        let case = &expanded.cases[0];
        assert_eq!(case.kind(), Kind::Smoke);
        assert_eq!((case.scenario.as_str(), case.check.as_str()), ("x", "a"));
        match &case.body {
            CaseBody::Check { spec, .. } => assert_eq!(spec.schedule(), Schedule::Parallel),
            CaseBody::LoadError(e) => panic!("{e}"),
        }
    }

    #[rstest::rstest]
    #[case("get = \"/v\"", "GET", "/v")]
    #[case("post = \"/v\"\njson = { a = 1 }", "POST", "/v")]
    #[case("method = \"delete\"\npath = \"/v/1\"", "DELETE", "/v/1")]
    fn builds_the_request(#[case] form: &str, #[case] method: &str, #[case] path: &str) {
        let spec = smoke_spec(&format!(
            "[[smoke]]\nname = \"a\"\n{form}\nquery = {{ k = \"v\" }}\n"
        ));
        assert_eq!(spec.request.method.as_str(), method);
        assert_eq!(spec.request.path, path);
        assert_eq!(spec.request.query, [("k".to_string(), "v".to_string())]);
    }

    #[rstest::rstest]
    #[case("", Duration::from_secs(7))]
    #[case("timeout = \"250ms\"\n", Duration::from_millis(250))]
    fn the_timeout_defaults_to_the_targets(#[case] line: &str, #[case] expected: Duration) {
        let spec = smoke_spec(&format!("[[smoke]]\nname = \"a\"\nget = \"/\"\n{line}"));
        assert_eq!(spec.timeout, expected);
    }

    #[rstest::rstest]
    #[case("", 256 << 20)]
    #[case("max_body = \"8MiB\"\n", 8 << 20)]
    fn max_body_defaults_to_the_targets(#[case] line: &str, #[case] expected: u64) {
        let spec = smoke_spec(&format!("[[smoke]]\nname = \"a\"\nget = \"/\"\n{line}"));
        assert_eq!(spec.max_body.0, expected);
    }

    #[test]
    fn the_targets_max_body_is_every_checks_default() {
        let spec = first_smoke_spec(
            "[target]\nbase_url = \"http://127.0.0.1:1\"\nmax_body = \"1MB\"\n[[smoke]]\nname = \"a\"\nget = \"/\"\n",
        );
        assert_eq!(spec.max_body.0, 1_000_000);
    }

    #[test]
    fn an_inline_schema_is_compiled() {
        let spec = smoke_spec(
            "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { json_schema = { type = \"object\" } }\n",
        );
        let schema = spec.schema.as_ref().unwrap();
        assert!(schema.is_valid(&serde_json::json!({})));
        assert!(!schema.is_valid(&serde_json::json!([])));
    }
}
