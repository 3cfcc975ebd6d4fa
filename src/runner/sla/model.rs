//! A model generation as the load engine sends it: through the inference client, so a
//! load measures what `[[inference]]` measures (the same SSE/NDJSON reading, the same
//! first token), once per request. What a generation measures besides its latency goes
//! back to the engine as a [`Sample`], with whether it met the check's SLOs (goodput).
//!
//! Each worker (a user, or an open-loop slot) has an HTTP client of its own, built with
//! the target's settings: a pooled connection is driven by the runtime of the generator
//! thread that opened it, so a client shared across threads would time one thread's
//! requests partly by another thread's scheduling, and fail them when that runtime ends.

use std::time::Duration;

use crate::catalog::case::GenerationLoad;
use crate::client::RequestError;
use crate::inference::client::{GenerationError, generate_with};
use crate::inference::metrics::InferenceMetrics;
use crate::load::{ErrorKind, Request, Sample};
use crate::scenario::sla::Slo;
use crate::target::TargetError;

/// Sends one check's generation.
pub struct Generate<'a> {
    load: &'a GenerationLoad,
    client: reqwest::Client,
}

impl Generate<'_> {
    pub fn new(load: &GenerationLoad) -> Result<Generate<'_>, TargetError> {
        Ok(Generate {
            load,
            client: load.target.new_client()?,
        })
    }
}

impl Request for Generate<'_> {
    /// The worker's own client (see the module doc).
    type Worker = reqwest::Client;

    fn worker(&self) -> reqwest::Client {
        // Built once already with the same settings by `new`, so this does not fail; if it
        // somehow did, sharing that client is the lesser harm.
        self.load
            .target
            .new_client()
            .unwrap_or_else(|_| self.client.clone())
    }

    async fn send(&self, client: &mut reqwest::Client) -> Result<Sample, ErrorKind> {
        let load = self.load;
        let generation = generate_with(client, &load.target, &load.request, load.limits)
            .await
            .map_err(|e| kind(&e))?;
        Ok(sample(&generation.metrics, load.slo.as_ref()))
    }
}

/// What a generation measured, for the engine.
fn sample(metrics: &InferenceMetrics, slo: Option<&Slo>) -> Sample {
    let duration = |seconds: Option<f64>| seconds.map(Duration::from_secs_f64);
    Sample {
        ttft: duration(Some(metrics.ttft_s)),
        itl: duration(metrics.itl_mean_s),
        tpot: duration(metrics.tpot_s),
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
        GenerationError::Request(request) => match request {
            RequestError::Refused { .. }
            | RequestError::Dns { .. }
            | RequestError::Tls { .. }
            | RequestError::ConnectTimeout { .. } => ErrorKind::Connect,
            RequestError::Timeout { .. } | RequestError::BodyTimeout { .. } => ErrorKind::Timeout,
            _ => ErrorKind::Stream,
        },
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
}
