//! Running one inference check: target up, model present, generate or embed, judge.

use crate::catalog::InferenceSpec;
use crate::inference::client::{Generation, generate};
use crate::inference::embed::{self, embed};
use crate::inference::models::{has_model, list_models};
use crate::inference::request::{EmbeddingsRequest, GenerationRequest, InferenceRequest};
use crate::judge::Violation;
use crate::judge::embeddings::judge_embeddings;
use crate::judge::inference::{Answer, judge_inference};
use crate::metric::Figure;
use crate::target::{Redactor, Target};

use super::context::RunContext;
use super::outcome::{ErrorCause, Outcome};

pub async fn run(context: &RunContext<'_>, target: &Target, spec: &InferenceSpec) -> Outcome {
    if let Err(message) = ensure_model(target, &spec.check.model).await {
        return Outcome::error(ErrorCause::Request, message);
    }
    match &spec.request {
        InferenceRequest::Generation(request) => {
            run_generation(context, target, spec, request).await
        }
        InferenceRequest::Embeddings(request) => {
            run_embeddings(context, target, spec, request).await
        }
    }
}

pub(super) fn to_figures(figures: Vec<(&'static str, f64)>) -> Vec<Figure> {
    figures
        .into_iter()
        .map(|(name, value)| Figure::new(name, value))
        .collect()
}

async fn run_generation(
    context: &RunContext<'_>,
    target: &Target,
    spec: &InferenceSpec,
    request: &GenerationRequest,
) -> Outcome {
    let generation = match generate(target, request, spec.limits).await {
        Ok(generation) => generation,
        Err(e) => return Outcome::error(ErrorCause::Request, e.to_string()),
    };
    let metrics = &generation.metrics;
    let figures = to_figures(metrics.figures());
    let violations = judge_generation(spec, &generation, &figures, context.redactor);
    let mode = if request.stream {
        "streaming"
    } else {
        "not streaming"
    };
    let heading = format!(
        "POST {} ({mode}), model {}; answer {:?}:",
        target.url(request.path),
        spec.check.model,
        context.redactor.excerpt(&generation.text, 200)
    );
    let mut outcome = Outcome::judged(&heading, &violations, figures, context.file);
    outcome.labels = vec![
        (
            "output_tokens_source".into(),
            metrics.output_tokens_source.clone(),
        ),
        (
            "finish_reason".into(),
            generation.finish_reason.clone().unwrap_or_default(),
        ),
    ];
    if let Some(note) = &metrics.count_note {
        outcome.labels.push(("note".into(), note.clone()));
    }
    outcome.details = format!(
        "answer = {:?}",
        context.redactor.excerpt(&generation.text, 500)
    );
    outcome
}

/// The answer and the figures of one generation against the check's expectations.
pub(super) fn judge_generation(
    spec: &InferenceSpec,
    generation: &Generation,
    figures: &[Figure],
    redactor: &Redactor,
) -> Vec<Violation> {
    let answer = Answer {
        text: &generation.text,
        finish_reason: generation.finish_reason.as_deref(),
        output_tokens: generation.metrics.output_tokens,
    };
    judge_inference(
        &spec.check.expect,
        spec.schema.as_deref(),
        &answer,
        figures,
        redactor,
    )
}

async fn run_embeddings(
    context: &RunContext<'_>,
    target: &Target,
    spec: &InferenceSpec,
    request: &EmbeddingsRequest,
) -> Outcome {
    let embedded = match embed(target, request, spec.limits.total, spec.limits.max_body).await {
        Ok(embedded) => embedded,
        Err(e) => return Outcome::error(ErrorCause::Request, e.to_string()),
    };
    let vectors = &embedded.embeddings.vectors;
    let figures = to_figures(embed::figures(
        &embedded.embeddings,
        request.inputs,
        embedded.latency.as_secs_f64(),
    ));
    let violations = judge_embedded(spec, request, vectors, &figures);
    let shape = embed::describe(vectors);
    let heading = format!(
        "POST {}, model {}, {} input{}; {shape}:",
        target.url(request.path),
        spec.check.model,
        request.inputs,
        if request.inputs == 1 { "" } else { "s" }
    );
    let mut outcome = Outcome::judged(&heading, &violations, figures, context.file);
    outcome.details = format!("embeddings = {shape}");
    outcome
}

/// The vectors of one embeddings request and its figures against the check's
/// expectations; the rules without a key of their own are placed at its `input`.
pub(super) fn judge_embedded(
    spec: &InferenceSpec,
    request: &EmbeddingsRequest,
    vectors: &[Vec<f64>],
    figures: &[Figure],
) -> Vec<Violation> {
    let input_at = spec.check.input.as_ref().map_or(0..0, |input| input.span());
    judge_embeddings(
        &spec.check.expect,
        &input_at,
        request.inputs,
        vectors,
        figures,
    )
}

/// Checks the model list once per target; every check of the target shares the answer.
pub(super) async fn ensure_model(target: &Target, model: &str) -> Result<(), String> {
    // Only a successful listing is kept: a passing failure must not fail every later check.
    let listing = target.models.get_or_try_init(|| list_models(target)).await;
    match listing {
        Err(e) => Err(e),
        Ok(None) => Ok(()),
        Ok(Some(names)) if has_model(names, model) => Ok(()),
        Ok(Some(names)) => Err(format!(
            "model \"{model}\" is not on {}; it has: {}",
            target.base_url,
            if names.is_empty() {
                "no models".to_string()
            } else {
                names.join(", ")
            }
        )),
    }
}
