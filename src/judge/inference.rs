//! Judging a generated answer and its metrics against an inference check's expectations
//! (the vectors of an embeddings request are judged in `embeddings`).

use std::ops::Range;

use serde_json::Value;
use toml::Spanned;

use super::threshold::judge_threshold;
use super::{Cause, Violation};
use crate::metric::Figure;
use crate::scenario::InferenceExpect;
use crate::target::Redactor;

/// How much of an answer a violation quotes.
const ANSWER_EXCERPT: usize = 200;

pub struct Answer<'a> {
    pub text: &'a str,
    pub finish_reason: Option<&'a str>,
    /// `None` when nothing counted them (a non-streamed body without a server count).
    pub output_tokens: Option<u64>,
}

/// Every violated expectation. A quoted answer has its secrets masked before it is cut
/// (see `target::redact`).
pub fn judge_inference(
    expect: &InferenceExpect,
    schema: Option<&jsonschema::Validator>,
    answer: &Answer<'_>,
    figures: &[Figure],
    redactor: &Redactor,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    judge_text(expect, answer, redactor, &mut violations);
    if let Some(schema) = schema {
        let at = expect.json_schema.as_ref().map(Spanned::span);
        judge_answer_schema(schema, answer.text, at, redactor, &mut violations);
    }
    if let Some(reason) = &expect.finish_reason
        && answer.finish_reason != Some(reason.get_ref().as_str())
    {
        violations.push(
            Violation::new(
                Cause::Answer,
                "finish_reason",
                format!("{:?}", reason.get_ref()),
                answer
                    .finish_reason
                    .map_or("none".to_string(), |r| format!("{r:?}")),
            )
            .at(reason.span()),
        );
    }
    judge_token_bounds(expect, answer.output_tokens, &mut violations);
    judge_thresholds(expect, figures, &mut violations);
    violations
}

/// Every threshold of `expect` against the figure it names, placed at its key; a figure
/// the request did not produce fails it.
pub(super) fn judge_thresholds(
    expect: &InferenceExpect,
    figures: &[Figure],
    violations: &mut Vec<Violation>,
) {
    for (name, threshold) in &expect.thresholds {
        let observed = figures
            .iter()
            .find(|figure| figure.name == *name.get_ref())
            .map(|figure| figure.value);
        violations.extend(
            judge_threshold(name.get_ref(), threshold.get_ref(), observed)
                .map(|v| v.at(name.span())),
        );
    }
}

fn judge_text(
    expect: &InferenceExpect,
    answer: &Answer<'_>,
    redactor: &Redactor,
    violations: &mut Vec<Violation>,
) {
    let quoted = || format!("{:?}", redactor.excerpt(answer.text, ANSWER_EXCERPT));
    let violation = |what: &str, expected: String, observed: String, span| {
        Violation::new(Cause::Answer, what, expected, observed).at(span)
    };
    if let Some(text) = &expect.text
        && answer.text != text.get_ref()
    {
        violations.push(violation(
            "text",
            format!("{:?}", text.get_ref()),
            quoted(),
            text.span(),
        ));
    }
    if let Some(text) = &expect.text_trimmed
        && answer.text.trim() != text.get_ref().trim()
    {
        violations.push(violation(
            "text (trimmed)",
            format!("{:?}", text.get_ref().trim()),
            format!("{:?}", redactor.excerpt(answer.text.trim(), ANSWER_EXCERPT)),
            text.span(),
        ));
    }
    if let Some(needles) = &expect.text_contains {
        for needle in needles.get_ref().as_slice() {
            if !answer.text.contains(needle.as_str()) {
                violations.push(violation(
                    "text",
                    format!("to contain {needle:?}"),
                    quoted(),
                    needles.span(),
                ));
            }
        }
    }
    if let Some(pattern) = &expect.text_regex
        && !pattern.get_ref().0.is_match(answer.text)
    {
        violations.push(violation(
            "text",
            format!("to match /{}/", pattern.get_ref().0.as_str()),
            quoted(),
            pattern.span(),
        ));
    }
}

fn judge_answer_schema(
    schema: &jsonschema::Validator,
    text: &str,
    at: Option<Range<usize>>,
    redactor: &Redactor,
    violations: &mut Vec<Violation>,
) {
    let mut found = Vec::new();
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(json) => {
            for error in schema.iter_errors(&json) {
                let path = error.instance_path().to_string();
                found.push(Violation::new(
                    Cause::Schema,
                    format!(
                        "answer json at {}",
                        if path.is_empty() { "/" } else { &path }
                    ),
                    "valid against the schema",
                    error.to_string(),
                ));
            }
        }
        Err(e) => found.push(Violation::new(
            Cause::Schema,
            "answer",
            "JSON",
            format!("{e} in {:?}", redactor.excerpt(text, ANSWER_EXCERPT)),
        )),
    }
    for mut violation in found {
        violation.at.clone_from(&at);
        violations.push(violation);
    }
}

