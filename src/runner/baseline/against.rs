//! What a baseline was measured against: a stored baseline means something only against
//! the same server, model and machine, so each entry records them and a comparison says
//! when they differ. Asked of the server's own endpoints (Ollama `/api/version` and the
//! digest in `/api/tags`; an OpenAI-compatible server's model entry in `/v1/models`), best
//! effort: a server that does not answer them is still measured.

use std::time::Duration;

use serde_json::Value;

use crate::catalog::case::{BaselineSpec, RepeatedRequest};
use crate::client::http::{Body, HttpRequest, send};
use crate::scenario::Api;
use crate::scenario::Size;
use crate::store::baselines::{RecordedAgainst, machine};
use crate::target::{Redactor, Target};
use crate::text::{excerpt, printable};

/// What a managed target's server is recorded as.
const MANAGED: &str = "started by perfcase on this machine";

/// These endpoints answer at once when they exist.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A model listing of hundreds of models fits.
const MAX_BODY: Size = Size(4 << 20);

pub async fn recorded_against(
    target: &Target,
    spec: &BaselineSpec,
    redactor: &Redactor,
) -> RecordedAgainst {
    let model = match &spec.request {
        RepeatedRequest::Model(model) => Some(model.check.model.clone()),
        RepeatedRequest::Http(_) => None,
    };
    let (server_version, model_digest) = match (target.api, &model) {
        (Api::Ollama, Some(model)) => (
            get_json(target, "/api/version")
                .await
                .and_then(|v| text(&v["version"])),
            ollama_digest(target, model).await,
        ),
        (Api::Ollama, None) => (
            get_json(target, "/api/version")
                .await
                .and_then(|v| text(&v["version"])),
            None,
        ),
        (Api::Openai, Some(model)) => openai_model(target, model).await,
        _ => (None, None),
    };
    // A stored file is committed and read by people: what a server said goes through the
    // redactor and is made printable like every other artifact's text.
    let safe = |text: Option<String>| {
        text.map(|t| printable(&redactor.redact(&excerpt(&t, 200))).into_owned())
    };
    RecordedAgainst {
        // A managed server gets a free port every run: its port says nothing.
        server: if target.managed.is_some() {
            MANAGED.to_string()
        } else {
            target.base_url.origin().ascii_serialization()
        },
        api: api_name(target.api).to_string(),
        server_version: safe(server_version),
        model: safe(model),
        model_digest: safe(model_digest),
        machine: machine(),
    }
}

/// What differs between two records, in words; empty when they match.
pub fn differences(stored: &RecordedAgainst, now: &RecordedAgainst) -> Vec<String> {
    let fields = [
        ("server", Some(&stored.server), Some(&now.server)),
        (
            "server version",
            stored.server_version.as_ref(),
            now.server_version.as_ref(),
        ),
        ("model", stored.model.as_ref(), now.model.as_ref()),
        (
            "model digest",
            stored.model_digest.as_ref(),
            now.model_digest.as_ref(),
        ),
        ("machine", Some(&stored.machine), Some(&now.machine)),
    ];
    fields
        .into_iter()
        .filter(|(_, stored, now)| stored != now)
        .map(|(what, stored, now)| {
            let show = |v: Option<&String>| {
                v.map_or_else(|| "unknown".to_string(), |v| format!("\"{v}\""))
            };
            format!("{what}: stored {}, now {}", show(stored), show(now))
        })
        .collect()
}

fn api_name(api: Api) -> &'static str {
    match api {
        Api::Http => "http",
        Api::Ollama => "ollama",
        Api::Openai => "openai",
    }
}

async fn ollama_digest(target: &Target, model: &str) -> Option<String> {
    let tags = get_json(target, "/api/tags").await?;
    let entry = tags["models"].as_array()?.iter().find(|m| {
        let name = m["name"]
            .as_str()
            .or(m["model"].as_str())
            .unwrap_or_default();
        name == model || name.strip_suffix(":latest") == Some(model)
    })?;
    text(&entry["digest"])
}

/// `owned_by` names the server (`llamacpp`, `vllm`); llama.cpp's `meta` (parameter count,
/// file size, vocabulary) fingerprints the model file where no digest is given.
async fn openai_model(target: &Target, model: &str) -> (Option<String>, Option<String>) {
    let Some(list) = get_json(target, "/v1/models").await else {
        return (None, None);
    };
    let entry = list["data"]
        .as_array()
        .and_then(|models| models.iter().find(|m| m["id"].as_str() == Some(model)));
    let Some(entry) = entry else {
        return (None, None);
    };
    let fingerprint = entry["meta"].as_object().map(|meta| {
        ["n_params", "size", "n_vocab", "n_ctx_train"]
            .iter()
            .filter_map(|key| Some(format!("{key}={}", meta.get(*key)?)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    (
        text(&entry["owned_by"]),
        fingerprint.filter(|f| !f.is_empty()),
    )
}

async fn get_json(target: &Target, path: &str) -> Option<Value> {
    let request = HttpRequest {
        method: reqwest::Method::GET,
        path: path.to_string(),
        query: Vec::new(),
        headers: reqwest::header::HeaderMap::new(),
        body: Body::Empty,
    };
    let timed = send(target, &request, TIMEOUT, MAX_BODY).await.ok()?;
    (timed.response.status == 200)
        .then(|| serde_json::from_slice(&timed.response.body).ok())
        .flatten()
}

/// A short text value; anything else (or a long one) is not a version.
fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .map(str::to_string)
}
