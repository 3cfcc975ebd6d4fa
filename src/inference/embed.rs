//! One embeddings request: sent on the client path every request takes (timeouts, the
//! stale-connection resend, transport errors in plain words), its body read into vectors and
//! what the server says about its work.
//!
//! Reading is pure and never panics, whatever the body: a body that is not the flavour's
//! wire format is an error naming the field that is wrong; values that are not finite are
//! read, so that judging can name the input and position where they are.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::chunk;
use super::client::{GenerationError, error_message};
use super::rate::per_second;
use super::request::EmbeddingsRequest;
use crate::client::http::{Body, HttpRequest, send_with, shared_client};
use crate::scenario::{Api, Size};
use crate::target::Target;
use crate::text::excerpt;

/// The vectors of one response, in the order of the inputs, and the server's counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embeddings {
    /// A value the server could not write as a JSON number is kept as a non-finite one:
    /// `NaN`, `Infinity` and `-Infinity` (Python's json), a number too large for a double
    /// (an infinity), and `null` (how llama.cpp and orjson write both, read as NaN).
    pub vectors: Vec<Vec<f64>>,
    /// Ollama `prompt_eval_count`; OpenAI `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// Ollama `load_duration`, in seconds.
    pub load_seconds: Option<f64>,
}

/// Why a body is not an embeddings response of the target's flavour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error("not JSON ({detail}): {body:?}")]
    NotJson { detail: String, body: String },
    #[error("no \"{field}\" list in the body")]
    Missing { field: &'static str },
    #[error("{at} is {found}, not {wanted}")]
    WrongType {
        at: String,
        found: &'static str,
        wanted: &'static str,
    },
    #[error(
        "{at}.index is {index}, which another vector has or which is past the {count} vectors sent"
    )]
    Index {
        at: String,
        index: u64,
        count: usize,
    },
    #[error("{0}")]
    Reported(String),
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddingsError {
    /// Refused, timed out, an HTTP error status: the same faults, in the same words, as a
    /// generation request's.
    #[error(transparent)]
    Exchange(#[from] GenerationError),
    #[error(
        "malformed embeddings response from {url}: {error}; does the server speak the api set in [target]?"
    )]
    Malformed { url: String, error: BodyError },
    #[error("server error from {url}: {message}")]
    Server { url: String, message: String },
}

/// What came back, and when the last byte did, counted from the send that was answered.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub embeddings: Embeddings,
    pub latency: Duration,
}

/// Sends the request and reads the whole body, all within `timeout` and `max_body`.
pub async fn embed(
    target: &Target,
    request: &EmbeddingsRequest,
    timeout: Duration,
    max_body: Size,
) -> Result<Embedded, EmbeddingsError> {
    let client = shared_client(target, request.path).map_err(GenerationError::Request)?;
    embed_with(client, target, request, timeout, max_body).await
}

/// [`embed`] with a client other than the target's shared one (see
/// [`Target::new_client`]): a load's worker sends on a client of its own.
pub async fn embed_with(
    client: &reqwest::Client,
    target: &Target,
    request: &EmbeddingsRequest,
    timeout: Duration,
    max_body: Size,
) -> Result<Embedded, EmbeddingsError> {
    let http = HttpRequest {
        method: reqwest::Method::POST,
        path: request.path.into(),
        query: Vec::new(),
        headers: Default::default(),
        body: Body::Json(request.body.clone()),
    };
    let timed = send_with(client, target, &http, timeout, max_body)
        .await
        .map_err(GenerationError::Request)?;
    let response = timed.response;
    let url = target.url(request.path);
    if !(200..300).contains(&response.status) {
        return Err(GenerationError::Http {
            url,
            status: response.status,
            message: error_message(&String::from_utf8_lossy(&response.body)),
        }
        .into());
    }
    let embeddings = read(target.api, &response.body).map_err(|error| match error {
        BodyError::Reported(message) => EmbeddingsError::Server {
            url: url.clone(),
            message,
        },
        error => EmbeddingsError::Malformed {
            url: url.clone(),
            error,
        },
    })?;
    Ok(Embedded {
        embeddings,
        latency: response.latency,
    })
}

