//! The per-request figures of the metric definitions in the README, computed from
//! when content arrived and what the server said about its own work. Kept
//! free of I/O and clocks so every definition can be checked with made-up
//! timelines.

use crate::inference::chunk::ServerCounts;
use crate::inference::rate::per_second;

/// When things happened during one request, in seconds since it was sent
/// (since it was scheduled, under open-loop load).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub first_byte_s: Option<f64>,
    /// Arrival times of the chunks that carried generated content, in order.
    /// Role-only deltas, usage chunks and final summaries are left out: they
    /// are not tokens reaching the user.
    pub content_chunks_s: Vec<f64>,
    pub end_s: f64,
    pub streamed: bool,
}

/// The figures for one request. Rates and gaps that the request gives no
/// basis for are `None` rather than zero or infinity, so a threshold on them
/// cannot pass by accident.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceMetrics {
    pub ttfb_s: Option<f64>,
    pub ttft_s: f64,
    pub latency_s: f64,
    pub itl_mean_s: Option<f64>,
    pub itl_max_s: Option<f64>,
    pub tpot_s: Option<f64>,
    /// `None` only for a non-streamed response without a server count: then
    /// nothing says how many tokens there were, and guessing would let a
    /// token threshold pass or fail on an invented number.
    pub output_tokens: Option<u64>,
    /// Where `output_tokens` came from, e.g. "openai.usage", or
    /// "client.content_chunks" when the server gave no count.
    pub output_tokens_source: String,
    /// Chunks that carried content; `None` when not streamed (one body).
    pub content_chunks: Option<u64>,
    pub tokens_per_s: Option<f64>,
    pub e2e_tokens_per_s: Option<f64>,
    pub server_tokens_per_s: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub prompt_tokens_per_s: Option<f64>,
    pub load_s: Option<f64>,
    /// The server's own time for the prompt and for decoding (llama.cpp `timings`, Ollama
    /// durations): what a baseline's per-iteration rows keep beside the client's figures.
    pub prompt_eval_s: Option<f64>,
    pub decode_s: Option<f64>,
    /// Says so when the server's token count and the content chunks seen
    /// disagree, since then one chunk is not one token and the per-chunk
    /// figures (itl) measure something coarser than tokens.
    pub count_note: Option<String>,
}

/// Computes the figures for one request. The server's token count is
/// preferred to counting chunks, because servers may put several tokens in a
/// chunk.
pub fn compute(t: &Timeline, s: &ServerCounts) -> InferenceMetrics {
    let latency = t.end_s;
    let ttft = first_content(t).unwrap_or(latency);
    let chunks = t.content_chunks_s.len() as u64;
    let (output_tokens, source) = match (s.output_tokens, t.streamed) {
        (Some(n), _) => (Some(n), s.source.unwrap_or("server")),
        (None, true) => (Some(chunks), "client.content_chunks"),
        (None, false) => (None, "unknown (no server count, not streamed)"),
    };
    let tpot = output_tokens.and_then(|n| time_per_output_token(latency, ttft, n));
    let itl = t.streamed.then(|| gaps(&t.content_chunks_s)).flatten();
    InferenceMetrics {
        ttfb_s: t.first_byte_s,
        ttft_s: ttft,
        latency_s: latency,
        itl_mean_s: itl.map(|(mean, _)| mean),
        itl_max_s: itl.map(|(_, max)| max),
        tpot_s: tpot,
        output_tokens,
        output_tokens_source: source.to_owned(),
        content_chunks: t.streamed.then_some(chunks),
        tokens_per_s: tpot.map(|x| 1.0 / x),
        e2e_tokens_per_s: output_tokens.and_then(|n| per_second(n, latency)),
        server_tokens_per_s: s.server_tokens_per_s,
        prompt_tokens: s.prompt_tokens,
        prompt_tokens_per_s: s
            .prompt_tokens
            .zip(s.prompt_seconds)
            .and_then(|(n, secs)| per_second(n, secs)),
        load_s: s.load_seconds,
        prompt_eval_s: s.prompt_seconds,
        decode_s: s.decode_seconds,
        count_note: count_note(t, s.output_tokens, chunks),
    }
}

/// A non-streamed response shows its first token only with the whole body,
/// and a stream that carried no content never showed one: either way the
/// user waited the whole request.
fn first_content(t: &Timeline) -> Option<f64> {
    t.streamed
        .then(|| t.content_chunks_s.first().copied())
        .flatten()
}

