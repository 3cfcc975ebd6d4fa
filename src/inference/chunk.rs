//! Reads one stream object (or a whole non-streaming body) from any of the
//! supported APIs into the same flavour-neutral [`Chunk`], so timing and token
//! counting are written once, not per server.
//!
//! Objects are read straight from their JSON text, field by field, rather than
//! built into a `serde_json::Value` first: a fast server streams hundreds of
//! thousands of them a second, and the instrument must not be what limits the
//! measurement.
//!
//! Every field is optional on the wire: servers differ by version and by
//! request options, and a missing field must give `None`, never a guess.

use std::borrow::Cow;

use serde_json::Value;

use crate::inference::lenient::{self, First, Given, object, present};
use crate::inference::rate::per_second;

/// What one stream object says, whichever API it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    /// Generated text in this object; empty for role-only deltas, usage
    /// chunks and final summaries, which must not count as tokens arriving.
    pub content: String,
    pub finish_reason: Option<String>,
    /// The object itself says it is the last of the response (Ollama
    /// `done: true`, llama.cpp `/completion` `stop: true`, an OpenAI
    /// non-streaming chat body). OpenAI-style streams end with the `[DONE]`
    /// data line instead, which is not JSON and so never reaches this module;
    /// and a non-streamed body is complete by definition, so the client does
    /// not rely on this flag for one.
    pub done: bool,
    /// The server reported a failure, possibly after streaming some text.
    pub error: Option<String>,
    pub server: ServerCounts,
}

/// What the server says about its own work, in seconds and tokens whatever
/// units it used.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct ServerCounts {
    pub output_tokens: Option<u64>,
    /// Prompt tokens the server evaluated for this request. Where it reports
    /// that separately from the full prompt size (llama.cpp `timings.prompt_n`,
    /// which leaves out tokens reused from its cache) that is the number taken,
    /// so that it matches `prompt_seconds` and their ratio is a true rate.
    pub prompt_tokens: Option<u64>,
    pub decode_seconds: Option<f64>,
    pub prompt_seconds: Option<f64>,
    pub load_seconds: Option<f64>,
    pub server_tokens_per_s: Option<f64>,
    /// Where `output_tokens` came from, recorded beside the count because the
    /// sources are not equally trustworthy: "ollama.eval_count",
    /// "openai.usage", "llamacpp.timings" or "llamacpp.tokens_predicted".
    pub source: Option<&'static str>,
}

/// Reads an Ollama `/api/generate` or `/api/chat` object from its JSON text.
/// Ollama gives its durations in nanoseconds.
pub fn from_ollama(json: &[u8]) -> serde_json::Result<Chunk> {
    let v: OllamaObject = lenient::read(json)?;
    let server = ollama_counts(&v);
    let content = v.response.or(v.message.and_then(|m| m.content));
    Ok(Chunk {
        content: content.unwrap_or_default().into_owned(),
        finish_reason: v.done_reason.map(Cow::into_owned),
        done: v.done.unwrap_or(false),
        error: reported_error(json, v.error.as_ref(), v.object.as_deref())?,
        server,
    })
}

fn ollama_counts(v: &OllamaObject) -> ServerCounts {
    let decode_seconds = nanos(v.eval_duration);
    ServerCounts {
        output_tokens: v.eval_count,
        prompt_tokens: v.prompt_eval_count,
        decode_seconds,
        prompt_seconds: nanos(v.prompt_eval_duration),
        load_seconds: nanos(v.load_duration),
        server_tokens_per_s: rate(v.eval_count, decode_seconds),
        source: v.eval_count.map(|_| "ollama.eval_count"),
    }
}