/// Reads a whole body: Ollama `{"embeddings": [[...], ...], "prompt_eval_count": n,
/// "load_duration": ns}`, or OpenAI `{"data": [{"embedding": [...], "index": 0}, ...],
/// "usage": {"prompt_tokens": n}}`. Counts of another kind than a number read as absent,
/// as in the generation readers; the vectors must be there and be lists of numbers.
pub fn read(api: Api, body: &[u8]) -> Result<Embeddings, BodyError> {
    // Quoting rescans the body: done only for a body that is not JSON as it stands.
    let json: Value = serde_json::from_slice(body)
        .or_else(|_| serde_json::from_slice(&quote_non_finite(body)))
        .map_err(|e| BodyError::NotJson {
            detail: e.to_string(),
            body: excerpt(String::from_utf8_lossy(body).trim(), 120),
        })?;
    if let Some(message) = chunk::error_message(&json) {
        return Err(BodyError::Reported(message));
    }
    match api {
        Api::Ollama => read_ollama(&json),
        _ => read_openai(&json),
    }
}

fn read_ollama(json: &Value) -> Result<Embeddings, BodyError> {
    let list = list(json, "embeddings")?;
    let vectors = list
        .iter()
        .enumerate()
        .map(|(i, vector)| read_vector(vector, &format!("embeddings[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Embeddings {
        vectors,
        prompt_tokens: json["prompt_eval_count"].as_u64(),
        load_seconds: chunk::nanos(json["load_duration"].as_f64()),
    })
}

/// OpenAI says which input each vector is for (`index`); where every item says so, that
/// order is taken, else the order of the list.
fn read_openai(json: &Value) -> Result<Embeddings, BodyError> {
    let data = list(json, "data")?;
    let mut vectors = vec![Vec::new(); data.len()];
    let mut placed = vec![false; data.len()];
    let indexed = data.iter().all(|item| item["index"].is_u64());
    for (i, item) in data.iter().enumerate() {
        let at = format!("data[{i}]");
        if !item.is_object() {
            return Err(wrong_type(at, item, "an object with an embedding"));
        }
        let index = if indexed {
            item["index"].as_u64().unwrap_or_default()
        } else {
            i as u64
        };
        let slot = usize::try_from(index)
            .ok()
            .filter(|&slot| slot < data.len() && !placed[slot])
            .ok_or(BodyError::Index {
                at: at.clone(),
                index,
                count: data.len(),
            })?;
        vectors[slot] = read_vector(&item["embedding"], &format!("{at}.embedding"))?;
        placed[slot] = true;
    }
    Ok(Embeddings {
        vectors,
        prompt_tokens: json["usage"]["prompt_tokens"].as_u64(),
        load_seconds: None,
    })
}

fn list<'a>(json: &'a Value, field: &'static str) -> Result<&'a Vec<Value>, BodyError> {
    match &json[field] {
        Value::Null => Err(BodyError::Missing { field }),
        Value::Array(list) => Ok(list),
        other => Err(wrong_type(field.to_string(), other, "a list")),
    }
}

fn read_vector(vector: &Value, at: &str) -> Result<Vec<f64>, BodyError> {
    let Value::Array(values) = vector else {
        return Err(wrong_type(at.to_string(), vector, "a list of numbers"));
    };
    values
        .iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
            Value::Null => Ok(f64::NAN),
            Value::String(text) => match text.parse::<f64>() {
                Ok(n) if !n.is_finite() => Ok(n),
                _ => Err(wrong_type(format!("{at}[{i}]"), value, "a number")),
            },
            other => Err(wrong_type(format!("{at}[{i}]"), other, "a number")),
        })
        .collect()
}

