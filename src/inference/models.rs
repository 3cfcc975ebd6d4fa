//! Is the model there? Asked once per target before its first inference check, so that a
//! missing model fails with the list of models the server does have, not an opaque 404.

use serde_json::Value;

use crate::client::http::{Body, HttpRequest, send};
use crate::inference::client::error_message;
use crate::scenario::Api;
use crate::target::Target;

/// The models the server lists; `None` when it has no listing endpoint (HTTP 404), in
/// which case presence cannot be checked and the generation request itself will tell.
pub async fn list_models(target: &Target) -> Result<Option<Vec<String>>, String> {
    let path = match target.api {
        Api::Ollama => "/api/tags",
        _ => "/v1/models",
    };
    let request = HttpRequest {
        method: reqwest::Method::GET,
        path: path.into(),
        query: Vec::new(),
        headers: Default::default(),
        body: Body::Empty,
    };
    let url = target.url(path);
    let timed = send(target, &request, target.timeout, target.max_body)
        .await
        .map_err(|e| format!("cannot list models: {e}"))?;
    let response = timed.response;
    let text = String::from_utf8_lossy(&response.body);
    match response.status {
        404 => return Ok(None),
        200..=299 => {}
        status => {
            return Err(format!(
                "cannot list models: {url} answered HTTP {status}: {}",
                error_message(&text)
            ));
        }
    }
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("cannot list models: {url} did not answer JSON ({e})"))?;
    Ok(Some(model_names(target.api, &json)))
}

/// Ollama: `models[].name` (and `model`); OpenAI: `data[].id`.
pub fn model_names(api: Api, json: &Value) -> Vec<String> {
    let (list, keys): (&Value, &[&str]) = match api {
        Api::Ollama => (&json["models"], &["name", "model"]),
        _ => (&json["data"], &["id"]),
    };
    let mut names: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|model| keys.iter().filter_map(|k| model[*k].as_str()))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

/// Ollama treats `phi3` and `phi3:latest` as the same model.
pub fn has_model(names: &[String], model: &str) -> bool {
    let with_tag = |name: &str| {
        if name.contains(':') {
            name.to_string()
        } else {
            format!("{name}:latest")
        }
    };
    names
        .iter()
        .any(|name| name == model || with_tag(name) == with_tag(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[test]
    fn reads_both_listings() {
        let ollama = json!({"models": [{"name": "phi3:latest", "model": "phi3:latest"}, {"name": "gemma2:2b", "model": "gemma2:2b"}]});
        assert_eq!(
            model_names(Api::Ollama, &ollama),
            ["phi3:latest", "gemma2:2b"]
        );
        let openai = json!({"object": "list", "data": [{"id": "smollm2", "object": "model"}]});
        assert_eq!(model_names(Api::Openai, &openai), ["smollm2"]);
        assert!(model_names(Api::Openai, &json!({})).is_empty());
    }

    #[rstest]
    #[case(&["phi3:latest"], "phi3", true)]
    #[case(&["phi3:latest"], "phi3:latest", true)]
    #[case(&["phi3"], "phi3:latest", true)]
    #[case(&["phi3:mini"], "phi3", false)]
    #[case(&["smollm2"], "smollm2", true)]
    #[case(&[], "x", false)]
    fn matches_names(#[case] names: &[&str], #[case] model: &str, #[case] present: bool) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        assert_eq!(has_model(&names, model), present);
    }
}
