//! From text to a validated [`ScenarioDoc`]: TOML parse, interpolation, typed
//! deserialization, then the checks that serde cannot express. No I/O.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, Deserializer};

use super::ScenarioDoc;
use super::diagnostic::{line_col, with_suggestion};
use super::interpolate::{Vars, interpolate_table};
use super::request::Placed;

/// A problem in a scenario file, at a one-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Every problem found in one file (at least one), in the order they are written: a user
/// fixes them in one pass instead of one run per typo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ParseErrors(pub Vec<ParseError>);

impl ParseErrors {
    /// The first problem; what tests look at.
    #[cfg(test)]
    pub fn into_first(self) -> ParseError {
        self.0
            .into_iter()
            .next()
            .expect("ParseErrors holds at least one error")
    }
}

impl From<ParseError> for ParseErrors {
    fn from(error: ParseError) -> Self {
        ParseErrors(vec![error])
    }
}

impl ParseError {
    fn at(source: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let (line, col) = line_col(source, span.map_or(0, |s| s.start));
        ParseError {
            line,
            col,
            message: message.into(),
        }
    }
}

/// Parses and validates one scenario file's text; `${VAR}` references are resolved in `vars`.
///
/// TOML syntax, interpolation and typing stop at their first error (serde cannot go on);
/// the checks after that report every problem they find.
pub fn parse_scenario(source: &str, vars: &dyn Vars) -> Result<ScenarioDoc, ParseErrors> {
    let mut table = DeTable::parse(source)
        .map_err(|e| ParseError::at(source, e.span(), first_line(e.message())))?;
    table.get_mut().make_owned();
    interpolate_table(table.get_mut(), vars)
        .map_err(|(e, span)| ParseError::at(source, Some(span), e.message))?;
    // Baseline and sla checks are split between structs by key, which serde cannot do.
    let baseline = table.get_mut().remove("baseline");
    let sla = table.get_mut().remove("sla");
    let typing =
        |e: toml::de::Error| ParseError::at(source, e.span(), with_suggestion(e.message()));
    let mut doc = ScenarioDoc::deserialize(Deserializer::from(table)).map_err(typing)?;
    let placed = |e: Placed| ParseError::at(source, e.span, with_suggestion(&e.message));
    if let Some(baseline) = baseline {
        doc.baseline = super::baseline::from_toml(baseline).map_err(placed)?;
    }
    if let Some(sla) = sla {
        doc.sla = super::sla::from_toml(sla).map_err(placed)?;
    }
    let mut errors = Vec::new();
    validate(source, &doc, &mut errors);
    errors.sort_by_key(|e| (e.line, e.col));
    if errors.is_empty() {
        Ok(doc)
    } else {
        Err(ParseErrors(errors))
    }
}

