//! One iteration of a baseline: the request sent as its own kind sends it, judged on what
//! each answer must be (a status, a text, one vector per input), and kept as a row of the
//! case's samples file. A failed iteration is a row too, with its error.

use std::time::SystemTime;

use crate::catalog::case::{InferenceSpec, RepeatedRequest, SmokeSpec};
use crate::client::http::send;
use crate::inference::client::generate;
use crate::inference::embed::{self, embed};
use crate::inference::request::{EmbeddingsRequest, GenerationRequest, InferenceRequest};
use crate::judge::Violation;
use crate::judge::smoke::judge_smoke;
use crate::metric::Figure;
use crate::runner::inference::{judge_embedded, judge_generation, to_figures};
use crate::target::{Redactor, Target};

/// What one iteration measured.
pub struct Iteration {
    pub started: SystemTime,
    /// The iteration's figures under their metric names (`ttft`, `tokens_per_s`); within a
    /// generation `itl` is its mean gap. Empty for a failed iteration.
    pub values: Vec<(&'static str, f64)>,
    /// Why the iteration failed: the request's error, or the expectations it broke.
    pub error: Option<String>,
    /// The cells of its samples row as [`columns`] names them, but for `timestamp` and
    /// `iter`, which the runner fills in.
    pub cells: Vec<String>,
}

/// The columns of a samples file. Generation rows start with the columns infrastructure
/// teams already keep in their own scripts (`model`, `total_duration_ms`, `prompt_eval_ms`,
/// `gen_eval_ms`, ...); the client's and the server's figures follow, each named by source.
pub fn columns(request: &RepeatedRequest) -> &'static [&'static str] {
    match request {
        RepeatedRequest::Http(_) => &[
            "timestamp",
            "iter",
            "status",
            "latency_ms",
            "ttfb_ms",
            "bytes",
            "error",
        ],
        RepeatedRequest::Model(spec) => match spec.request {
            InferenceRequest::Generation(_) => &[
                "timestamp",
                "model",
                "iter",
                "total_duration_ms",
                "prompt_tokens",
                "prompt_eval_ms",
                "gen_tokens",
                "gen_eval_ms",
                "tokens_per_s",
                "ttft_ms",
                "gen_tokens_source",
                "server_tokens_per_s",
                "e2e_tokens_per_s",
                "prompt_tokens_per_s",
                "ttfb_ms",
                "itl_mean_ms",
                "itl_max_ms",
                "tpot_ms",
                "finish_reason",
                "error",
            ],
            InferenceRequest::Embeddings(_) => &[
                "timestamp",
                "iter",
                "model",
                "latency_ms",
                "inputs",
                "dimensions",
                "inputs_per_s",
                "prompt_tokens",
                "error",
            ],
        },
    }
}

pub async fn run_once(
    target: &Target,
    request: &RepeatedRequest,
    redactor: &Redactor,
) -> Iteration {
    let started = SystemTime::now();
    let (values, error, cells) = match request {
        RepeatedRequest::Http(spec) => http(target, spec, redactor).await,
        RepeatedRequest::Model(spec) => match &spec.request {
            InferenceRequest::Generation(request) => {
                generation(target, spec, request, redactor).await
            }
            InferenceRequest::Embeddings(request) => embeddings(target, spec, request).await,
        },
    };
    Iteration {
        started,
        values,
        error,
        cells,
    }
}