fn judge_token_bounds(
    expect: &InferenceExpect,
    output_tokens: Option<u64>,
    violations: &mut Vec<Violation>,
) {
    let bounds = [
        (
            &expect.min_output_tokens,
            ">=",
            (|n, b| n >= b) as fn(u64, u64) -> bool,
        ),
        (&expect.max_output_tokens, "<=", |n, b| n <= b),
    ];
    for (bound, symbol, holds) in bounds {
        let Some(bound) = bound else { continue };
        let expected = format!("{symbol} {}", bound.get_ref());
        let observed = match output_tokens {
            Some(n) if holds(n, *bound.get_ref()) => continue,
            Some(n) => n.to_string(),
            None => "unknown: the server gave no count and the answer was not streamed".into(),
        };
        violations.push(
            Violation::new(Cause::Threshold, "output tokens", expected, observed).at(bound.span()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn expect(rules: &str) -> InferenceExpect {
        super::super::inference_expect("prompt = \"p\"", rules)
    }

    fn judge(rules: &str, text: &str, figures: &[(&str, f64)]) -> Vec<String> {
        let answer = Answer {
            text,
            finish_reason: Some("stop"),
            output_tokens: Some(4),
        };
        let figures: Vec<Figure> = figures.iter().map(|(n, v)| Figure::new(*n, *v)).collect();
        judge_inference(
            &expect(rules),
            None,
            &answer,
            &figures,
            &Redactor::default(),
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[rstest]
    #[case("{ text = \"HX-OK\" }", "HX-OK", &[])]
    #[case("{ text = \"HX-OK\" }", "HX-OK\n", &["text: expected \"HX-OK\", observed \"HX-OK\\n\""])]
    #[case("{ text_trimmed = \"HX-OK\" }", " HX-OK\n", &[])]
    #[case("{ text_trimmed = \"HX-OK\" }", "Sure! HX-OK", &["text (trimmed): expected \"HX-OK\", observed \"Sure! HX-OK\""])]
    #[case("{ text_contains = [\"HX\", \"OK\"] }", "HX-OK", &[])]
    #[case("{ text_contains = \"ZZ\" }", "HX-OK", &["text: expected to contain \"ZZ\", observed \"HX-OK\""])]
    #[case("{ text_regex = \"^HX-\\\\w+$\" }", "HX-OK", &[])]
    #[case("{ finish_reason = \"length\" }", "x", &["finish_reason: expected \"length\", observed \"stop\""])]
    #[case("{ min_output_tokens = 5 }", "x", &["output tokens: expected >= 5, observed 4"])]
    #[case("{ max_output_tokens = 3 }", "x", &["output tokens: expected <= 3, observed 4"])]
    fn judges_the_answer(#[case] rules: &str, #[case] text: &str, #[case] expected: &[&str]) {
        assert_eq!(judge(rules, text, &[]), expected);
    }

    #[test]
    fn judges_every_threshold_and_missing_metrics() {
        let figures = [("ttft", 0.25), ("tokens_per_s", 120.0)];
        let violations = judge(
            "{ ttft = \"< 200ms\", tokens_per_s = \"> 100\", server_tokens_per_s = \"> 1\" }",
            "x",
            &figures,
        );
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert_eq!(violations[0], "ttft: expected < 200ms, observed 250ms");
        assert!(violations[1].starts_with("server_tokens_per_s: expected > 1, observed no value"));
    }

    #[test]
    fn json_answers_are_checked_against_the_schema() {
        let schema =
            jsonschema::validator_for(&serde_json::json!({"type": "object", "required": ["ok"]}))
                .unwrap();
        let judge = |text| {
            let answer = Answer {
                text,
                finish_reason: None,
                output_tokens: Some(3),
            };
            let expect = InferenceExpect::default();
            judge_inference(&expect, Some(&schema), &answer, &[], &Redactor::default())
        };
        let violations = judge("{\"no\": 1}");
        assert_eq!(violations.len(), 1);
        assert!(
            violations[0]
                .to_string()
                .contains("\"ok\" is a required property")
        );
        let violations = judge("not json");
        assert!(
            violations[0]
                .to_string()
                .starts_with("answer: expected JSON")
        );
    }
}
