//! An `[[inference]]` check becomes one case per stream mode (`::stream`, `::no_stream`
//! when both are asked for; an embeddings check, never streamed, one case), each with its
//! request body built for the target's API.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::FileScope;
use crate::catalog::case::{Case, InferenceSpec, Spec};
use crate::catalog::naming::check_name;
use crate::inference::client::Limits;
use crate::inference::request::build;
use crate::scenario::InferenceCheck;

pub fn expand(
    scope: &FileScope<'_>,
    spanned: Spanned<InferenceCheck>,
) -> Result<Vec<Case>, String> {
    let span = spanned.span();
    let check = Arc::new(spanned.into_inner());
    let name = check.name.get_ref().clone();
    let cases = specs(scope, check, &span)?
        .into_iter()
        .map(|(variant, spec)| {
            Case::check(
                scope.scenario,
                check_name(&name, variant),
                scope.file.clone(),
                scope.target.clone(),
                Spec::Inference(Arc::new(spec)),
            )
        })
        .collect();
    Ok(cases)
}

/// The limits of one request of the check: its own, else its target's. An sla check's
/// generation is bounded by the same.
pub fn limits(scope: &FileScope<'_>, check: &InferenceCheck) -> Limits {
    let total = check.timeout.map_or(scope.target.timeout, |t| t.0);
    Limits {
        total,
        first_token: check
            .first_token_timeout
            .as_ref()
            .map_or(total, |t| t.get_ref().0),
        max_body: check.max_body.unwrap_or(scope.target.max_body),
        max_line: check
            .max_line
            .as_ref()
            .map_or(scope.target.max_line, |limit| *limit.get_ref()),
    }
}

/// One spec per variant of the check (its stream modes), each with its request built for
/// the target's API and its limits settled; errors are placed at `span`, the check. A
/// baseline repeats what this builds.
pub fn specs(
    scope: &FileScope<'_>,
    check: Arc<InferenceCheck>,
    span: &Range<usize>,
) -> Result<Vec<(Option<&'static str>, InferenceSpec)>, String> {
    let schema = scope
        .schema(check.expect.json_schema.as_ref(), span)?
        .map(Arc::new);
    let limits = limits(scope, &check);
    check
        .variants()
        .into_iter()
        .map(|(variant, stream)| {
            let request = build(scope.target.api, &check, stream).map_err(|e| scope.at(span, e))?;
            let spec = InferenceSpec {
                check: check.clone(),
                schema: schema.clone(),
                request,
                limits,
            };
            Ok((variant, spec))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{expand_text, names};
    use crate::catalog::case::{CaseBody, Schedule, Spec};
    use crate::inference::request::InferenceRequest;
    use rstest::rstest;
    use std::time::Duration;

    const HEAD: &str =
        "[target]\nbase_url = \"http://127.0.0.1:1\"\napi = \"openai\"\ntimeout = \"9s\"\n";

    fn specs(check: &str) -> Vec<std::sync::Arc<crate::catalog::case::InferenceSpec>> {
        let text = format!("{HEAD}[[inference]]\nname = \"g\"\nmodel = \"m\"\n{check}");
        let expanded = expand_text(&text).ok().unwrap();
        expanded
            .cases
            .iter()
            .map(|case| match &case.body {
                CaseBody::Check {
                    spec: Spec::Inference(spec),
                    ..
                } => spec.clone(),
                _ => panic!("not an inference case"),
            })
            .collect()
    }

    #[rstest]
    #[case("stream = true", &["inference::x::g"], &[true])]
    #[case("stream = false", &["inference::x::g"], &[false])]
    #[case(
        "stream = [true, false]",
        &["inference::x::g::stream", "inference::x::g::no_stream"],
        &[true, false]
    )]
    fn one_case_per_stream_mode(
        #[case] stream: &str,
        #[case] expected: &[&str],
        #[case] modes: &[bool],
    ) {
        let text =
            format!("{HEAD}[[inference]]\nname = \"g\"\nmodel = \"m\"\nprompt = \"p\"\n{stream}\n");
        let expanded = expand_text(&text).ok().unwrap();
        assert_eq!(names(&expanded), expected);
        let streams: Vec<bool> = specs(&format!("prompt = \"p\"\n{stream}\n"))
            .iter()
            .map(|s| matches!(&s.request, InferenceRequest::Generation(r) if r.stream))
            .collect();
        assert_eq!(streams, modes);
        for case in &expanded.cases {
            match &case.body {
                CaseBody::Check { spec, .. } => {
                    assert_eq!(spec.schedule(), Schedule::MeasuresTarget)
                }
                CaseBody::LoadError(e) => panic!("{e}"),
            }
        }
    }

    #[rstest]
    #[case("", Duration::from_secs(9), Duration::from_secs(9))]
    #[case("timeout = \"4s\"\n", Duration::from_secs(4), Duration::from_secs(4))]
    #[case(
        "timeout = \"4s\"\nfirst_token_timeout = \"1s\"\n",
        Duration::from_secs(4),
        Duration::from_secs(1)
    )]
    fn limits_default_to_the_targets_timeout(
        #[case] lines: &str,
        #[case] total: Duration,
        #[case] first_token: Duration,
    ) {
        let spec = &specs(&format!("prompt = \"p\"\n{lines}"))[0];
        assert_eq!(
            (spec.limits.total, spec.limits.first_token),
            (total, first_token)
        );
    }

    #[rstest]
    #[case("", 256 << 20, 16 << 20)]
    #[case("max_body = \"1MiB\"\nmax_line = \"4KiB\"\n", 1 << 20, 4 << 10)]
    #[case("max_line = \"64KB\"\n", 256 << 20, 64_000)]
    fn size_limits_default_to_the_targets(
        #[case] lines: &str,
        #[case] max_body: u64,
        #[case] max_line: u64,
    ) {
        let spec = &specs(&format!("prompt = \"p\"\n{lines}"))[0];
        assert_eq!(
            (spec.limits.max_body.0, spec.limits.max_line.0),
            (max_body, max_line)
        );
    }

    #[rstest]
    #[case(
        "messages = [{ role = \"user\", content = \"hi\" }]\n",
        "/v1/chat/completions"
    )]
    #[case("input = [\"a\", \"b\"]\n", "/v1/embeddings")]
    fn the_request_goes_to_the_endpoint_of_the_api(#[case] input: &str, #[case] path: &str) {
        let specs = specs(input);
        assert_eq!(specs.len(), 1, "one case");
        assert_eq!(specs[0].request.path(), path);
    }
}