/// Reads an object from an OpenAI-compatible API (chat or completions,
/// streaming or not) or from llama.cpp's native `/completion`, from its JSON
/// text. llama.cpp adds a `timings` object, in milliseconds, to either.
pub fn from_openai(json: &[u8]) -> serde_json::Result<Chunk> {
    let v: OpenAiObject = lenient::read(json)?;
    let server = openai_counts(&v);
    let choice = v.choices.map(|First(choice)| choice).unwrap_or_default();
    let whole_body = choice.message.is_some();
    let content = (choice.delta.and_then(|d| d.content))
        .or(choice.message.flatten().and_then(|m| m.content))
        .or(choice.text)
        .or(v.content);
    let stopped = v.stop.unwrap_or(false);
    Ok(Chunk {
        content: content.unwrap_or_default().into_owned(),
        finish_reason: (choice.finish_reason.map(Cow::into_owned))
            .or_else(|| stop_reason(v.stop_type.as_deref(), stopped)),
        done: stopped || whole_body,
        error: reported_error(json, v.error.as_ref(), v.object.as_deref())?,
        server,
    })
}

/// llama.cpp `/completion` says why it stopped in its own words; they are
/// mapped to the OpenAI ones its own OpenAI endpoints use, so reports compare.
fn stop_reason(stop_type: Option<&str>, stopped: bool) -> Option<String> {
    if !stopped {
        return None;
    }
    let reason = match stop_type? {
        "eos" | "word" => "stop",
        "limit" => "length",
        _ => return None,
    };
    Some(reason.to_owned())
}

/// `usage` is the server's count for the whole response and wins over
/// llama.cpp's `timings`, which remain the source for durations and rate.
fn openai_counts(v: &OpenAiObject) -> ServerCounts {
    let usage = v.usage.as_ref();
    let timings = v.timings.as_ref();
    let predicted = timings.and_then(|t| t.predicted_n);
    let decode_seconds = millis(timings.and_then(|t| t.predicted_ms));
    let (output_tokens, source) = if let Some(n) = usage.and_then(|u| u.completion_tokens) {
        (Some(n), Some("openai.usage"))
    } else if let Some(n) = predicted {
        (Some(n), Some("llamacpp.timings"))
    } else if let Some(n) = v.tokens_predicted {
        (Some(n), Some("llamacpp.tokens_predicted"))
    } else {
        (None, None)
    };
    ServerCounts {
        output_tokens,
        prompt_tokens: (timings.and_then(|t| t.prompt_n))
            .or(usage.and_then(|u| u.prompt_tokens))
            .or(v.tokens_evaluated),
        decode_seconds,
        prompt_seconds: millis(timings.and_then(|t| t.prompt_ms)),
        load_seconds: None,
        server_tokens_per_s: finite(timings.and_then(|t| t.predicted_per_second))
            .or_else(|| rate(predicted, decode_seconds)),
        source,
    }
}

/// Folds what a later object says into what earlier ones said: a value a
/// later object gives replaces the earlier one, and a missing one keeps it,
/// since servers put their counts on the last object or spread them out.
pub fn merge(into: &mut ServerCounts, from: &ServerCounts) {
    later(&mut into.output_tokens, from.output_tokens);
    later(&mut into.prompt_tokens, from.prompt_tokens);
    later(&mut into.decode_seconds, from.decode_seconds);
    later(&mut into.prompt_seconds, from.prompt_seconds);
    later(&mut into.load_seconds, from.load_seconds);
    later(&mut into.server_tokens_per_s, from.server_tokens_per_s);
    later(&mut into.source, from.source);
}

fn later<T: Copy>(into: &mut Option<T>, from: Option<T>) {
    if from.is_some() {
        *into = from;
    }
}

/// Errors come as `{"error": "text"}` (Ollama), `{"error": {"message": ..}}`
/// (OpenAI, llama.cpp) or `{"object": "error", "message": ..}` (older vLLM).
pub fn error_message(v: &Value) -> Option<String> {
    let message = match &v["error"] {
        Value::Null if v["object"] == "error" => describe(v),
        Value::Null => return None,
        Value::String(text) => text.clone(),
        other => describe(other),
    };
    // A server's message reaches every artifact: a hostile one may be megabytes long.
    Some(crate::text::excerpt(&message, ERROR_EXCERPT))
}

/// How much of a server's error message is quoted.
pub(crate) const ERROR_EXCERPT: usize = 500;