/// A required program is a name looked up on PATH (`nginx`) or a path (`/opt/bin/nginx`),
/// and says how to get it: the hint is all a user sees when it is missing.
fn check_requirement(program: &str, hint: &str) -> Result<(), String> {
    if program.trim().is_empty() || program.chars().any(char::is_whitespace) {
        return Err(format!(
            "requires names a program without spaces (\"{program}\"): write its name, such as nginx, or its path"
        ));
    }
    if hint.trim().is_empty() {
        return Err(format!(
            "requires: the hint for {program} is empty: say how to install it, such as \"apt-get install {program}\""
        ));
    }
    Ok(())
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn validate(source: &str, doc: &ScenarioDoc, errors: &mut Vec<ParseError>) {
    let base_url = &doc.target.base_url;
    let text = base_url.get_ref();
    match url::Url::parse(text) {
        _ if text.trim() != text => errors.push(ParseError::at(
            source,
            Some(base_url.span()),
            format!("base_url \"{text}\" has spaces around it: remove them"),
        )),
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => errors.push(ParseError::at(
            source,
            Some(base_url.span()),
            format!(
                "invalid base_url \"{}\": expected an http:// or https:// URL such as \"http://127.0.0.1:8080\"",
                base_url.get_ref()
            ),
        )),
    }
    for name in &doc.target.secrets {
        // Judged as written too: `${API_KEY}` would look up a variable named by its value.
        let written = source.get(name.span()).unwrap_or_default();
        if !is_variable_name(name.get_ref()) || written.contains('$') {
            // The entry is not quoted: it may be a secret's value written by mistake.
            errors.push(ParseError::at(
                source,
                Some(name.span()),
                "secrets lists names of environment variables (letters, digits and _, not starting with a digit): write API_KEY, not its value or ${API_KEY}",
            ));
        }
    }
    for (program, hint) in &doc.target.requires {
        if let Err(message) = check_requirement(program, hint.get_ref()) {
            errors.push(ParseError::at(source, Some(hint.span()), message));
        }
    }
    if let Some(spawn) = &doc.target.spawn
        && spawn.command.get_ref().trim().is_empty()
    {
        errors.push(ParseError::at(
            source,
            Some(spawn.command.span()),
            "[target.spawn] command is empty: give the command that starts the server",
        ));
    }
    let smoke_names = doc.smoke.iter().map(|c| &c.get_ref().name);
    check_names(source, "smoke", smoke_names, errors);
    for check in &doc.smoke {
        if let Err(message) = check.get_ref().validate() {
            errors.push(ParseError::at(source, Some(check.span()), message));
        }
    }
    let baseline_names = doc.baseline.iter().map(|c| c.get_ref().name());
    check_names(source, "baseline", baseline_names, errors);
    for check in &doc.baseline {
        place(source, check.span(), check.get_ref().validate(), errors);
    }
    let inference_names = doc.inference.iter().map(|c| &c.get_ref().name);
    check_names(source, "inference", inference_names, errors);
    for check in &doc.inference {
        place(source, check.span(), check.get_ref().validate(), errors);
    }
    let sla_names = doc.sla.iter().map(|c| &c.get_ref().name);
    check_names(source, "sla", sla_names, errors);
    for check in &doc.sla {
        place(source, check.span(), check.get_ref().validate(), errors);
    }
}

/// A check's problems, each at the value it points at or else at the check.
fn place(
    source: &str,
    check: Range<usize>,
    problems: Vec<(String, Option<Range<usize>>)>,
    errors: &mut Vec<ParseError>,
) {
    for (message, at) in problems {
        let at = at.unwrap_or_else(|| check.clone());
        errors.push(ParseError::at(source, Some(at), message));
    }
}

fn is_variable_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// Every name valid, and unique within its kind (both places named when not).
fn check_names<'a>(
    source: &str,
    kind: &str,
    names: impl Iterator<Item = &'a Spanned<String>>,
    errors: &mut Vec<ParseError>,
) {
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    for name in names {
        if let Err(e) = validate_name(source, name.get_ref(), name.span()) {
            errors.push(e);
        }
        if let Some(first) = seen.insert(name.get_ref(), name.span()) {
            let (line, col) = line_col(source, first.start);
            errors.push(ParseError::at(
                source,
                Some(name.span()),
                format!(
                    "duplicate {kind} check name \"{}\": also defined at {line}:{col}; names must be unique within a kind",
                    name.get_ref()
                ),
            ));
        }
    }
}

