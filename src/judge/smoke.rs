//! Judging one HTTP response against a smoke check's expectations.

use serde_json::Value;
use toml::Spanned;

use super::{Cause, Violation};
use crate::client::http::Response;
use crate::scenario::{JsonExpect, SmokeExpect};
use crate::target::Redactor;
use crate::text::format_duration;

/// How much of a body a failure message quotes.
const BODY_EXCERPT: usize = 300;

/// Every violated expectation, in the order they are written in the format reference. A
/// quoted body has its secrets masked before it is cut (see `target::redact`).
pub fn judge_smoke(
    expect: &SmokeExpect,
    schema: Option<&jsonschema::Validator>,
    response: &Response,
    redactor: &Redactor,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let body = String::from_utf8_lossy(&response.body);
    let quoted = || format!("{:?}", redactor.excerpt(&body, BODY_EXCERPT));
    judge_status(expect, response.status, &mut violations);
    if let Some(needles) = &expect.body_contains {
        for needle in needles.get_ref().as_slice() {
            if !body.contains(needle.as_str()) {
                violations.push(
                    Violation::new(
                        Cause::Body,
                        "body",
                        format!("to contain {needle:?}"),
                        quoted(),
                    )
                    .at(needles.span()),
                );
            }
        }
    }
    if let Some(equals) = &expect.body_equals
        && body != equals.get_ref().as_str()
    {
        violations.push(
            Violation::new(
                Cause::Body,
                "body",
                format!("{:?}", equals.get_ref()),
                quoted(),
            )
            .at(equals.span()),
        );
    }
    if let Some(pattern) = &expect.body_regex
        && !pattern.get_ref().0.is_match(&body)
    {
        violations.push(
            Violation::new(
                Cause::Body,
                "body",
                format!("to match /{}/", pattern.get_ref().0.as_str()),
                quoted(),
            )
            .at(pattern.span()),
        );
    }
    if !expect.json.is_empty() || schema.is_some() {
        match serde_json::from_slice::<Value>(&response.body) {
            Ok(json) => {
                for (pointer, rule) in &expect.json {
                    judge_pointer(&pointer.0, rule, json.pointer(&pointer.0), &mut violations);
                }
                if let Some(schema) = schema {
                    let at = expect.json_schema.as_ref().map(Spanned::span);
                    judge_schema(schema, &json, at, &mut violations);
                }
            }
            Err(e) => violations.push(Violation::new(
                Cause::Json,
                "body",
                "valid JSON",
                format!("{e} in {}", quoted()),
            )),
        }
    }
    if let Some(max) = &expect.max_latency
        && response.latency > max.get_ref().0
    {
        violations.push(
            Violation::new(
                Cause::Threshold,
                "latency",
                format!("<= {}", format_duration(max.get_ref().0)),
                format_duration(response.latency),
            )
            .at(max.span()),
        );
    }
    violations
}

fn judge_status(expect: &SmokeExpect, status: u16, violations: &mut Vec<Violation>) {
    match &expect.status {
        Some(allowed) if !allowed.get_ref().as_slice().contains(&status) => {
            let list: Vec<String> = allowed
                .get_ref()
                .as_slice()
                .iter()
                .map(u16::to_string)
                .collect();
            violations.push(
                Violation::new(
                    Cause::Status,
                    "status",
                    list.join(" or "),
                    status.to_string(),
                )
                .at(allowed.span()),
            );
        }
        None if !(200..300).contains(&status) => {
            violations.push(Violation::new(
                Cause::Status,
                "status",
                "2xx",
                status.to_string(),
            ));
        }
        _ => {}
    }
}

/// Every violation of the rules at one pointer, each placed where the rules are written.
fn judge_pointer(
    pointer: &str,
    rule: &Spanned<JsonExpect>,
    value: Option<&Value>,
    violations: &mut Vec<Violation>,
) {
    let mut found = Vec::new();
    judge_pointer_rules(pointer, rule.get_ref(), value, &mut found);
    violations.extend(found.into_iter().map(|v| v.at(rule.span())));
}

fn judge_pointer_rules(
    pointer: &str,
    rule: &JsonExpect,
    value: Option<&Value>,
    violations: &mut Vec<Violation>,
) {
    let what = format!(
        "json {}",
        if pointer.is_empty() {
            "(document)"
        } else {
            pointer
        }
    );
    let violation = |expected: String, observed: String| {
        Violation::new(Cause::Json, what.clone(), expected, observed)
    };
    let Some(value) = value else {
        if rule.exists != Some(false) {
            violations.push(violation(
                "a value".into(),
                "nothing at this pointer".into(),
            ));
        }
        return;
    };
    if rule.exists == Some(false) {
        violations.push(violation("no value".into(), value.to_string()));
        return;
    }
    if let Some(expected) = &rule.equals
        && !json_equal(expected, value)
    {
        violations.push(violation(expected.to_string(), value.to_string()));
    }
    if let Some(pattern) = &rule.regex {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !pattern.0.is_match(&text) {
            violations.push(violation(
                format!("to match /{}/", pattern.0.as_str()),
                value.to_string(),
            ));
        }
    }
    judge_numbers(&what, rule, value, violations);
    if let Some(min) = rule.min_len {
        let len = match value {
            Value::Array(items) => Some(items.len()),
            Value::Object(map) => Some(map.len()),
            Value::String(s) => Some(s.chars().count()),
            _ => None,
        };
        match len {
            Some(len) if len >= min => {}
            Some(len) => violations.push(violation(
                format!("length >= {min}"),
                format!("length {len}"),
            )),
            None => violations.push(violation(
                format!("an array, object or string of length >= {min}"),
                value.to_string(),
            )),
        }
    }
}

