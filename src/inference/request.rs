//! The request body for one generation or one embeddings request, per API flavour. Pure, so
//! the exact wire format of every flavour and mode is table-tested.

use serde_json::{Map, Value, json};

use crate::scenario::{Api, Endpoint, InferenceCheck, OneOrMany};

/// What one inference case sends.
#[derive(Debug, Clone, PartialEq)]
pub enum InferenceRequest {
    Generation(GenerationRequest),
    Embeddings(EmbeddingsRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub path: &'static str,
    pub body: Value,
    pub stream: bool,
}

/// Texts to embed, sent in one request; the vectors come back in one body.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub path: &'static str,
    pub body: Value,
    /// How many texts were sent: one vector is due for each.
    pub inputs: usize,
}

impl InferenceRequest {
    pub fn path(&self) -> &'static str {
        match self {
            InferenceRequest::Generation(request) => request.path,
            InferenceRequest::Embeddings(request) => request.path,
        }
    }
}

/// The request of one variant of a check: a generation, streamed or not, or embeddings of
/// its `input` (which are never streamed).
pub fn build(api: Api, check: &InferenceCheck, stream: bool) -> Result<InferenceRequest, String> {
    match check.endpoint() {
        Endpoint::Embeddings => embeddings(api, check).map(InferenceRequest::Embeddings),
        Endpoint::Chat | Endpoint::Completion => {
            generation(api, check, stream).map(InferenceRequest::Generation)
        }
    }
}

fn generation(api: Api, check: &InferenceCheck, stream: bool) -> Result<GenerationRequest, String> {
    let endpoint = check.endpoint();
    let mut body = Map::new();
    body.insert("model".into(), json!(check.model));
    if endpoint == Endpoint::Chat {
        body.insert("messages".into(), messages(check));
    } else {
        body.insert(
            "prompt".into(),
            json!(check.prompt.clone().unwrap_or_default()),
        );
    }
    body.insert("stream".into(), json!(stream));
    add_params(api, check, &mut body)?;
    let path = match (api, endpoint) {
        (Api::Ollama, Endpoint::Chat) => "/api/chat",
        (Api::Ollama, _) => "/api/generate",
        (_, Endpoint::Chat) => {
            add_stream_options(stream, &mut body);
            "/v1/chat/completions"
        }
        (_, _) => {
            add_stream_options(stream, &mut body);
            "/v1/completions"
        }
    };
    body.extend(check.extra.clone());
    Ok(GenerationRequest {
        path,
        body: Value::Object(body),
        stream,
    })
}

/// Ollama `/api/embed` and OpenAI `/v1/embeddings` both take `input` as one string or a
/// list, so it is sent as written: a single input stays a string.
fn embeddings(api: Api, check: &InferenceCheck) -> Result<EmbeddingsRequest, String> {
    let mut body = Map::new();
    body.insert("model".into(), json!(check.model));
    let inputs = check.inputs();
    let input = match check.input.as_ref().map(|input| input.get_ref()) {
        Some(OneOrMany::One(text)) => json!(text),
        _ => json!(inputs),
    };
    body.insert("input".into(), input);
    add_params(api, check, &mut body)?;
    let path = if api == Api::Ollama {
        "/api/embed"
    } else {
        // The default, said outright: a server set to base64 would send vectors as text.
        body.insert("encoding_format".into(), json!("float"));
        "/v1/embeddings"
    };
    body.extend(check.extra.clone());
    Ok(EmbeddingsRequest {
        path,
        body: Value::Object(body),
        inputs: inputs.len(),
    })
}