/// The error's `message`, or the whole error as JSON when it has none, so
/// nothing the server said is lost.
fn describe(error: &Value) -> String {
    owned(&error["message"]).unwrap_or_else(|| error.to_string())
}

fn owned(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// A finite number; llama.cpp writes NaN rates (no tokens yet) as `null`,
/// which reads as absent.
fn finite(number: Option<f64>) -> Option<f64> {
    number.filter(|x| x.is_finite())
}

pub(crate) fn nanos(number: Option<f64>) -> Option<f64> {
    finite(number).map(|ns| ns / 1e9)
}

fn millis(number: Option<f64>) -> Option<f64> {
    finite(number).map(|ms| ms / 1e3)
}

fn rate(tokens: Option<u64>, seconds: Option<f64>) -> Option<f64> {
    per_second(tokens?, seconds?)
}

object! {
    /// The fields of an Ollama object that [`from_ollama`] reads.
    struct OllamaObject<'de> {
        response: Option<Cow<'de, str>>,
        message: Option<Message<'de>>,
        done_reason: Option<Cow<'de, str>>,
        done: Option<bool>,
        eval_count: Option<u64>,
        eval_duration: Option<f64>,
        prompt_eval_count: Option<u64>,
        prompt_eval_duration: Option<f64>,
        load_duration: Option<f64>,
        error: Option<Given>,
        object: Option<Cow<'de, str>>,
    }
}

object! {
    /// The fields of an OpenAI-compatible or llama.cpp object that
    /// [`from_openai`] reads.
    struct OpenAiObject<'de> {
        choices: Option<First<Choice<'de>>>,
        content: Option<Cow<'de, str>>,
        stop: Option<bool>,
        stop_type: Option<Cow<'de, str>>,
        usage: Option<Usage>,
        timings: Option<Timings>,
        tokens_predicted: Option<u64>,
        tokens_evaluated: Option<u64>,
        error: Option<Given>,
        object: Option<Cow<'de, str>>,
    }
}

object! {
    /// The first of `choices`, the only one read.
    struct Choice<'de> {
        delta: Option<Message<'de>>,
        /// A `message` key, even `null`, marks a non-streamed body, which is
        /// whole.
        message: Option<Option<Message<'de>>> = present,
        text: Option<Cow<'de, str>>,
        finish_reason: Option<Cow<'de, str>>,
    }
}

object! {
    /// An OpenAI `delta` or `message`, or an Ollama chat `message`: only its
    /// text is read.
    struct Message<'de> {
        content: Option<Cow<'de, str>>,
    }
}

object! {
    struct Usage {
        completion_tokens: Option<u64>,
        prompt_tokens: Option<u64>,
    }
}

object! {
    /// llama.cpp's `timings`, in milliseconds.
    struct Timings {
        prompt_n: Option<u64>,
        prompt_ms: Option<f64>,
        predicted_n: Option<u64>,
        predicted_ms: Option<f64>,
        predicted_per_second: Option<f64>,
    }
}