fn wrong_type(at: String, found: &Value, wanted: &'static str) -> BodyError {
    let found = match found {
        Value::Null => "missing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    BodyError::WrongType { at, found, wanted }
}

/// JSON has no NaN or infinity. Servers that meet one write `NaN`, `Infinity` or
/// `-Infinity` (Python's json) or a number out of a double's range, all of which a JSON
/// parser refuses; each is quoted here (`"NaN"`), so that the body still reads and the
/// vector shows a value that is not finite. Text inside strings is left as it is.
fn quote_non_finite(body: &[u8]) -> Cow<'_, [u8]> {
    let mut tokens = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < body.len() {
        let byte = body[i];
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest = &body[i..];
        let length = if byte == b'"' {
            in_string = true;
            1
        } else if let Some(word) = [&b"NaN"[..], b"Infinity", b"-Infinity"]
            .into_iter()
            .find(|word| rest.starts_with(word))
        {
            tokens.push(i..i + word.len());
            word.len()
        } else if byte == b'-' || byte.is_ascii_digit() {
            let length = rest
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(rest.len());
            let number = std::str::from_utf8(&rest[..length]).ok();
            if number
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|n| !n.is_finite())
            {
                tokens.push(i..i + length);
            }
            length
        } else {
            1
        };
        i += length;
    }
    if tokens.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut quoted = Vec::with_capacity(body.len() + 2 * tokens.len());
    let mut copied = 0;
    for token in tokens {
        quoted.extend_from_slice(&body[copied..token.start]);
        quoted.push(b'"');
        quoted.extend_from_slice(&body[token.clone()]);
        quoted.push(b'"');
        copied = token.end;
    }
    quoted.extend_from_slice(&body[copied..]);
    Cow::Owned(quoted)
}

/// The figures of one embeddings request, in the order of `EMBEDDINGS_FIGURES`:
/// `dimensions` is the length of the first non-empty vector (judging holds every other to
/// it; an empty one is a violation of its own, not a figure of 0).
pub fn figures(embeddings: &Embeddings, inputs: usize, latency_s: f64) -> Vec<(&'static str, f64)> {
    let all = [
        ("latency", Some(latency_s)),
        (
            "dimensions",
            embeddings
                .vectors
                .iter()
                .find(|v| !v.is_empty())
                .map(|v| v.len() as f64),
        ),
        ("inputs_per_s", per_second(inputs as u64, latency_s)),
        ("prompt_tokens", embeddings.prompt_tokens.map(|n| n as f64)),
        ("load_duration", embeddings.load_seconds),
    ];
    all.into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
}

/// The vectors in a few words, for the heading of a case: `3 vectors of 576 dimensions`,
/// or the length of each when they differ.
pub fn describe(vectors: &[Vec<f64>]) -> String {
    let count = match vectors.len() {
        0 => return "no vector".into(),
        1 => "1 vector".to_string(),
        n => format!("{n} vectors"),
    };
    let lengths: Vec<String> = vectors.iter().map(|v| v.len().to_string()).collect();
    let dimensions = if lengths.iter().all(|n| *n == lengths[0]) {
        lengths[0].clone()
    } else if lengths.len() <= DESCRIBED {
        lengths.join(", ")
    } else {
        format!("{}, …", lengths[..DESCRIBED].join(", "))
    };
    format!("{count} of {dimensions} dimensions")
}