/// Model options: Ollama takes them as `options`, OpenAI-compatible servers at the top
/// level. A plain HTTP target has no model API to send them to.
fn add_params(
    api: Api,
    check: &InferenceCheck,
    body: &mut Map<String, Value>,
) -> Result<(), String> {
    match api {
        Api::Ollama if !check.params.is_empty() => {
            body.insert("options".into(), Value::Object(check.params.clone()));
        }
        Api::Ollama => {}
        Api::Openai => body.extend(check.params.clone()),
        Api::Http => {
            return Err(
                "inference checks need a model API: set api = \"ollama\" or api = \"openai\" in [target]"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Without this, OpenAI-compatible servers send no token counts when streaming.
fn add_stream_options(stream: bool, body: &mut Map<String, Value>) {
    if stream {
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
}

/// The conversation, or the prompt as a single user message when a prompt goes to chat.
fn messages(check: &InferenceCheck) -> Value {
    match &check.messages {
        Some(messages) => Value::Array(
            messages
                .iter()
                .map(|m| json!({ "role": m.role, "content": m.content }))
                .collect(),
        ),
        None => json!([{ "role": "user", "content": check.prompt.clone().unwrap_or_default() }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;
    use rstest::rstest;

    fn check(fields: &str) -> InferenceCheck {
        let text = format!(
            "[target]\nbase_url = \"http://127.0.0.1:1\"\n[[inference]]\nname = \"c\"\nmodel = \"m\"\n{fields}"
        );
        parse_scenario(&text, &|_: &str| None)
            .unwrap()
            .inference
            .remove(0)
            .into_inner()
    }

    #[rstest]
    #[case::ollama_generate(Api::Ollama, "prompt = \"hi\"\nparams = { temperature = 0 }\nextra = { keep_alive = \"5m\" }\n", true,
        "/api/generate", json!({"model": "m", "prompt": "hi", "stream": true, "options": {"temperature": 0}, "keep_alive": "5m"}))]
    #[case::ollama_chat(Api::Ollama, "messages = [{ role = \"user\", content = \"hi\" }]\n", false,
        "/api/chat", json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": false}))]
    #[case::openai_chat_stream(Api::Openai, "messages = [{ role = \"user\", content = \"hi\" }]\nparams = { temperature = 0, max_tokens = 8 }\n", true,
        "/v1/chat/completions", json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true, "temperature": 0, "max_tokens": 8, "stream_options": {"include_usage": true}}))]
    #[case::openai_completion(Api::Openai, "prompt = \"hi\"\nextra = { grammar = \"root ::= \\\"x\\\"\" }\n", false,
        "/v1/completions", json!({"model": "m", "prompt": "hi", "stream": false, "grammar": "root ::= \"x\""}))]
    #[case::prompt_to_chat(Api::Openai, "prompt = \"hi\"\nendpoint = \"chat\"\n", false,
        "/v1/chat/completions", json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": false}))]
    fn builds(
        #[case] api: Api,
        #[case] fields: &str,
        #[case] stream: bool,
        #[case] path: &str,
        #[case] body: Value,
    ) {
        let request = build(api, &check(fields), stream).unwrap();
        assert_eq!(request.path(), path);
        let InferenceRequest::Generation(request) = request else {
            panic!("not a generation: {request:?}");
        };
        assert_eq!((request.body, request.stream), (body, stream));
    }

    #[rstest]
    #[case::ollama_one(Api::Ollama, "input = \"hi\"\n", "/api/embed", 1,
        json!({"model": "m", "input": "hi"}))]
    #[case::ollama_batch(Api::Ollama, "input = [\"a\", \"b\", \"c\"]\nparams = { num_ctx = 512 }\nextra = { truncate = false, keep_alive = \"5m\" }\n", "/api/embed", 3,
        json!({"model": "m", "input": ["a", "b", "c"], "options": {"num_ctx": 512}, "truncate": false, "keep_alive": "5m"}))]
    #[case::ollama_batch_of_one(Api::Ollama, "input = [\"a\"]\n", "/api/embed", 1,
        json!({"model": "m", "input": ["a"]}))]
    #[case::openai_one(Api::Openai, "input = \"hi\"\nendpoint = \"embeddings\"\n", "/v1/embeddings", 1,
        json!({"model": "m", "input": "hi", "encoding_format": "float"}))]
    #[case::openai_batch(Api::Openai, "input = [\"a\", \"b\"]\nparams = { dimensions = 256 }\nextra = { user = \"ci\" }\n", "/v1/embeddings", 2,
        json!({"model": "m", "input": ["a", "b"], "encoding_format": "float", "dimensions": 256, "user": "ci"}))]
    fn builds_embeddings(
        #[case] api: Api,
        #[case] fields: &str,
        #[case] path: &str,
        #[case] inputs: usize,
        #[case] body: Value,
    ) {
        let request = build(api, &check(fields), false).unwrap();
        let InferenceRequest::Embeddings(request) = request else {
            panic!("not embeddings: {request:?}");
        };
        assert_eq!(
            (request.path, request.body, request.inputs),
            (path, body, inputs)
        );
    }

    #[rstest]
    #[case("prompt = \"hi\"\n")]
    #[case("input = \"hi\"\n")]
    fn plain_http_targets_cannot_run_inference(#[case] fields: &str) {
        let err = build(Api::Http, &check(fields), true).unwrap_err();
        assert!(err.contains("api = \"ollama\""));
    }
}