/// The message of the error the object `json` reports, if it has an `error`
/// that is not `null` or says `"object": "error"`. Errors are rare and come in
/// many shapes, so the object is parsed again whole for [`error_message`]
/// rather than read field by field.
fn reported_error(
    json: &[u8],
    error: Option<&Given>,
    object: Option<&str>,
) -> serde_json::Result<Option<String>> {
    if error.is_none() && object != Some("error") {
        return Ok(None);
    }
    Ok(error_message(&serde_json::from_slice(json)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    /// Reads `v` as the server would have sent it: as JSON text.
    fn ollama(v: &Value) -> Chunk {
        from_ollama(v.to_string().as_bytes()).unwrap()
    }

    fn openai(v: &Value) -> Chunk {
        from_openai(v.to_string().as_bytes()).unwrap()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[rstest]
    #[case::generate(json!({"model": "m", "response": "Hel", "done": false}), "Hel")]
    #[case::chat(json!({"message": {"role": "assistant", "content": "lo"}, "done": false}), "lo")]
    #[case::chat_thinking_only(json!({"message": {"role": "assistant", "content": "", "thinking": "hm"}}), "")]
    #[case::neither(json!({"done": false}), "")]
    fn ollama_content(#[case] v: Value, #[case] content: &str) {
        let chunk = ollama(&v);
        assert_eq!(chunk.content, content);
        assert!(!chunk.done);
        assert_eq!(chunk.server, ServerCounts::default());
    }

    #[test]
    fn ollama_final_object_converts_nanoseconds() {
        let chunk = ollama(&json!({
            "model": "m", "response": "", "done": true, "done_reason": "stop",
            "total_duration": 5_500_000_000u64, "load_duration": 1_000_000_000u64,
            "prompt_eval_count": 26, "prompt_eval_duration": 130_000_000u64,
            "eval_count": 100, "eval_duration": 2_000_000_000u64,
        }));
        assert!(chunk.done);
        assert_eq!(chunk.finish_reason.as_deref(), Some("stop"));
        assert_eq!(chunk.error, None);
        let s = chunk.server;
        assert_eq!(s.output_tokens, Some(100));
        assert_eq!(s.source, Some("ollama.eval_count"));
        assert_eq!(s.prompt_tokens, Some(26));
        assert!(close(s.decode_seconds, 2.0));
        assert!(close(s.prompt_seconds, 0.13));
        assert!(close(s.load_seconds, 1.0));

        assert!(close(s.server_tokens_per_s, 50.0));
    }

    #[rstest]
    #[case::no_counts(json!({"done": true, "done_reason": "stop"}), ServerCounts::default())]
    #[case::cached_prompt(
        json!({"done": true, "eval_count": 4, "total_duration": 1_000_000_000u64}),
        ServerCounts { output_tokens: Some(4), source: Some("ollama.eval_count"), ..Default::default() },
    )]
    #[case::zero_eval_duration(
        json!({"done": true, "eval_count": 0, "eval_duration": 0}),
        ServerCounts { output_tokens: Some(0), decode_seconds: Some(0.0), source: Some("ollama.eval_count"), ..Default::default() },
    )]
    fn ollama_final_object_with_absent_fields(#[case] v: Value, #[case] expected: ServerCounts) {
        let chunk = ollama(&v);
        assert!(chunk.done);
        assert_eq!(chunk.server, expected);
    }

    #[test]
    fn ollama_error() {
        let chunk = ollama(&json!({"error": "model \"x\" not found, try pulling it first"}));
        assert_eq!(
            chunk.error.as_deref(),
            Some("model \"x\" not found, try pulling it first")
        );
    }

    #[rstest]
    #[case::role_only(json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}), "", None)]
    #[case::role_and_null_content(json!({"choices": [{"delta": {"role": "assistant", "content": null}}]}), "", None)]
    #[case::empty_content(json!({"choices": [{"delta": {"content": ""}}]}), "", None)]
    #[case::delta(json!({"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}), "Hi", None)]
    #[case::finish(json!({"choices": [{"delta": {}, "finish_reason": "length"}]}), "", Some("length"))]
    #[case::completions_stream(json!({"object": "text_completion", "choices": [{"text": " there", "finish_reason": null}]}), " there", None)]
    fn openai_stream_chunks(
        #[case] v: Value,
        #[case] content: &str,
        #[case] finish_reason: Option<&str>,
    ) {
        let chunk = openai(&v);
        assert_eq!(chunk.content, content);
        assert_eq!(chunk.finish_reason.as_deref(), finish_reason);
        assert!(!chunk.done);
        assert_eq!(chunk.error, None);
        assert_eq!(chunk.server, ServerCounts::default());
    }

    #[test]
    fn openai_usage_chunk() {
        let chunk = openai(&json!({
            "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
        }));
        assert_eq!(chunk.content, "");
        assert_eq!(chunk.finish_reason, None);
        assert_eq!(
            chunk.server,
            ServerCounts {
                output_tokens: Some(34),
                prompt_tokens: Some(12),
                source: Some("openai.usage"),
                ..Default::default()
            }
        );
    }

    #[test]
    fn openai_null_usage_is_absent() {
        let chunk = openai(&json!({"choices": [{"delta": {"content": "a"}}], "usage": null}));
        assert_eq!(chunk.server, ServerCounts::default());
    }

    #[test]
    fn openai_non_streaming_chat() {
        let chunk = openai(&json!({
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3},
        }));
        assert_eq!(chunk.content, "Hello!");
        assert_eq!(chunk.finish_reason.as_deref(), Some("stop"));
        assert!(chunk.done);
        assert_eq!(chunk.server.output_tokens, Some(3));
    }

    #[test]
    fn openai_non_streaming_completion() {
        let chunk = openai(&json!({
            "object": "text_completion",
            "choices": [{"text": "Once upon", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 2},
        }));
        assert_eq!(chunk.content, "Once upon");
        assert_eq!(chunk.finish_reason.as_deref(), Some("length"));
        assert_eq!(chunk.server.source, Some("openai.usage"));
    }

    #[rstest]
    #[case::object(json!({"error": {"message": "context length exceeded", "type": "invalid_request_error"}}), "context length exceeded")]
    #[case::llamacpp(json!({"error": {"code": 500, "message": "slot unavailable", "type": "server_error"}}), "slot unavailable")]
    #[case::string(json!({"error": "overloaded"}), "overloaded")]
    #[case::without_message(json!({"error": {"code": 503}}), "{\"code\":503}")]
    #[case::vllm(json!({"object": "error", "message": "bad request", "code": 400}), "bad request")]
    fn openai_errors(#[case] v: Value, #[case] message: &str) {
        assert_eq!(openai(&v).error.as_deref(), Some(message));
    }

    #[test]
    fn error_object_mid_stream_is_reported_after_content() {
        let stream = [
            json!({"choices": [{"delta": {"role": "assistant"}}]}),
            json!({"choices": [{"delta": {"content": "Par"}}]}),
            json!({"error": {"message": "out of memory"}}),
        ];
        let chunks: Vec<Chunk> = stream.iter().map(openai).collect();
        assert_eq!(chunks[1].content, "Par");
        assert_eq!(chunks[1].error, None);
        assert_eq!(chunks[2].content, "");
        assert_eq!(chunks[2].error.as_deref(), Some("out of memory"));
    }

    #[test]
    fn llamacpp_timings_without_usage() {
        let chunk = openai(&json!({
            "choices": [{"delta": {}, "finish_reason": "stop"}],
            "timings": {"cache_n": 5, "prompt_n": 20, "prompt_ms": 40.0, "predicted_n": 50,
                        "predicted_ms": 1000.0, "predicted_per_second": 49.5},
        }));
        let s = chunk.server;
        assert_eq!(s.output_tokens, Some(50));
        assert_eq!(s.source, Some("llamacpp.timings"));
        assert_eq!(s.prompt_tokens, Some(20));
        assert!(close(s.prompt_seconds, 0.04));
        assert!(close(s.decode_seconds, 1.0));
        assert!(close(s.server_tokens_per_s, 49.5));
    }

    #[test]
    fn llamacpp_usage_wins_for_count_timings_for_rate() {
        let chunk = openai(&json!({
            "choices": [],
            "usage": {"completion_tokens": 247, "prompt_tokens": 1085},
            "timings": {"cache_n": 1000, "prompt_n": 85, "prompt_ms": 203.378, "predicted_n": 246,
                        "predicted_ms": 933.63, "predicted_per_second": 264.5587652496171},
        }));
        let s = chunk.server;
        assert_eq!(s.output_tokens, Some(247));
        assert_eq!(s.source, Some("openai.usage"));
        assert_eq!(
            s.prompt_tokens,
            Some(85),
            "the tokens prompt_ms was spent on"
        );
        assert!(close(s.server_tokens_per_s, 264.5587652496171));
    }

    #[test]
    fn llamacpp_rate_from_timings_when_rate_is_null() {
        let chunk = openai(&json!({
            "timings": {"predicted_n": 10, "predicted_ms": 500.0, "predicted_per_second": null},
        }));
        assert!(close(chunk.server.server_tokens_per_s, 20.0));
    }

    #[rstest]
    #[case::partial(json!({"content": "Hel", "stop": false}), "Hel", false, None)]
    #[case::eos(json!({"content": "", "stop": true, "stop_type": "eos"}), "", true, Some("stop"))]
    #[case::word(json!({"content": "", "stop": true, "stop_type": "word"}), "", true, Some("stop"))]
    #[case::limit(json!({"content": "x", "stop": true, "stop_type": "limit"}), "x", true, Some("length"))]
    #[case::none(json!({"content": "", "stop": true, "stop_type": "none"}), "", true, None)]
    fn llamacpp_native_completion(
        #[case] v: Value,
        #[case] content: &str,
        #[case] done: bool,
        #[case] finish_reason: Option<&str>,
    ) {
        let chunk = openai(&v);
        assert_eq!(chunk.content, content);
        assert_eq!(chunk.done, done);
        assert_eq!(chunk.finish_reason.as_deref(), finish_reason);
    }

    #[rstest]
    #[case::with_timings(
        json!({"content": "Hi", "stop": true, "tokens_predicted": 7, "tokens_evaluated": 30,
               "timings": {"prompt_n": 30, "prompt_ms": 15.0, "predicted_n": 7, "predicted_ms": 70.0, "predicted_per_second": 100.0}}),
        Some(7), Some("llamacpp.timings"), Some(30),
    )]
    #[case::without_timings(
        json!({"content": "Hi", "stop": true, "tokens_predicted": 7, "tokens_evaluated": 30}),
        Some(7), Some("llamacpp.tokens_predicted"), Some(30),
    )]
    fn llamacpp_native_counts(
        #[case] v: Value,
        #[case] output_tokens: Option<u64>,
        #[case] source: Option<&str>,
        #[case] prompt_tokens: Option<u64>,
    ) {
        let s = openai(&v).server;
        assert_eq!(s.output_tokens, output_tokens);
        assert_eq!(s.source, source);
        assert_eq!(s.prompt_tokens, prompt_tokens);
    }

    /// Reads JSON text exactly as written, for what `json!` cannot write:
    /// escapes, repeated keys, values of the wrong kind.
    fn text(read: fn(&[u8]) -> serde_json::Result<Chunk>, json: &str) -> Chunk {
        read(json.as_bytes()).unwrap()
    }

    #[rstest]
    #[case::ollama_response(from_ollama, r#"{"response":"a\"b\u00e9","done":false}"#)]
    #[case::ollama_chat(
        from_ollama,
        r#"{"message":{"role":"assistant","content":"a\"b\u00e9"}}"#
    )]
    #[case::openai_delta(from_openai, r#"{"choices":[{"delta":{"content":"a\"b\u00e9"}}]}"#)]
    #[case::openai_text(from_openai, r#"{"choices":[{"text":"a\"b\u00e9"}]}"#)]
    #[case::llamacpp(from_openai, r#"{"content":"a\"b\u00e9","stop":false}"#)]
    #[case::unescaped_utf8(
        from_openai,
        "{\"choices\":[{\"delta\":{\"content\":\"a\\\"b\u{e9}\"}}]}"
    )]
    fn escaped_content_is_unescaped(
        #[case] read: fn(&[u8]) -> serde_json::Result<Chunk>,
        #[case] json: &str,
    ) {
        assert_eq!(text(read, json).content, "a\"b\u{e9}");
    }

    #[rstest]
    #[case::count_as_string(
        r#"{"response":"x","eval_count":"3","prompt_eval_count":2}"#,
        None,
        Some(2),
        None
    )]
    #[case::count_as_float(
        r#"{"response":"x","eval_count":3.0,"eval_duration":1e9}"#,
        None,
        None,
        Some(1.0)
    )]
    #[case::negative_count(r#"{"response":"x","eval_count":-3}"#, None, None, None)]
    #[case::duration_as_string(
        r#"{"response":"x","eval_count":3,"eval_duration":"1"}"#,
        Some(3),
        None,
        None
    )]
    #[case::duration_as_integer(
        r#"{"response":"x","eval_count":3,"eval_duration":2000000000}"#,
        Some(3),
        None,
        Some(2.0)
    )]
    #[case::done_as_string(r#"{"response":"x","done":"true"}"#, None, None, None)]
    #[case::content_of_a_wrong_kind(
        r#"{"response":5,"message":{"content":"x"}}"#,
        None,
        None,
        None
    )]
    #[case::message_as_string(r#"{"response":"x","message":"hello"}"#, None, None, None)]
    fn ollama_values_of_the_wrong_kind_are_absent(
        #[case] json: &str,
        #[case] output_tokens: Option<u64>,
        #[case] prompt_tokens: Option<u64>,
        #[case] decode_seconds: Option<f64>,
    ) {
        let chunk = text(from_ollama, json);
        assert_eq!(chunk.content, "x");
        assert!(!chunk.done);
        assert_eq!(chunk.error, None);
        assert_eq!(chunk.server.output_tokens, output_tokens);
        assert_eq!(chunk.server.prompt_tokens, prompt_tokens);
        assert_eq!(chunk.server.decode_seconds, decode_seconds);
    }

    #[rstest]
    #[case::content_as_number(r#"{"choices":[{"delta":{"content":5},"text":"x"}]}"#, "x", false)]
    #[case::delta_as_string(r#"{"choices":[{"delta":"y","text":"x"}]}"#, "x", false)]
    #[case::choice_not_an_object(r#"{"choices":["y"],"content":"x"}"#, "x", false)]
    #[case::choices_not_an_array(
        r#"{"choices":{"delta":{"content":"y"}},"content":"x"}"#,
        "x",
        false
    )]
    #[case::only_the_first_choice(
        r#"{"choices":[{"text":"x"},{"text":"y","message":{}}]}"#,
        "x",
        false
    )]
    #[case::null_message_is_a_body(r#"{"choices":[{"message":null,"text":"x"}]}"#, "x", true)]
    #[case::message_of_a_wrong_kind_is_a_body(
        r#"{"choices":[{"message":7,"text":"x"}]}"#,
        "x",
        true
    )]
    #[case::stop_as_string(r#"{"content":"x","stop":"true","stop_type":"eos"}"#, "x", false)]
    #[case::last_of_a_repeated_key(
        r#"{"content":"y","stop":true,"content":"x","stop":false}"#,
        "x",
        false
    )]
    #[case::not_an_object(r#"["x"]"#, "", false)]
    fn openai_values_of_the_wrong_kind_are_absent(
        #[case] json: &str,
        #[case] content: &str,
        #[case] done: bool,
    ) {
        let chunk = text(from_openai, json);
        assert_eq!(chunk.content, content);
        assert_eq!(chunk.done, done);
        assert_eq!(chunk.finish_reason, None);
        assert_eq!(chunk.error, None);
    }

    #[rstest]
    #[case::usage_as_string(
        r#"{"usage":"34","tokens_predicted":7}"#,
        Some(7),
        Some("llamacpp.tokens_predicted"),
        None
    )]
    #[case::count_as_float(
        r#"{"usage":{"completion_tokens":34.0},"timings":{"predicted_n":33}}"#,
        Some(33),
        Some("llamacpp.timings"),
        None
    )]
    #[case::timings_as_array(
        r#"{"timings":[1],"usage":{"completion_tokens":34,"prompt_tokens":12}}"#,
        Some(34),
        Some("openai.usage"),
        None
    )]
    #[case::integer_milliseconds(
        r#"{"timings":{"predicted_n":10,"predicted_ms":500}}"#,
        Some(10),
        Some("llamacpp.timings"),
        Some(20.0)
    )]
    #[case::rate_as_string(
        r#"{"timings":{"predicted_n":10,"predicted_ms":500.0,"predicted_per_second":"9"}}"#,
        Some(10),
        Some("llamacpp.timings"),
        Some(20.0)
    )]
    fn openai_counts_of_the_wrong_kind_are_absent(
        #[case] json: &str,
        #[case] output_tokens: Option<u64>,
        #[case] source: Option<&str>,
        #[case] rate: Option<f64>,
    ) {
        let s = text(from_openai, json).server;
        assert_eq!(s.output_tokens, output_tokens);
        assert_eq!(s.source, source);
        assert_eq!(s.server_tokens_per_s, rate);
    }

    #[rstest]
    #[case::null_error(from_openai, r#"{"error":null,"content":"x"}"#, None)]
    #[case::error_with_escapes(
        from_ollama,
        r#"{"error":"model \"x\" not found"}"#,
        Some("model \"x\" not found")
    )]
    #[case::error_as_number(from_openai, r#"{"error":503}"#, Some("503"))]
    #[case::spaced_error_object(
        from_openai,
        r#"{"error": {"code": 503}}"#,
        Some(r#"{"code":503}"#)
    )]
    #[case::vllm_without_message(
        from_openai,
        r#"{"object":"error","code":400}"#,
        Some(r#"{"object":"error","code":400}"#)
    )]
    #[case::vllm_to_ollama_reader(
        from_ollama,
        r#"{"object":"error","message":"bad"}"#,
        Some("bad")
    )]
    #[case::other_object(
        from_openai,
        r#"{"object":"chat.completion.chunk","message":"hi"}"#,
        None
    )]
    #[case::last_error_wins(from_openai, r#"{"error":"x","error":null}"#, None)]
    fn errors_read_from_text(
        #[case] read: fn(&[u8]) -> serde_json::Result<Chunk>,
        #[case] json: &str,
        #[case] error: Option<&str>,
    ) {
        assert_eq!(text(read, json).error.as_deref(), error);
    }

    #[rstest]
    #[case::syntax(b"{\"response\":}")]
    #[case::truncated(b"{\"choices\":[{\"delta\":{\"content\":\"He")]
    #[case::two_objects(b"{} {}")]
    #[case::invalid_utf8(b"{\"model\":\"\xC3\",\"response\":\"x\"}")]
    #[case::empty(b"")]
    fn malformed_json_is_an_error_from_either_reader(#[case] json: &[u8]) {
        let expected = serde_json::from_slice::<Value>(json)
            .unwrap_err()
            .to_string();
        assert_eq!(from_ollama(json).unwrap_err().to_string(), expected);
        assert_eq!(from_openai(json).unwrap_err().to_string(), expected);
    }

    #[test]
    fn merge_keeps_earlier_values_later_ones_do_not_give() {
        let mut total = ServerCounts {
            output_tokens: Some(5),
            source: Some("llamacpp.timings"),
            server_tokens_per_s: Some(40.0),
            prompt_tokens: Some(3),
            ..Default::default()
        };
        merge(
            &mut total,
            &ServerCounts {
                output_tokens: Some(6),
                source: Some("openai.usage"),
                load_seconds: Some(0.5),
                ..Default::default()
            },
        );
        assert_eq!(
            total,
            ServerCounts {
                output_tokens: Some(6),
                source: Some("openai.usage"),
                server_tokens_per_s: Some(40.0),
                prompt_tokens: Some(3),
                load_seconds: Some(0.5),
                ..Default::default()
            }
        );
        let before = total.clone();
        merge(&mut total, &ServerCounts::default());
        assert_eq!(total, before);
    }

    /// A server's error message reaches every artifact: a hostile one is cut, saying so.
    #[rstest]
    #[case(serde_json::json!({"error": {"message": "E".repeat(3000)}}))]
    #[case(serde_json::json!({"error": "E".repeat(3000)}))]
    #[case(serde_json::json!({"object": "error", "message": "E".repeat(3000)}))]
    fn long_error_messages_are_cut(#[case] body: Value) {
        let message = error_message(&body).unwrap();
        assert!(
            message.ends_with("… (2500 more characters)"),
            "{message:.80}"
        );
        assert!(message.len() < 600);
    }
}
