//! A model request as the load engine sends it: through the inference client, so a load
//! measures what `[[inference]]` measures (the same SSE/NDJSON reading, the same first
//! token, the same embeddings reader), once per request, and every answer judged as an
//! inference check judges one: a violated expectation (`text_contains`, `json_schema`,
//! `min_output_tokens`, `dimensions`, ...) is an [`ErrorKind::Expectation`] error. What a
//! generation measures besides its latency goes back to the engine as a [`Sample`], with
//! whether it met the check's SLOs (goodput); an embeddings request measures its latency.
//!
//! Each worker (a user, or an open-loop slot) has an HTTP client of its own, built with
//! the target's settings: a pooled connection is driven by the runtime of the generator
//! thread that opened it, so a client shared across threads would time one thread's
//! requests partly by another thread's scheduling, and fail them when that runtime ends.

use std::time::Duration;

use crate::catalog::case::InferenceSpec;
use crate::inference::client::{GenerationError, generate_with};
use crate::inference::embed::{EmbeddingsError, embed_with};
use crate::inference::metrics::InferenceMetrics;
use crate::inference::request::{EmbeddingsRequest, GenerationRequest, InferenceRequest};
use crate::judge::Violation;
use crate::load::{ErrorKind, Sample};
use crate::runner::inference::{judge_embedded, judge_generation};
use crate::scenario::sla::Slo;

use super::{Examples, Via, transport_kind};

/// One generation or embeddings request of an sla check.
pub struct ModelRequest<'a> {
    pub(super) via: Via<'a>,
    pub(super) spec: &'a InferenceSpec,
    pub(super) slo: Option<&'a Slo>,
}

impl ModelRequest<'_> {
    pub async fn send(
        &self,
        client: &reqwest::Client,
        examples: &Examples,
    ) -> Result<Sample, ErrorKind> {
        let judged = match &self.spec.request {
            InferenceRequest::Generation(request) => self.generate(client, request).await,
            InferenceRequest::Embeddings(request) => self.embed(client, request).await,
        };
        judged.map_err(|failure| {
            let kind = failure.kind();
            examples.keep(kind, || failure.to_string());
            kind
        })
    }

    async fn generate(
        &self,
        client: &reqwest::Client,
        request: &GenerationRequest,
    ) -> Result<Sample, Failure> {
        let spec = self.spec;
        let generation = generate_with(client, self.via.target, request, spec.limits)
            .await
            .map_err(Failure::Generation)?;
        // Thresholds on one request's figures are refused in an sla check: only what the
        // answer must be is judged, so no figures are needed.
        let violations = judge_generation(spec, &generation, &[], &self.via.redactor);
        if violations.is_empty() {
            Ok(sample(&generation.metrics, self.slo))
        } else {
            Err(Failure::Expectation(violations))
        }
    }

    async fn embed(
        &self,
        client: &reqwest::Client,
        request: &EmbeddingsRequest,
    ) -> Result<Sample, Failure> {
        let spec = self.spec;
        let embedded = embed_with(
            client,
            self.via.target,
            request,
            spec.limits.total,
            spec.limits.max_body,
        )
        .await
        .map_err(Failure::Embeddings)?;
        // As for a generation, no threshold on one request's figures to judge.
        let violations = judge_embedded(spec, request, &embedded.embeddings.vectors, &[]);
        if violations.is_empty() {
            Ok(Sample::default())
        } else {
            Err(Failure::Expectation(violations))
        }
    }
}

/// Why a model request failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Generation(GenerationError),
    #[error(transparent)]
    Embeddings(EmbeddingsError),
    #[error("{}", said(.0))]
    Expectation(Vec<Violation>),
}

fn said(violations: &[Violation]) -> String {
    let said: Vec<String> = violations.iter().map(ToString::to_string).collect();
    said.join("; ")
}

impl Failure {
    /// The engine's kind of it.
    fn kind(&self) -> ErrorKind {
        match self {
            Failure::Generation(error) | Failure::Embeddings(EmbeddingsError::Exchange(error)) => {
                kind(error)
            }
            Failure::Embeddings(_) => ErrorKind::Stream,
            Failure::Expectation(_) => ErrorKind::Expectation,
        }
    }
}

/// What a generation measured, for the engine.
fn sample(metrics: &InferenceMetrics, slo: Option<&Slo>) -> Sample {
    let duration = |seconds: Option<f64>| seconds.map(Duration::from_secs_f64);
    Sample {
        ttft: duration(Some(metrics.ttft_s)),
        itl: duration(metrics.itl_mean_s),
        tpot: duration(metrics.tpot_s),
        tokens_per_s: metrics.tokens_per_s,
        output_tokens: Some(metrics.output_tokens.unwrap_or(0)),
        good: slo.map(|slo| met(slo, metrics)),
    }
}

/// Whether a generation met every SLO: its first token, its latency, its decode time per
/// token, and every gap between its tokens (its longest). A generation of one token has
/// no gap and no decode time, so nothing to miss there.
fn met(slo: &Slo, metrics: &InferenceMetrics) -> bool {
    [
        (slo.ttft, Some(metrics.ttft_s)),
        (slo.latency, Some(metrics.latency_s)),
        (slo.tpot, metrics.tpot_s),
        (slo.itl, metrics.itl_max_s),
    ]
    .into_iter()
    .all(|(bound, observed)| match (bound, observed) {
        (Some(bound), Some(observed)) => bound.holds(observed),
        _ => true,
    })
}