type Measured = (Vec<(&'static str, f64)>, Option<String>, Vec<String>);

async fn http(target: &Target, spec: &SmokeSpec, redactor: &Redactor) -> Measured {
    let timed = match send(target, &spec.request, spec.timeout, spec.max_body).await {
        Ok(timed) => timed,
        Err(e) => return failed(e.to_string(), 5),
    };
    let response = &timed.response;
    let violations = judge_smoke(&spec.check.expect, spec.schema.as_ref(), response, redactor);
    let values = vec![
        ("latency", response.latency.as_secs_f64()),
        ("ttfb", timed.ttfb.as_secs_f64()),
        ("bytes", response.body.len() as f64),
    ];
    let error = broken(&violations);
    let cells = vec![
        response.status.to_string(),
        ms(Some(response.latency.as_secs_f64())),
        ms(Some(timed.ttfb.as_secs_f64())),
        response.body.len().to_string(),
        error.clone().unwrap_or_default(),
    ];
    judged(values, error, cells)
}

async fn generation(
    target: &Target,
    spec: &InferenceSpec,
    request: &GenerationRequest,
    redactor: &Redactor,
) -> Measured {
    let model = spec.check.model.clone();
    let generation = match generate(target, request, spec.limits).await {
        Ok(generation) => generation,
        Err(e) => {
            let (values, error, mut cells) = failed(e.to_string(), 17);
            cells.insert(0, model);
            return (values, error, cells);
        }
    };
    let m = &generation.metrics;
    // Thresholds on one request's figures are refused in a baseline, so only what the
    // answer must be is judged here.
    let figures = to_figures(m.figures());
    let violations = judge_generation(spec, &generation, &figures, redactor);
    let values = m
        .figures()
        .into_iter()
        .filter_map(|(name, value)| match name {
            "itl.mean" => Some(("itl", value)),
            "itl.max" => None,
            other => Some((other, value)),
        })
        .collect();
    let error = broken(&violations);
    let count = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let cells = vec![
        model,
        ms(Some(m.latency_s)),
        count(m.prompt_tokens),
        ms(m.prompt_eval_s),
        count(m.output_tokens),
        ms(m.decode_s),
        number(m.tokens_per_s),
        ms(Some(m.ttft_s)),
        m.output_tokens_source.clone(),
        number(m.server_tokens_per_s),
        number(m.e2e_tokens_per_s),
        number(m.prompt_tokens_per_s),
        ms(m.ttfb_s),
        ms(m.itl_mean_s),
        ms(m.itl_max_s),
        ms(m.tpot_s),
        generation.finish_reason.clone().unwrap_or_default(),
        error.clone().unwrap_or_default(),
    ];
    judged(values, error, cells)
}

async fn embeddings(
    target: &Target,
    spec: &InferenceSpec,
    request: &EmbeddingsRequest,
) -> Measured {
    let model = spec.check.model.clone();
    let embedded = match embed(target, request, spec.limits.total, spec.limits.max_body).await {
        Ok(embedded) => embedded,
        Err(e) => {
            let (values, error, mut cells) = failed(e.to_string(), 6);
            cells.insert(0, model);
            return (values, error, cells);
        }
    };
    let latency = embedded.latency.as_secs_f64();
    let values = embed::figures(&embedded.embeddings, request.inputs, latency);
    let figures: Vec<Figure> = values
        .iter()
        .map(|&(name, value)| Figure::new(name, value))
        .collect();
    let violations = judge_embedded(spec, request, &embedded.embeddings.vectors, &figures);
    let error = broken(&violations);
    let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let cells = vec![
        model,
        ms(Some(latency)),
        request.inputs.to_string(),
        whole(value("dimensions")),
        number(value("inputs_per_s")),
        whole(value("prompt_tokens")),
        error.clone().unwrap_or_default(),
    ];
    judged(values, error, cells)
}

/// A failed request: no values, the error, and empty cells but the last (the error).
fn failed(error: String, cells: usize) -> Measured {
    let mut row = vec![String::new(); cells.saturating_sub(1)];
    row.push(error.clone());
    (Vec::new(), Some(error), row)
}

/// An answer that broke an expectation counts as a failed iteration: its figures are not
/// those of the request the check means to measure.
///
/// A value that is no number (a server's duration of 0 or less makes no rate, and the
/// producers give none then; this is the backstop) is left out of the statistics rather
/// than making all of them NaN.
fn judged(values: Vec<(&'static str, f64)>, error: Option<String>, cells: Vec<String>) -> Measured {
    match error {
        Some(error) => (Vec::new(), Some(error), cells),
        None => {
            let finite = values.into_iter().filter(|(_, v)| v.is_finite()).collect();
            (finite, None, cells)
        }
    }
}

fn broken(violations: &[Violation]) -> Option<String> {
    (!violations.is_empty()).then(|| {
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn ms(seconds: Option<f64>) -> String {
    seconds
        .map(|s| format!("{:.3}", s * 1000.0))
        .unwrap_or_default()
}

/// A count: `576`, not `576.000`.
fn whole(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.0}")).unwrap_or_default()
}

fn number(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.3}")).unwrap_or_default()
}
