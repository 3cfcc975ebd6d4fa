//! Judging a generated answer and its metrics against an inference check's expectations.

use serde_json::Value;

use super::Violation;
use super::threshold::judge_threshold;
use crate::scenario::InferenceExpect;
use crate::text::excerpt;

/// How much of an answer a violation quotes.
const ANSWER_EXCERPT: usize = 200;

pub struct Answer<'a> {
    pub text: &'a str,
    pub finish_reason: Option<&'a str>,
    /// `None` when nothing counted them (a non-streamed body without a server count).
    pub output_tokens: Option<u64>,
}

pub fn judge_inference(
    expect: &InferenceExpect,
    schema: Option<&jsonschema::Validator>,
    answer: &Answer<'_>,
    figures: &[(&str, f64)],
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let quoted = || format!("{:?}", excerpt(answer.text, ANSWER_EXCERPT));
    if let Some(text) = &expect.text
        && answer.text != text
    {
        violations.push(Violation::new("text", format!("{text:?}"), quoted()));
    }
    if let Some(text) = &expect.text_trimmed
        && answer.text.trim() != text.trim()
    {
        violations.push(Violation::new(
            "text (trimmed)",
            format!("{:?}", text.trim()),
            format!("{:?}", excerpt(answer.text.trim(), ANSWER_EXCERPT)),
        ));
    }
    if let Some(needles) = &expect.text_contains {
        for needle in needles.as_slice() {
            if !answer.text.contains(needle.as_str()) {
                violations.push(Violation::new(
                    "text",
                    format!("to contain {needle:?}"),
                    quoted(),
                ));
            }
        }
    }
    if let Some(pattern) = &expect.text_regex
        && !pattern.0.is_match(answer.text)
    {
        violations.push(Violation::new(
            "text",
            format!("to match /{}/", pattern.0.as_str()),
            quoted(),
        ));
    }
    if let Some(schema) = schema {
        match serde_json::from_str::<Value>(answer.text.trim()) {
            Ok(json) => {
                for error in schema.iter_errors(&json) {
                    let path = error.instance_path().to_string();
                    violations.push(Violation::new(
                        format!(
                            "answer json at {}",
                            if path.is_empty() { "/" } else { &path }
                        ),
                        "valid against the schema",
                        error.to_string(),
                    ));
                }
            }
            Err(e) => violations.push(Violation::new(
                "answer",
                "JSON",
                format!("{e} in {}", quoted()),
            )),
        }
    }
    if let Some(reason) = &expect.finish_reason
        && answer.finish_reason != Some(reason.as_str())
    {
        violations.push(Violation::new(
            "finish_reason",
            format!("{reason:?}"),
            answer
                .finish_reason
                .map_or("none".to_string(), |r| format!("{r:?}")),
        ));
    }
    let bounds = [
        (
            expect.min_output_tokens,
            ">=",
            (|n, b| n >= b) as fn(u64, u64) -> bool,
        ),
        (expect.max_output_tokens, "<=", |n, b| n <= b),
    ];
    for (bound, symbol, holds) in bounds {
        let Some(bound) = bound else { continue };
        match answer.output_tokens {
            Some(n) if holds(n, bound) => {}
            Some(n) => violations.push(Violation::new(
                "output tokens",
                format!("{symbol} {bound}"),
                n.to_string(),
            )),
            None => violations.push(Violation::new(
                "output tokens",
                format!("{symbol} {bound}"),
                "unknown: the server gave no count and the answer was not streamed",
            )),
        }
    }
    for (metric, threshold) in expect.thresholds() {
        let observed = figures
            .iter()
            .find(|(name, _)| *name == metric)
            .map(|(_, v)| *v);
        violations.extend(judge_threshold(metric, &threshold, observed));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;

    fn expect(rules: &str) -> InferenceExpect {
        let text = format!(
            "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[inference]]\nname = \"c\"\nmodel = \"m\"\nprompt = \"p\"\nexpect = {rules}\n"
        );
        parse_scenario(&text, &|_: &str| None)
            .unwrap()
            .inference
            .remove(0)
            .into_inner()
            .expect
    }

    fn judge(rules: &str, text: &str, figures: &[(&str, f64)]) -> Vec<String> {
        let answer = Answer {
            text,
            finish_reason: Some("stop"),
            output_tokens: Some(4),
        };
        judge_inference(&expect(rules), None, &answer, figures)
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
        let answer = Answer {
            text: "{\"no\": 1}",
            finish_reason: None,
            output_tokens: Some(3),
        };
        let violations = judge_inference(&InferenceExpect::default(), Some(&schema), &answer, &[]);
        assert_eq!(violations.len(), 1);
        assert!(
            violations[0]
                .to_string()
                .contains("\"ok\" is a required property")
        );
        let answer = Answer {
            text: "not json",
            finish_reason: None,
            output_tokens: Some(3),
        };
        let violations = judge_inference(&InferenceExpect::default(), Some(&schema), &answer, &[]);
        assert!(
            violations[0]
                .to_string()
                .starts_with("answer: expected JSON")
        );
    }
}