/// How many lengths a description lists when they differ.
const DESCRIBED: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn vectors(api: Api, body: &str) -> Vec<Vec<f64>> {
        read(api, body.as_bytes()).unwrap().vectors
    }

    #[rstest]
    #[case::ollama_one(Api::Ollama,
        r#"{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.05007221]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#,
        vec![vec![0.010071029, -0.0017594862, 0.05007221]], Some(8), Some(0.0010195))]
    #[case::ollama_batch(Api::Ollama,
        r#"{"model":"m","embeddings":[[1,2],[3,4],[5,6]],"prompt_eval_count":12}"#,
        vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]], Some(12), None)]
    #[case::ollama_counts_of_another_kind(Api::Ollama,
        r#"{"embeddings":[[1]],"prompt_eval_count":"8","load_duration":null}"#,
        vec![vec![1.0]], None, None)]
    #[case::openai_one(Api::Openai,
        r#"{"model":"smollm2","object":"list","usage":{"prompt_tokens":2,"total_tokens":2},"data":[{"embedding":[-0.02,0.5],"index":0,"object":"embedding"}]}"#,
        vec![vec![-0.02, 0.5]], Some(2), None)]
    #[case::openai_out_of_order(Api::Openai,
        r#"{"data":[{"embedding":[2],"index":1},{"embedding":[3],"index":2},{"embedding":[1],"index":0}],"usage":{"prompt_tokens":6}}"#,
        vec![vec![1.0], vec![2.0], vec![3.0]], Some(6), None)]
    #[case::openai_without_indices(Api::Openai,
        r#"{"data":[{"embedding":[1]},{"embedding":[2],"index":0}]}"#,
        vec![vec![1.0], vec![2.0]], None, None)]
    #[case::empty_vectors_are_read(Api::Ollama,
        r#"{"embeddings":[[],[1]]}"#,
        vec![vec![], vec![1.0]], None, None)]
    #[case::no_vectors(Api::Openai, r#"{"data":[]}"#, vec![], None, None)]
    fn reads_both_flavours(
        #[case] api: Api,
        #[case] body: &str,
        #[case] vectors: Vec<Vec<f64>>,
        #[case] prompt_tokens: Option<u64>,
        #[case] load_seconds: Option<f64>,
    ) {
        assert_eq!(
            read(api, body.as_bytes()),
            Ok(Embeddings {
                vectors,
                prompt_tokens,
                load_seconds,
            })
        );
    }

    /// Non-finite values read as such wherever they stand, and text inside strings that
    /// looks like them is left alone.
    #[rstest]
    #[case::python_nan(r#"{"embeddings":[[0.5,NaN,1]]}"#, 1, "NaN")]
    #[case::python_infinity(r#"{"embeddings":[[Infinity, 0]]}"#, 0, "inf")]
    #[case::python_negative_infinity(r#"{"embeddings":[[0,-Infinity]]}"#, 1, "-inf")]
    #[case::out_of_range(r#"{"embeddings":[[0,1e999]]}"#, 1, "inf")]
    #[case::negative_out_of_range(r#"{"embeddings":[[-1.5e400]]}"#, 0, "-inf")]
    #[case::null(r#"{"embeddings":[[0,null]]}"#, 1, "NaN")]
    #[case::quoted(r#"{"embeddings":[[0,"-Infinity"]]}"#, 1, "-inf")]
    #[case::after_a_string(r#"{"model":"a \"NaN\" 1e999","embeddings":[[NaN]]}"#, 0, "NaN")]
    fn reads_values_that_are_not_finite(
        #[case] body: &str,
        #[case] position: usize,
        #[case] shown: &str,
    ) {
        let vectors = vectors(Api::Ollama, body);
        assert_eq!(vectors[0][position].to_string(), shown);
        assert_eq!(
            vectors[0].iter().filter(|v| !v.is_finite()).count(),
            1,
            "{vectors:?}"
        );
    }

    #[test]
    fn strings_that_look_like_non_finite_values_stay_text() {
        let body = r#"{"model":"NaN -Infinity 1e999 \\","embeddings":[[1]]}"#;
        assert_eq!(vectors(Api::Ollama, body), [[1.0]]);
    }

    #[rstest]
    #[case::not_json(
        Api::Ollama,
        "<html>502 Bad Gateway</html>",
        "not JSON (expected value at line 1 column 1): \"<html>502 Bad Gateway</html>\""
    )]
    #[case::empty(
        Api::Openai,
        "",
        "not JSON (EOF while parsing a value at line 1 column 0): \"\""
    )]
    #[case::cut(
        Api::Ollama,
        r#"{"embeddings":[[0.1,0.2"#,
        "not JSON (EOF while parsing a list at line 1 column 23)"
    )]
    #[case::missing_ollama(
        Api::Ollama,
        r#"{"embedding":[0.1]}"#,
        "no \"embeddings\" list in the body"
    )]
    #[case::missing_openai(Api::Openai, r#"{"object":"list"}"#, "no \"data\" list in the body")]
    #[case::not_an_object(Api::Openai, "[1, 2]", "no \"data\" list in the body")]
    #[case::list_of_another_kind(
        Api::Ollama,
        r#"{"embeddings":{"0":[1]}}"#,
        "embeddings is an object, not a list"
    )]
    #[case::flat_list(
        Api::Ollama,
        r#"{"embeddings":[0.1,0.2]}"#,
        "embeddings[0] is a number, not a list of numbers"
    )]
    #[case::string_value(
        Api::Ollama,
        r#"{"embeddings":[[0.1,"0.2"]]}"#,
        "embeddings[0][1] is a string, not a number"
    )]
    #[case::nested_value(
        Api::Ollama,
        r#"{"embeddings":[[[0.1]]]}"#,
        "embeddings[0][0] is a list, not a number"
    )]
    #[case::boolean_value(
        Api::Openai,
        r#"{"data":[{"embedding":[true]}]}"#,
        "data[0].embedding[0] is a boolean, not a number"
    )]
    #[case::base64(
        Api::Openai,
        r#"{"data":[{"embedding":"AAAAAA==","index":0}]}"#,
        "data[0].embedding is a string, not a list of numbers"
    )]
    #[case::no_embedding(
        Api::Openai,
        r#"{"data":[{"index":0}]}"#,
        "data[0].embedding is missing, not a list of numbers"
    )]
    #[case::item_of_another_kind(
        Api::Openai,
        r#"{"data":[[0.1]]}"#,
        "data[0] is a list, not an object with an embedding"
    )]
    #[case::index_twice(
        Api::Openai,
        r#"{"data":[{"embedding":[1],"index":0},{"embedding":[2],"index":0}]}"#,
        "data[1].index is 0, which another vector has"
    )]
    #[case::index_past_the_end(
        Api::Openai,
        r#"{"data":[{"embedding":[1],"index":7}]}"#,
        "data[0].index is 7, which another vector has or which is past the 1 vectors sent"
    )]
    #[case::huge_index(
        Api::Openai,
        r#"{"data":[{"embedding":[1],"index":18446744073709551615}]}"#,
        "data[0].index is 18446744073709551615"
    )]
    #[case::reported(
        Api::Ollama,
        r#"{"error":"this model does not support embeddings"}"#,
        "this model does not support embeddings"
    )]
    #[case::reported_openai(
        Api::Openai,
        r#"{"error":{"message":"input is too large","type":"invalid_request_error"}}"#,
        "input is too large"
    )]
    fn refuses_bodies_of_another_shape(
        #[case] api: Api,
        #[case] body: &str,
        #[case] message: &str,
    ) {
        let error = read(api, body.as_bytes()).unwrap_err().to_string();
        assert!(error.starts_with(message), "{error}");
    }

    #[test]
    fn never_panics_on_any_cut_of_a_body() {
        let body = r#"{"data":[{"embedding":[0.5,-Infinity,1e999,null,"NaN"],"index":0}],"model":"\"NaN\\","usage":{"prompt_tokens":3}}"#;
        for end in 0..=body.len() {
            for api in [Api::Ollama, Api::Openai] {
                let _ = read(api, &body.as_bytes()[..end]);
            }
        }
        assert_eq!(vectors(Api::Openai, body)[0].len(), 5);
    }

    #[test]
    fn figures_are_those_of_embeddings_checks_in_their_order() {
        let embeddings = Embeddings {
            vectors: vec![vec![0.0; 576], vec![0.0; 576]],
            prompt_tokens: Some(6),
            load_seconds: Some(0.25),
        };
        let figures = figures(&embeddings, 2, 0.5);
        assert_eq!(
            figures,
            [
                ("latency", 0.5),
                ("dimensions", 576.0),
                ("inputs_per_s", 4.0),
                ("prompt_tokens", 6.0),
                ("load_duration", 0.25)
            ]
        );
        let names: Vec<&str> = figures.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, crate::scenario::inference::EMBEDDINGS_FIGURES);
        for name in names {
            assert!(crate::metric::unit_of(name).is_some(), "{name}");
        }
    }

    #[rstest]
    #[case(&[], "no vector")]
    #[case(&[3], "1 vector of 3 dimensions")]
    #[case(&[576, 576, 576], "3 vectors of 576 dimensions")]
    #[case(&[2, 0, 2], "3 vectors of 2, 0, 2 dimensions")]
    #[case(&[1, 2, 3, 4, 5, 6, 7, 8, 9], "9 vectors of 1, 2, 3, 4, 5, 6, 7, 8, … dimensions")]
    fn describes_the_vectors(#[case] lengths: &[usize], #[case] expected: &str) {
        let vectors: Vec<Vec<f64>> = lengths.iter().map(|&n| vec![0.0; n]).collect();
        assert_eq!(describe(&vectors), expected);
    }

    #[test]
    fn dimensions_come_from_the_first_vector_that_has_any() {
        let embeddings = Embeddings {
            vectors: vec![Vec::new(), vec![0.0; 576]],
            ..Embeddings::default()
        };
        assert!(figures(&embeddings, 2, 0.5).contains(&("dimensions", 576.0)));
    }

    #[test]
    fn figures_without_a_basis_are_left_out() {
        let figures = super::figures(&Embeddings::default(), 1, 0.0);
        assert_eq!(figures, [("latency", 0.0)]);
    }
}
