//! The request body for one generation, per API flavour. Pure, so the exact wire format of
//! every flavour and mode is table-tested.

use serde_json::{Map, Value, json};

use crate::scenario::{Api, Endpoint, InferenceCheck};

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub path: &'static str,
    pub body: Value,
    pub stream: bool,
}

pub fn build(api: Api, check: &InferenceCheck, stream: bool) -> Result<GenerationRequest, String> {
    let endpoint = check.endpoint();
    let mut body = Map::new();
    body.insert("model".into(), json!(check.model));
    match endpoint {
        Endpoint::Chat => {
            body.insert("messages".into(), messages(check));
        }
        Endpoint::Completion => {
            body.insert(
                "prompt".into(),
                json!(check.prompt.clone().unwrap_or_default()),
            );
        }
    }
    body.insert("stream".into(), json!(stream));
    let path = match api {
        Api::Ollama => {
            if !check.params.is_empty() {
                body.insert("options".into(), Value::Object(check.params.clone()));
            }
            match endpoint {
                Endpoint::Chat => "/api/chat",
                Endpoint::Completion => "/api/generate",
            }
        }
        Api::Openai => {
            body.extend(check.params.clone());
            if stream {
                // Without this, OpenAI-compatible servers send no token counts when streaming.
                body.insert("stream_options".into(), json!({ "include_usage": true }));
            }
            match endpoint {
                Endpoint::Chat => "/v1/chat/completions",
                Endpoint::Completion => "/v1/completions",
            }
        }
        Api::Http => {
            return Err(
                "inference checks need a model API: set api = \"ollama\" or api = \"openai\" in [target]"
                    .into(),
            );
        }
    };
    body.extend(check.extra.clone());
    Ok(GenerationRequest {
        path,
        body: Value::Object(body),
        stream,
    })
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
        assert_eq!(request.path, path);
        assert_eq!(request.body, body);
    }

    #[test]
    fn plain_http_targets_cannot_run_inference() {
        let err = build(Api::Http, &check("prompt = \"hi\"\n"), true).unwrap_err();
        assert!(err.contains("api = \"ollama\""));
    }
}