/// Numbers compare by value, so `1` written in TOML equals `1.0` in a response.
fn json_equal(expected: &Value, observed: &Value) -> bool {
    match (expected.as_f64(), observed.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => expected == observed,
    }
}

fn judge_numbers(what: &str, rule: &JsonExpect, value: &Value, violations: &mut Vec<Violation>) {
    let bounds = [
        (rule.gt, ">", (|v, b| v > b) as fn(f64, f64) -> bool),
        (rule.ge, ">=", |v, b| v >= b),
        (rule.lt, "<", |v, b| v < b),
        (rule.le, "<=", |v, b| v <= b),
    ];
    for (bound, symbol, holds) in bounds {
        let Some(bound) = bound else { continue };
        match value.as_f64() {
            Some(number) if holds(number, bound) => {}
            Some(number) => violations.push(Violation::new(
                Cause::Json,
                what,
                format!("{symbol} {bound}"),
                number.to_string(),
            )),
            None => violations.push(Violation::new(
                Cause::Json,
                what,
                format!("a number {symbol} {bound}"),
                value.to_string(),
            )),
        }
    }
}

/// Lists every schema violation with the instance path it occurred at.
fn judge_schema(
    schema: &jsonschema::Validator,
    json: &Value,
    at: Option<std::ops::Range<usize>>,
    violations: &mut Vec<Violation>,
) {
    for error in schema.iter_errors(json) {
        let path = error.instance_path().to_string();
        let mut violation = Violation::new(
            Cause::Schema,
            format!(
                "json schema at {}",
                if path.is_empty() { "/" } else { &path }
            ),
            "valid",
            error.to_string(),
        );
        violation.at.clone_from(&at);
        violations.push(violation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;
    use serde_json::json;
    use std::time::Duration;

    fn expect(toml_expect: &str) -> SmokeExpect {
        let text = format!(
            "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[smoke]]\nname = \"c\"\nget = \"/\"\nexpect = {toml_expect}\n"
        );
        let mut doc = parse_scenario(&text, &|_: &str| None).unwrap();
        doc.smoke.remove(0).into_inner().expect
    }

    fn response(status: u16, body: &str, latency_ms: u64) -> Response {
        Response {
            status,
            body: body.as_bytes().to_vec(),
            latency: Duration::from_millis(latency_ms),
        }
    }

    #[rstest]
    #[case("{}", 200, "", 1, &[])]
    #[case("{}", 503, "", 1, &["status: expected 2xx, observed 503"])]
    #[case("{ status = 204 }", 200, "", 1, &["status: expected 204, observed 200"])]
    #[case("{ status = [200, 404] }", 404, "", 1, &[])]
    #[case("{ body_contains = \"running\" }", 200, "Ollama is running", 1, &[])]
    #[case("{ body_contains = [\"a\", \"zz\"] }", 200, "abc", 1, &["body: expected to contain \"zz\", observed \"abc\""])]
    #[case("{ body_equals = \"ok\" }", 200, "ok\n", 1, &["body: expected \"ok\", observed \"ok\\n\""])]
    #[case("{ body_regex = \"^v\\\\d\" }", 200, "v1", 1, &[])]
    #[case("{ body_regex = \"^v\\\\d\" }", 200, "x", 1, &["body: expected to match /^v\\d/, observed \"x\""])]
    #[case("{ max_latency = \"500ms\" }", 200, "", 501, &["latency: expected <= 500ms, observed 501ms"])]
    #[case("{ max_latency = \"500ms\" }", 200, "", 500, &[])]
    #[case("{ json = { \"/v\" = { equals = 1 } } }", 200, "{\"v\": 1.0}", 1, &[])]
    #[case("{ json = { \"/v\" = { equals = \"a\" } } }", 200, "{\"v\": \"b\"}", 1, &["json /v: expected \"a\", observed \"b\""])]
    #[case("{ json = { \"/v\" = { regex = \"^0\\\\.\" } } }", 200, "{\"v\": \"0.5.1\"}", 1, &[])]
    #[case("{ json = { \"/n\" = { ge = 1, lt = 3 } } }", 200, "{\"n\": 3}", 1, &["json /n: expected < 3, observed 3"])]
    #[case("{ json = { \"/n\" = { gt = 0 } } }", 200, "{\"n\": \"x\"}", 1, &["json /n: expected a number > 0, observed \"x\""])]
    #[case("{ json = { \"/m\" = { min_len = 1 } } }", 200, "{\"m\": []}", 1, &["json /m: expected length >= 1, observed length 0"])]
    #[case("{ json = { \"/m\" = { } } }", 200, "{}", 1, &["json /m: expected a value, observed nothing at this pointer"])]
    #[case("{ json = { \"/m\" = { exists = false } } }", 200, "{}", 1, &[])]
    #[case("{ json = { \"/m\" = { exists = false } } }", 200, "{\"m\": 1}", 1, &["json /m: expected no value, observed 1"])]
    #[case("{ json = { \"\" = { min_len = 1 } } }", 200, "[1]", 1, &[])]
    fn judges(
        #[case] rules: &str,
        #[case] status: u16,
        #[case] body: &str,
        #[case] latency_ms: u64,
        #[case] expected: &[&str],
    ) {
        let violations = judge_smoke(
            &expect(rules),
            None,
            &response(status, body, latency_ms),
            &Redactor::default(),
        );
        let messages: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(messages, expected);
    }

    /// Each violation carries the cause that names its JUnit failure type, and the span of
    /// the expectation that set it (line 6 holds `expect`; its column is where the entry's
    /// value starts).
    #[rstest]
    #[case("{ status = 204 }", "{}", Cause::Status, Some(21))]
    #[case("{}", "{}", Cause::Status, None)]
    #[case("{ body_contains = \"zz\" }", "{}", Cause::Body, Some(28))]
    #[case(
        "{ json = { \"/v\" = { equals = 2 } } }",
        "{\"v\": 1}",
        Cause::Json,
        Some(28)
    )]
    #[case("{ max_latency = \"1ms\" }", "{}", Cause::Threshold, Some(26))]
    fn causes_and_places(
        #[case] rules: &str,
        #[case] body: &str,
        #[case] cause: Cause,
        #[case] col: Option<usize>,
    ) {
        let text = format!(
            "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[smoke]]\nname = \"c\"\nget = \"/\"\nexpect = {rules}\n"
        );
        let mut doc = parse_scenario(&text, &|_: &str| None).unwrap();
        let expect = doc.smoke.remove(0).into_inner().expect;
        let status = if rules == "{}" { 503 } else { 200 };
        let violations = judge_smoke(
            &expect,
            None,
            &response(status, body, 5),
            &Redactor::default(),
        );
        assert_eq!(violations[0].cause, cause, "{violations:?}");
        let place = violations[0]
            .at
            .as_ref()
            .map(|span| crate::scenario::diagnostic::line_col(&text, span.start));
        assert_eq!(place, col.map(|c| (6, c)), "{violations:?}");
    }

    #[test]
    fn invalid_json_is_one_violation() {
        let violations = judge_smoke(
            &expect("{ json = { \"/v\" = { equals = 1 } } }"),
            None,
            &response(200, "<html>", 1),
            &Redactor::default(),
        );
        assert_eq!(violations.len(), 1);
        assert!(violations[0].to_string().contains("expected valid JSON"));
    }

    #[test]
    fn schema_violations_are_all_listed_with_their_paths() {
        let schema = jsonschema::validator_for(&json!({
            "type": "object",
            "required": ["version"],
            "properties": { "models": { "type": "array", "items": { "type": "object", "required": ["name"] } } }
        }))
        .unwrap();
        let violations = judge_smoke(
            &SmokeExpect::default(),
            Some(&schema),
            &response(200, r#"{"models": [{"name": "a"}, {"size": 1}]}"#, 1),
            &Redactor::default(),
        );
        let messages: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages.iter().any(|m| m.starts_with("json schema at /:")
                && m.contains("\"version\" is a required property")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("json schema at /models/1:") && m.contains("\"name\"")),
            "{messages:?}"
        );
    }

    #[test]
    fn long_bodies_are_shortened() {
        let body = "x".repeat(1000);
        let violations = judge_smoke(
            &expect("{ body_equals = \"y\" }"),
            None,
            &response(200, &body, 1),
            &Redactor::default(),
        );
        assert!(violations[0].observed.contains("(700 more characters)"));
    }

    /// A secret across the cut of the quoted body is masked whole: masked, the body is
    /// shorter, and the excerpt shows what follows the secret instead of its beginning.
    #[rstest]
    #[case::cut_in_the_secret(285, "x[REDACTED]xxxxx… (595 more characters)\"")]
    #[case::cut_in_the_mask(295, "x[REDA… (605 more characters)\"")]
    fn bodies_are_masked_before_they_are_cut(#[case] before: usize, #[case] ends_with: &str) {
        let secret = "Bearer sk-SPLIT-SECRET-0123456789";
        let redactor = Redactor::new(&[crate::target::Secret::Header(secret.into())]);
        let body = format!("{}{secret}{}", "x".repeat(before), "x".repeat(600));
        let violations = judge_smoke(
            &expect("{ body_equals = \"y\" }"),
            None,
            &response(200, &body, 1),
            &redactor,
        );
        let observed = &violations[0].observed;
        assert!(!observed.contains("sk-SPLIT"), "{observed}");
        assert!(observed.ends_with(ends_with), "{observed}");
    }
}