/// Letters, digits, `_`, `-` and `.`: what a name may hold wherever it is typed or read
/// back (a test case name, a request of a mix in a threshold key).
pub(super) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Names become part of test case names, which are split on `::` and typed in filters.
fn validate_name(source: &str, name: &str, span: Range<usize>) -> Result<(), ParseError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ParseError::at(
            source,
            Some(span),
            format!(
                "invalid check name \"{name}\": use letters, digits, '_', '-' and '.' (it becomes part of the test name)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn vars(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    const HEAD: &str = "[target]\nbase_url = \"http://127.0.0.1:1\"\n";

    #[test]
    fn parses_a_full_smoke_check() {
        let text = format!(
            "{HEAD}headers = {{ Authorization = \"Bearer ${{TOKEN}}\" }}\n\
             [[smoke]]\nname = \"version\"\nget = \"/api/version\"\n\
             expect = {{ status = [200, 204], body_contains = \"x\", max_latency = \"500ms\", json = {{ \"/version\" = {{ regex = \"^0\" }} }} }}\n"
        );
        let doc = parse_scenario(&text, &vars).unwrap();
        assert_eq!(doc.target.headers["Authorization"], "Bearer s3cret");
        let check = doc.smoke[0].get_ref();
        assert_eq!(check.method(), "GET");
        assert_eq!(check.request_path(), "/api/version");
        assert_eq!(
            check.expect.status.as_ref().unwrap().get_ref().as_slice(),
            &[200, 204]
        );
        assert_eq!(
            check.expect.max_latency.as_ref().unwrap().get_ref().0,
            std::time::Duration::from_millis(500)
        );
    }

    #[rstest]
    #[case::unknown_key(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpcet = {}\n",
        6,
        1,
        "did you mean `expect`"
    )]
    #[case::bad_duration(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\ntimeout = \"10 sec\"\n",
        6,
        11,
        "unknown unit"
    )]
    #[case::unset_var(
        "[[smoke]]\nname = \"a\"\nget = \"${NOPE}\"\n",
        5,
        7,
        "NOPE is not set"
    )]
    #[case::no_request("[[smoke]]\nname = \"a\"\n", 3, 1, "has no request")]
    #[case::two_requests(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\npost = \"/\"\n",
        3,
        1,
        "more than one"
    )]
    #[case::bad_method(
        "[[smoke]]\nname = \"a\"\nmethod = \"GTE\"\npath = \"/\"\n",
        3,
        1,
        "unknown method"
    )]
    #[case::bad_name("[[smoke]]\nname = \"a b\"\nget = \"/\"\n", 4, 8, "invalid check name")]
    #[case::bad_pointer(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { json = { \"x\" = { equals = 1 } } }\n",
        6,
        21,
        "JSON pointer"
    )]
    #[case::bad_regex(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { body_regex = \"(\" }\n",
        6,
        25,
        "invalid regex"
    )]
    #[case::bad_status(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { status = 999 }\n",
        3,
        1,
        "not an HTTP status"
    )]
    #[case::wrong_type("[[smoke]]\nname = 5\nget = \"/\"\n", 4, 8, "invalid type")]
    #[case::toml_syntax("[[smoke]\n", 3, 9, "unclosed array table")]
    #[case::zero_timeout(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\ntimeout = \"0s\"\n",
        6,
        11,
        "is zero"
    )]
    #[case::endless_timeout(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\ntimeout = \"10000000000000000000s\"\n",
        6,
        11,
        "longer than a setting may be"
    )]
    #[case::no_status(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect = { status = [] }\n",
        3,
        1,
        "status is an empty list"
    )]
    #[case::bad_header_name(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nheaders = { \"X Bad\" = \"1\" }\n",
        6,
        11,
        "invalid header name \"X Bad\""
    )]
    #[case::bad_header_value(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nheaders = { X-Key = \"a\\nb\" }\n",
        6,
        11,
        "invalid value for header \"X-Key\""
    )]
    #[case::empty_requirement_hint(
        "requires = { nginx = \" \" }\n",
        3,
        22,
        "the hint for nginx is empty"
    )]
    #[case::program_with_a_space(
        "requires = { \"my nginx\" = \"apt-get install nginx\" }\n",
        3,
        27,
        "requires names a program without spaces"
    )]
    #[case::empty_command("[target.spawn]\ncommand = \" \"\n", 4, 11, "command is empty")]
    #[case::secret_value_for_a_name(
        "secrets = [\"API_KEY\", \"${TOKEN}!\"]\n",
        3,
        23,
        "secrets lists names of environment variables"
    )]
    #[case::secret_name_with_a_digit_first("secrets = [\"1KEY\"]\n", 3, 12, "write API_KEY")]
    #[case::empty_secret_name("secrets = [\"\"]\n", 3, 12, "write API_KEY")]
    #[case::size_without_unit("max_body = \"1024\"\n", 3, 12, "has no unit: write \"1024B\"")]
    #[case::size_as_integer("max_line = 1048576\n", 3, 12, "size 1048576 has no unit")]
    #[case::size_too_large("max_body = \"8GiB\"\n", 3, 12, "larger than a setting may be")]
    #[case::zero_size(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nmax_body = \"0B\"\n",
        6,
        12,
        "is zero"
    )]
    #[case::no_lines_in_a_smoke_body(
        "[[smoke]]\nname = \"a\"\nget = \"/\"\nmax_line = \"1MiB\"\n",
        6,
        1,
        "unknown field `max_line`"
    )]
    fn reports_errors_with_position(
        #[case] body: &str,
        #[case] line: usize,
        #[case] col: usize,
        #[case] message: &str,
    ) {
        let err = parse_scenario(&format!("{HEAD}{body}"), &vars)
            .unwrap_err()
            .into_first();
        assert_eq!((err.line, err.col), (line, col), "{err}");
        assert!(err.message.contains(message), "{err}");
    }

    #[test]
    fn secret_variables_are_names_and_never_quoted() {
        let text = format!("{HEAD}secrets = [\"API_KEY\", \"_x1\"]\n");
        let names: Vec<String> = parse_scenario(&text, &vars)
            .unwrap()
            .target
            .secrets
            .into_iter()
            .map(Spanned::into_inner)
            .collect();
        assert_eq!(names, ["API_KEY", "_x1"]);
        let mistaken = format!("{HEAD}secrets = [\"${{TOKEN}}\"]\n");
        let err = parse_scenario(&mistaken, &vars).unwrap_err().into_first();
        assert_eq!((err.line, err.col), (3, 12), "{err}");
        assert!(err.message.contains("secrets lists names"), "{err}");
        assert!(!err.message.contains("s3cret"), "{err}");
    }

    #[test]
    fn duplicate_names_name_both_places() {
        let text = format!(
            "{HEAD}[[smoke]]\nname = \"a\"\nget = \"/\"\n[[smoke]]\nname = \"a\"\nget = \"/x\"\n"
        );
        let err = parse_scenario(&text, &vars).unwrap_err().into_first();
        assert_eq!((err.line, err.col), (7, 8));
        assert!(err.message.contains("also defined at 4:8"), "{err}");
    }

    #[test]
    fn a_bad_target_header_is_placed_at_its_table() {
        let text = format!("{HEAD}headers = {{ \"a b\" = \"x\" }}\n");
        let err = parse_scenario(&text, &vars).unwrap_err().into_first();
        assert_eq!((err.line, err.col), (3, 11), "{err}");
        assert!(err.message.contains("invalid header name"), "{err}");
    }

    #[rstest]
    #[case("ftp://x")]
    #[case("localhost:8080")]
    #[case("http://")]
    #[case(" http://127.0.0.1:1 ")]
    fn rejects_bad_base_urls(#[case] url: &str) {
        let err = parse_scenario(&format!("[target]\nbase_url = \"{url}\"\n"), &vars)
            .unwrap_err()
            .into_first();
        assert_eq!((err.line, err.col), (2, 12));
        assert!(err.message.contains("base_url"), "{err}");
    }

    const HX: &str = "[[inference]]\nname = \"hx\"\nmodel = \"m\"\nprompt = \"p\"\n";

    #[test]
    fn parses_an_inference_check_with_variants_and_thresholds() {
        let text = format!(
            "{HEAD}{HX}stream = [true, false]\nparams = {{ temperature = 0 }}\nexpect = {{ text = \"HX-OK\", ttft = \"< 2s\", e2e_tokens_per_s = \"> 100\" }}\n"
        );
        let doc = parse_scenario(&text, &vars).unwrap();
        let check = doc.inference[0].get_ref();
        assert_eq!(
            check.variants(),
            vec![(Some("stream"), true), (Some("no_stream"), false)]
        );
        let names: Vec<&str> = check
            .expect
            .thresholds
            .iter()
            .map(|(n, _)| n.get_ref().as_str())
            .collect();
        assert_eq!(names, ["ttft", "e2e_tokens_per_s"]);
        assert_eq!(check.params["temperature"], 0);
    }

    #[rstest]
    #[case::typo_metric("expect = { tfft = \"< 2s\" }\n", "did you mean `ttft`")]
    #[case::wrong_unit("expect = { ttft = \"< 2\" }\n", "does not fit ttft")]
    #[case::count_with_unit(
        "expect = { output_tokens = \"> 2s\" }\n",
        "does not fit output_tokens"
    )]
    #[case::itl_without_stream(
        "stream = false\nexpect = { \"itl.max\" = \"< 1s\" }\n",
        "only measured when streaming"
    )]
    #[case::bad_stream("stream = [true, true]\n", "stream is true, false or [true, false]")]
    #[case::bad_threshold("expect = { ttft = \"2s\" }\n", "missing comparison")]
    #[case::reserved_extra("extra = { stream = false }\n", "extra sets \"stream\"")]
    #[case::unquoted_dotted_figure(
        "expect = { itl.max = \"< 1s\" }\n",
        "unknown key `itl` in expect; quote a dotted figure name: \"itl.mean\" or \"itl.max\""
    )]
    #[case::rate_without_stream(
        "stream = [true, false]\nexpect = { tokens_per_s = \"> 1\" }\n",
        "tokens_per_s is only measured when streaming"
    )]
    fn rejects_bad_inference_checks(#[case] tail: &str, #[case] message: &str) {
        let err = parse_scenario(&format!("{HEAD}{HX}{tail}"), &vars)
            .unwrap_err()
            .into_first();
        assert!(err.message.contains(message), "{err}");
    }

    const EMBED: &str = "[[inference]]\nname = \"e\"\nmodel = \"m\"\ninput = [\"a\", \"b\"]\n";

    #[test]
    fn parses_an_embeddings_check() {
        let text = format!(
            "{HEAD}{EMBED}expect = {{ dimensions = 576, latency = \"< 1s\", inputs_per_s = \"> 10/s\", prompt_tokens = \"> 1\", load_duration = \"< 1s\" }}\n"
        );
        let doc = parse_scenario(&text, &vars).unwrap();
        let check = doc.inference[0].get_ref();
        assert_eq!(check.endpoint(), crate::scenario::Endpoint::Embeddings);
        assert_eq!(check.inputs(), ["a", "b"]);
        assert_eq!(check.variants(), vec![(None, false)]);
        assert_eq!(
            check.expect.dimensions.as_ref().map(|d| *d.get_ref()),
            Some(576)
        );
        assert_eq!(check.expect.thresholds.len(), 4);
        let threshold = format!("{HEAD}{EMBED}expect = {{ dimensions = \">= 384\" }}\n");
        let doc = parse_scenario(&threshold, &vars).unwrap();
        let expect = &doc.inference[0].get_ref().expect;
        assert_eq!(expect.dimensions, None);
        assert_eq!(expect.thresholds[0].0.get_ref(), "dimensions");
    }

    /// Each bad combination of an embeddings check, and each embeddings key on a
    /// generation, is a load error where it is written.
    #[rstest]
    #[case::stream(
        EMBED,
        "stream = false\n",
        7,
        10,
        "stream does not apply to embeddings"
    )]
    #[case::both_streams(
        EMBED,
        "stream = [true, false]\n",
        7,
        10,
        "stream does not apply to embeddings"
    )]
    #[case::first_token(
        EMBED,
        "first_token_timeout = \"1s\"\n",
        7,
        23,
        "first_token_timeout does not apply to embeddings"
    )]
    #[case::max_line(
        EMBED,
        "max_line = \"1MiB\"\n",
        7,
        12,
        "max_line does not apply to embeddings: the vectors come in one body, held to max_body"
    )]
    #[case::ttft(
        EMBED,
        "expect = { ttft = \"< 1s\" }\n",
        7,
        12,
        "ttft is not measured for embeddings, which generate no text; an embeddings check takes thresholds on latency, dimensions, inputs_per_s, prompt_tokens, load_duration"
    )]
    #[case::itl(
        EMBED,
        "expect = { \"itl.max\" = \"< 1s\" }\n",
        7,
        12,
        "itl.max is not measured for embeddings"
    )]
    #[case::output_tokens(
        EMBED,
        "expect = { output_tokens = \"== 3\" }\n",
        7,
        12,
        "output_tokens is not measured for embeddings"
    )]
    #[case::text(
        EMBED,
        "expect = { text = \"x\" }\n",
        7,
        19,
        "text is about generated text; an embeddings check expects dimensions"
    )]
    #[case::schema(
        EMBED,
        "expect = { json_schema = { type = \"object\" } }\n",
        7,
        26,
        "json_schema is about generated text"
    )]
    #[case::chat(
        EMBED,
        "endpoint = \"chat\"\n",
        7,
        12,
        "input is the text to embed, and this endpoint generates"
    )]
    #[case::with_a_prompt(EMBED, "prompt = \"p\"\n", 3, 1, "has both prompt and input: keep one")]
    #[case::base64(
        EMBED,
        "extra = { encoding_format = \"base64\" }\n",
        3,
        1,
        "extra sets \"encoding_format\", which the check sets itself"
    )]
    #[case::zero_dimensions(
        EMBED,
        "expect = { dimensions = 0 }\n",
        7,
        25,
        "a vector has at least one dimension"
    )]
    #[case::negative_dimensions(
        EMBED,
        "expect = { dimensions = -1 }\n",
        7,
        25,
        "dimensions = -1: a vector has at least one dimension"
    )]
    #[case::fraction_of_dimensions(
        EMBED,
        "expect = { dimensions = 1.5 }\n",
        7,
        25,
        "a number of dimensions such as 576"
    )]
    #[case::bare_string_dimensions(
        EMBED,
        "expect = { dimensions = \"576\" }\n",
        7,
        25,
        "missing comparison"
    )]
    #[case::duration_dimensions(
        EMBED,
        "expect = { dimensions = \"< 2s\" }\n",
        7,
        25,
        "does not fit dimensions"
    )]
    #[case::typo(
        EMBED,
        "expect = { dimesions = 576 }\n",
        7,
        12,
        "did you mean `dimensions`? (answer keys: dimensions; figures: latency, dimensions, inputs_per_s, prompt_tokens, load_duration)"
    )]
    #[case::dimensions(
        HX,
        "expect = { dimensions = 576 }\n",
        7,
        25,
        "dimensions is measured only for embeddings (input = ...)"
    )]
    #[case::dimensions_threshold(
        HX,
        "expect = { dimensions = \">= 3\" }\n",
        7,
        12,
        "dimensions is measured only for embeddings"
    )]
    #[case::inputs_per_s(
        HX,
        "expect = { inputs_per_s = \"> 1\" }\n",
        7,
        12,
        "inputs_per_s is measured only for embeddings"
    )]
    #[case::endpoint(
        HX,
        "endpoint = \"embeddings\"\n",
        7,
        12,
        "endpoint = \"embeddings\" takes input = \"text\" or input = [\"a\", \"b\"], not prompt or messages"
    )]
    #[case::input_beside_a_prompt(HX, "input = [\"a\"]\n", 3, 1, "has both prompt and input")]
    #[case::empty_input(
        "[[inference]]\nname = \"e\"\nmodel = \"m\"\n",
        "input = []\n",
        6,
        9,
        "input is an empty list: give at least one text to embed"
    )]
    fn rejects_bad_embeddings_checks(
        #[case] check: &str,
        #[case] tail: &str,
        #[case] line: usize,
        #[case] col: usize,
        #[case] message: &str,
    ) {
        let errors = parse_scenario(&format!("{HEAD}{check}{tail}"), &vars)
            .unwrap_err()
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].col), (line, col), "{errors:?}");
        assert!(errors[0].message.contains(message), "{errors:?}");
    }

    #[test]
    fn every_metric_threshold_is_known_with_its_unit() {
        let text = format!(
            "{HEAD}{HX}expect = {{ ttfb = \"< 1s\", ttft = \"< 1s\", latency = \"< 1s\", \"itl.mean\" = \"< 1s\", \"itl.max\" = \"< 1s\", tpot = \"< 1s\", output_tokens = \"> 1\", tokens_per_s = \"> 1\", e2e_tokens_per_s = \"> 1\", server_tokens_per_s = \"> 1/s\", prompt_tokens = \"> 1\", prompt_tokens_per_s = \"> 1\", load_duration = \"< 1s\" }}\n"
        );
        let doc = parse_scenario(&text, &vars).unwrap();
        let thresholds = &doc.inference[0].get_ref().expect.thresholds;
        assert_eq!(thresholds.len(), 13);
        for (name, _) in thresholds {
            assert!(crate::metric::unit_of(name.get_ref()).is_some(), "{name:?}");
        }
    }

    #[test]
    fn a_threshold_of_the_wrong_unit_is_reported_at_its_value() {
        let text = format!("{HEAD}{HX}expect = {{ text = \"x\", ttft = \"< 2\" }}\n");
        let err = parse_scenario(&text, &vars).unwrap_err().into_first();
        assert_eq!((err.line, err.col), (7, 31), "{err}");
        assert!(err.message.contains("does not fit ttft"), "{err}");
    }

    #[test]
    fn inference_needs_exactly_one_input() {
        let none = format!("{HEAD}[[inference]]\nname = \"a\"\nmodel = \"m\"\n");
        assert!(
            parse_scenario(&none, &vars)
                .unwrap_err()
                .into_first()
                .message
                .contains("has no input")
        );
        let both = format!("{HEAD}{HX}messages = [{{ role = \"user\", content = \"x\" }}]\n");
        assert!(
            parse_scenario(&both, &vars)
                .unwrap_err()
                .into_first()
                .message
                .contains("both prompt and messages")
        );
    }

    #[test]
    fn every_validation_error_of_a_file_is_reported_in_order() {
        let text = format!(
            "{HEAD}[[smoke]]\nname = \"a b\"\nget = \"/\"\n[[smoke]]\nname = \"c\"\n{HX}expect = {{ ttft = \"< 2\" }}\n"
        );
        let errors = parse_scenario(&text, &vars).unwrap_err().0;
        let found: Vec<(usize, String)> = errors
            .iter()
            .map(|e| (e.line, e.message.split(':').next().unwrap().to_string()))
            .collect();
        assert_eq!(
            found,
            [
                (4, "invalid check name \"a b\"".to_string()),
                (6, "smoke check \"c\" has no request".to_string()),
                (12, "inference check \"hx\"".to_string()),
            ]
        );
    }

    #[rstest]
    #[case::deep_dotted_key("[[smoke]]\nname = \"a\"\nget = \"/\"\nexpect.json.x.y.z = 1\n", 6, 13)]
    #[case::deep_top_level("a.b.c.d = 1\n", 3, 1)]
    #[case::deep_in_target("timeout.x.y = \"1s\"\n", 3, 1)]
    fn deeply_nested_keys_are_placed(#[case] body: &str, #[case] line: usize, #[case] col: usize) {
        let err = parse_scenario(&format!("{HEAD}{body}"), &vars)
            .unwrap_err()
            .into_first();
        assert_eq!((err.line, err.col), (line, col), "{err}");
    }

    /// Every problem of an `expect` table is reported, each at its own key, in file order.
    #[test]
    fn every_unknown_expect_key_is_placed() {
        let text = format!(
            "{HEAD}{HX}expect = {{ ttfx = \"< 1s\", error_rate = \"< 1%\", latncy = \"< 2s\", ttft = \"< 2\" }}\n"
        );
        let errors = parse_scenario(&text, &vars).unwrap_err().0;
        let found: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.col)).collect();
        assert_eq!(found, [(7, 12), (7, 27), (7, 48), (7, 72)], "{errors:?}");
        assert!(
            errors[0].message.contains("unknown key `ttfx`"),
            "{errors:?}"
        );
        assert!(
            errors[2].message.contains("did you mean `latency`"),
            "{errors:?}"
        );
        assert!(
            errors[3].message.contains("does not fit ttft"),
            "{errors:?}"
        );
    }

    #[rstest]
    #[case("ttft.p95", "ttft.p95 is a statistic over repeated requests")]
    #[case(
        "ttft.p95x",
        "unknown statistic \"p95x\" of ttft; did you mean \"p95\"?"
    )]
    fn statistics_are_named_as_such(#[case] key: &str, #[case] message: &str) {
        let text = format!("{HEAD}{HX}expect = {{ \"{key}\" = \"< 1s\" }}\n");
        let error = parse_scenario(&text, &vars).unwrap_err().into_first();
        assert!(error.message.contains(message), "{error}");
    }

    #[test]
    fn missing_target_is_reported() {
        let err = parse_scenario("[[smoke]]\nname = \"a\"\nget = \"/\"\n", &vars)
            .unwrap_err()
            .into_first();
        assert!(err.message.contains("missing field `target`"), "{err}");
    }
}