fn time_per_output_token(latency: f64, ttft: f64, output_tokens: u64) -> Option<f64> {
    (output_tokens >= 2 && latency > ttft).then(|| (latency - ttft) / (output_tokens - 1) as f64)
}

/// Mean and largest gap between successive content chunks.
fn gaps(chunks: &[f64]) -> Option<(f64, f64)> {
    let [first, .., last] = chunks else {
        return None;
    };
    let mean = (last - first) / (chunks.len() - 1) as f64;
    let max = chunks
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::NEG_INFINITY, f64::max);
    Some((mean, max))
}

/// One token either way is normal (a final chunk may carry the last token
/// with the summary, or a stop token is counted but not sent).
fn count_note(t: &Timeline, server: Option<u64>, chunks: u64) -> Option<String> {
    let server = server.filter(|&n| t.streamed && n.abs_diff(chunks) > 1)?;
    Some(format!(
        "output token count {server} (server) differs from {chunks} content chunks (client): \
         several tokens per chunk, or tokens outside the content such as reasoning; \
         tpot and tokens_per_s use the server's count"
    ))
}

impl InferenceMetrics {
    /// The figures that thresholds and reports refer to, under names that
    /// must stay stable because scenario files use them. Times are in
    /// seconds; figures this request gives no basis for are left out.
    pub fn figures(&self) -> Vec<(&'static str, f64)> {
        let all = [
            ("ttfb", self.ttfb_s),
            ("ttft", Some(self.ttft_s)),
            ("latency", Some(self.latency_s)),
            ("itl.mean", self.itl_mean_s),
            ("itl.max", self.itl_max_s),
            ("tpot", self.tpot_s),
            ("output_tokens", self.output_tokens.map(|n| n as f64)),
            ("content_chunks", self.content_chunks.map(|n| n as f64)),
            ("tokens_per_s", self.tokens_per_s),
            ("e2e_tokens_per_s", self.e2e_tokens_per_s),
            ("server_tokens_per_s", self.server_tokens_per_s),
            ("prompt_tokens", self.prompt_tokens.map(|n| n as f64)),
            ("prompt_tokens_per_s", self.prompt_tokens_per_s),
            ("load_duration", self.load_s),
        ];
        all.into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn streamed(chunks: &[f64], end: f64) -> Timeline {
        Timeline {
            first_byte_s: chunks.first().map(|c| c - 0.01),
            content_chunks_s: chunks.to_vec(),
            end_s: end,
            streamed: true,
        }
    }

    fn counted(output_tokens: u64) -> ServerCounts {
        ServerCounts {
            output_tokens: Some(output_tokens),
            source: Some("ollama.eval_count"),
            ..Default::default()
        }
    }

    fn assert_close(actual: Option<f64>, expected: Option<f64>) {
        match (actual, expected) {
            (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{a} != {e}"),
            _ => assert_eq!(actual, expected),
        }
    }

    #[rstest]
    #[case::no_chunks(&[], 2.0, 2.0, None, None, 0, None)]
    #[case::one_chunk(&[0.5], 2.0, 0.5, None, None, 1, None)]
    #[case::two_chunks(&[0.5, 0.7], 0.7, 0.5, Some(0.2), Some(0.2), 2, Some(0.2))]
    #[case::many_chunks(&[0.5, 0.6, 0.9, 1.0], 1.1, 0.5, Some(0.5 / 3.0), Some(0.3), 4, Some(0.2))]
    fn streamed_without_server_count(
        #[case] chunks: &[f64],
        #[case] end: f64,
        #[case] ttft: f64,
        #[case] itl_mean: Option<f64>,
        #[case] itl_max: Option<f64>,
        #[case] output_tokens: u64,
        #[case] tpot: Option<f64>,
    ) {
        let m = compute(&streamed(chunks, end), &ServerCounts::default());
        assert_close(Some(m.ttft_s), Some(ttft));
        assert_close(Some(m.latency_s), Some(end));
        assert_close(m.itl_mean_s, itl_mean);
        assert_close(m.itl_max_s, itl_max);
        assert_eq!(m.output_tokens, Some(output_tokens));
        assert_eq!(m.content_chunks, Some(output_tokens));
        assert_eq!(m.output_tokens_source, "client.content_chunks");
        assert_close(m.tpot_s, tpot);
        assert_close(m.tokens_per_s, tpot.map(|x| 1.0 / x));
        assert_close(m.e2e_tokens_per_s, Some(output_tokens as f64 / end));
        assert_eq!(m.count_note, None);
    }

    #[test]
    fn server_count_is_preferred_to_chunks() {
        let m = compute(&streamed(&[1.0, 1.5, 2.0], 3.0), &counted(21));
        assert_eq!(m.output_tokens, Some(21));
        assert_eq!(m.output_tokens_source, "ollama.eval_count");
        assert_eq!(m.content_chunks, Some(3));
        assert_close(m.tpot_s, Some(0.1));
        assert_close(m.tokens_per_s, Some(10.0));
        assert_close(m.e2e_tokens_per_s, Some(7.0));
    }

    #[rstest]
    #[case::equal(4, None)]
    #[case::one_more(5, None)]
    #[case::one_fewer(3, None)]
    #[case::two_more(
        6,
        Some("output token count 6 (server) differs from 4 content chunks (client)")
    )]
    #[case::many_fewer(
        1,
        Some("output token count 1 (server) differs from 4 content chunks (client)")
    )]
    fn count_note_when_counts_differ_by_more_than_one(
        #[case] server: u64,
        #[case] note_start: Option<&str>,
    ) {
        let m = compute(&streamed(&[0.1, 0.2, 0.3, 0.4], 0.5), &counted(server));
        match note_start {
            Some(start) => assert!(m.count_note.as_deref().unwrap().starts_with(start)),
            None => assert_eq!(m.count_note, None),
        }
    }

    #[test]
    fn non_streaming_ttft_is_latency() {
        let t = Timeline {
            first_byte_s: Some(1.9),
            content_chunks_s: Vec::new(),
            end_s: 2.0,
            streamed: false,
        };
        let m = compute(&t, &counted(50));
        assert_eq!(m.ttft_s, m.latency_s);
        assert_eq!(m.itl_mean_s, None);
        assert_eq!(m.tpot_s, None);
        assert_eq!(m.tokens_per_s, None);
        assert_close(m.e2e_tokens_per_s, Some(25.0));
        assert_eq!(m.count_note, None, "one body is not one token");
    }

    #[test]
    fn a_body_without_a_server_count_has_no_token_count() {
        let t = Timeline {
            first_byte_s: Some(1.9),
            content_chunks_s: Vec::new(),
            end_s: 2.0,
            streamed: false,
        };
        let m = compute(&t, &ServerCounts::default());
        assert_eq!(m.output_tokens, None);
        assert_eq!(m.e2e_tokens_per_s, None);
        assert!(m.output_tokens_source.starts_with("unknown"));
        assert!(!m.figures().iter().any(|(name, _)| *name == "output_tokens"));
    }

    #[test]
    fn server_figures_pass_through() {
        let s = ServerCounts {
            prompt_tokens: Some(30),
            prompt_seconds: Some(0.15),
            load_seconds: Some(1.25),
            server_tokens_per_s: Some(42.0),
            ..counted(10)
        };
        let m = compute(&streamed(&[0.2], 0.2), &s);
        assert_eq!(m.prompt_tokens, Some(30));
        assert_close(m.prompt_tokens_per_s, Some(200.0));
        assert_eq!(m.load_s, Some(1.25));
        assert_eq!(m.server_tokens_per_s, Some(42.0));
        assert_eq!(m.tpot_s, None, "no time after the first token");
    }

    #[test]
    fn prompt_rate_needs_time() {
        let s = ServerCounts {
            prompt_tokens: Some(30),
            prompt_seconds: Some(0.0),
            ..Default::default()
        };
        assert_eq!(compute(&streamed(&[], 1.0), &s).prompt_tokens_per_s, None);
    }

    #[test]
    fn figures_list_only_known_values_in_stable_order() {
        let sparse = compute(&streamed(&[], 0.0), &ServerCounts::default());
        assert_eq!(
            sparse.figures(),
            vec![
                ("ttft", 0.0),
                ("latency", 0.0),
                ("output_tokens", 0.0),
                ("content_chunks", 0.0)
            ]
        );

        let s = ServerCounts {
            prompt_tokens: Some(8),
            prompt_seconds: Some(0.5),
            load_seconds: Some(2.0),
            server_tokens_per_s: Some(12.0),
            ..counted(3)
        };
        let full = compute(&streamed(&[1.0, 1.5, 2.0], 2.0), &s);
        // Every figure is a threshold key of inference checks and a registered metric (with
        // a unit for the reports), in the order of that list.
        let names: Vec<&str> = full.figures().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, crate::scenario::inference::GENERATION_FIGURES);
        for name in names {
            assert!(crate::metric::unit_of(name).is_some(), "{name}");
        }
        assert_eq!(full.figures()[5], ("tpot", 0.5));
        assert_eq!(full.figures()[13], ("load_duration", 2.0));
    }
}