/// The engine's kind of a failed generation.
fn kind(error: &GenerationError) -> ErrorKind {
    match error {
        GenerationError::Http { status, .. } => ErrorKind::Status(*status),
        GenerationError::FirstTokenTimeout { .. } | GenerationError::Timeout { .. } => {
            ErrorKind::Timeout
        }
        GenerationError::Request(request) => transport_kind(request),
        GenerationError::Cut { .. }
        | GenerationError::Malformed { .. }
        | GenerationError::Server { .. }
        | GenerationError::TooLarge { .. }
        | GenerationError::LineTooLong { .. } => ErrorKind::Stream,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RequestError;
    use crate::scenario::threshold::parse_threshold;
    use rstest::rstest;

    /// A generation of 17 tokens: first at 100 ms, the rest 20 ms apart (the longest gap
    /// 50 ms), 420 ms in all.
    fn metrics() -> InferenceMetrics {
        InferenceMetrics {
            ttfb_s: Some(0.100),
            ttft_s: 0.100,
            latency_s: 0.420,
            itl_mean_s: Some(0.020),
            itl_max_s: Some(0.050),
            tpot_s: Some(0.020),
            output_tokens: Some(17),
            output_tokens_source: "openai.usage".into(),
            content_chunks: Some(17),
            tokens_per_s: None,
            e2e_tokens_per_s: None,
            server_tokens_per_s: None,
            prompt_tokens: None,
            prompt_tokens_per_s: None,
            load_s: None,
            prompt_eval_s: None,
            decode_s: None,
            count_note: None,
        }
    }

    fn slo(ttft: &str, tpot: &str, itl: &str, latency: &str) -> Slo {
        let bound = |text: &str| (!text.is_empty()).then(|| parse_threshold(text).unwrap());
        Slo {
            ttft: bound(ttft),
            tpot: bound(tpot),
            itl: bound(itl),
            latency: bound(latency),
        }
    }

    #[rstest]
    #[case::all_met(slo("< 200ms", "<= 20ms", "< 60ms", "< 1s"), true)]
    #[case::ttft(slo("< 100ms", "", "", ""), false)]
    #[case::tpot(slo("", "< 20ms", "", ""), false)]
    #[case::itl_is_every_gap(slo("", "", "< 40ms", ""), false)]
    #[case::latency(slo("", "", "", "< 400ms"), false)]
    fn a_generation_is_good_when_it_meets_every_slo(#[case] slo: Slo, #[case] good: bool) {
        assert_eq!(met(&slo, &metrics()), good);
    }

    #[test]
    fn a_single_token_has_no_gap_to_miss() {
        let one = InferenceMetrics {
            itl_mean_s: None,
            itl_max_s: None,
            tpot_s: None,
            ..metrics()
        };
        assert!(met(&slo("", "< 1ms", "< 1ms", ""), &one));
    }

    #[test]
    fn a_sample_carries_the_durations_tokens_and_verdict() {
        let sample = sample(&metrics(), Some(&slo("< 50ms", "", "", "")));
        assert_eq!(sample.ttft, Some(Duration::from_millis(100)));
        assert_eq!(sample.itl, Some(Duration::from_millis(20)));
        assert_eq!(sample.output_tokens, Some(17));
        assert_eq!(sample.good, Some(false));
        assert_eq!(super::sample(&metrics(), None).good, None);
    }

    #[rstest]
    #[case::status(GenerationError::Http { url: "u".into(), status: 503, message: "busy".into() }, ErrorKind::Status(503))]
    #[case::first_token(GenerationError::FirstTokenTimeout { url: "u".into(), after: Duration::ZERO, progress: Default::default() }, ErrorKind::Timeout)]
    #[case::refused(GenerationError::Request(RequestError::Refused { url: "u".into() }), ErrorKind::Connect)]
    #[case::reset(GenerationError::Request(RequestError::Reset { url: "u".into(), detail: "d".into() }), ErrorKind::Stream)]
    #[case::cut(GenerationError::Cut { url: "u".into(), progress: Default::default(), detail: None }, ErrorKind::Stream)]
    fn failures_have_the_engines_kinds(
        #[case] error: GenerationError,
        #[case] expected: ErrorKind,
    ) {
        assert_eq!(kind(&error), expected);
    }

    #[rstest]
    #[case::exchange(Failure::Embeddings(EmbeddingsError::Exchange(GenerationError::Http { url: "u".into(), status: 429, message: "m".into() })), ErrorKind::Status(429))]
    #[case::malformed(Failure::Embeddings(EmbeddingsError::Server { url: "u".into(), message: "m".into() }), ErrorKind::Stream)]
    #[case::expectation(Failure::Expectation(vec![Violation::new(crate::judge::Cause::Answer, "text", "to contain \"a\"", "\"b\"")]), ErrorKind::Expectation)]
    fn a_failed_model_request_has_the_engines_kind(
        #[case] failure: Failure,
        #[case] expected: ErrorKind,
    ) {
        assert_eq!(failure.kind(), expected);
    }

    #[test]
    fn a_broken_expectation_says_every_violation() {
        let violation = |what: &str| Violation::new(crate::judge::Cause::Answer, what, "x", "y");
        let failure = Failure::Expectation(vec![violation("text"), violation("finish_reason")]);
        assert_eq!(
            failure.to_string(),
            "text: expected x, observed y; finish_reason: expected x, observed y"
        );
    }
}
