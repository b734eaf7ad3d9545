//! Non-streaming Gemini `GenerateContentResponse` -> OpenAI `chat.completion`.
//!
//! Owns: `gemini_response_to_chat`: candidate 0's text parts joined as `content`, its thought
//! parts as `reasoning_content`, its function calls as `tool_calls` (Gemini's id, else a fresh
//! `call_` id), the finish reason, a blocked prompt as an empty answer that finished with
//! `content_filter`, and the usage. Must never drop text or tool calls.

use serde_json::{json, Value};

use crate::bridges::common::gemini_upstream::{read, Piece};
use crate::bridges::common::json::{fresh_suffix, now_secs, reprefix, Obj};
use crate::providers::openai;
use crate::wire::{ConvertError, StopReason, Usage};

/// A tool call id: Gemini's when it gave one, else a fresh one.
pub(super) fn call_id(id: Option<&str>) -> String {
    id.map_or_else(|| format!("call_{}", fresh_suffix()), str::to_owned)
}

/// Convert a Gemini answer into a `chat.completion` for a client that asked for
/// `client_model`, with the usage (zeros if Gemini sent none).
pub(crate) fn gemini_response_to_chat(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let reading = read(resp)?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in &reading.pieces {
        match p {
            Piece::Text(t) => text.push_str(t),
            Piece::Thought(t) => reasoning.push_str(t),
            Piece::Call { name, args, id } => calls.push(json!({
                "id": call_id(id.as_deref()),
                "type": "function",
                "function": {"name": name, "arguments": args.to_string()},
            })),
        }
    }
    let mut message = Obj::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    let has_calls = !calls.is_empty();
    if has_calls {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    let stop = reading
        .finish
        .unwrap_or(StopReason::EndTurn)
        .given_tools(has_calls);
    let usage = reading.usage.unwrap_or_default();
    let out = json!({
        "id": reprefix(reading.id.as_deref(), &[], "chatcmpl-"),
        "object": "chat.completion",
        "created": now_secs(),
        "model": client_model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
            "finish_reason": openai::finish::word(stop)}],
        "usage": openai::usage::write(usage),
    });
    Ok((out, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(resp: Value) -> Value {
        gemini_response_to_chat(&resp, "my-model").unwrap().0
    }

    #[test]
    fn text_answer_from_providers_md() {
        let (out, usage) = gemini_response_to_chat(
            &json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},
                "finishReason":"STOP","index":0}],
                "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6,
                    "thoughtsTokenCount":0,"cachedContentTokenCount":0},
                "modelVersion":"gemini-2.0-flash","responseId":"abc123"}),
            "my-model",
        )
        .unwrap();
        assert_eq!(out["id"], "chatcmpl-abc123");
        assert_eq!(out["model"], "my-model");
        assert_eq!(
            out["choices"],
            json!([{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},
                "logprobs":null,"finish_reason":"stop"}])
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens":4,"completion_tokens":2,"total_tokens":6,
                "prompt_tokens_details":{"cached_tokens":0}})
        );
        assert_eq!(usage.completion_tokens, 2);
    }

    #[test]
    fn calls_thoughts_and_generated_ids() {
        let out = conv(json!({"candidates":[{"content":{"parts":[
            {"text":"plan","thought":true},
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
            {"functionCall":{"name":"noop","args":{},"id":"given"}}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7}}));
        let m = &out["choices"][0]["message"];
        assert_eq!(m["content"], Value::Null);
        assert_eq!(m["reasoning_content"], "plan");
        let calls = m["tool_calls"].as_array().unwrap();
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(
            calls[0]["function"],
            json!({"name":"get_weather","arguments":"{\"city\":\"Paris\"}"})
        );
        assert_eq!(calls[1]["id"], "given");
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["usage"]["completion_tokens"], 12);
        let again = conv(json!({"candidates":[{"content":{"parts":[
            {"functionCall":{"name":"get_weather"}}]}}]}));
        assert_ne!(
            again["choices"][0]["message"]["tool_calls"][0]["id"],
            calls[0]["id"]
        );
    }

    #[test]
    fn finish_reasons_and_safety_blocks() {
        for (g, o) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("NEWER_WORD", "stop"),
        ] {
            let out = conv(json!({"candidates":[{"finishReason":g,"index":0}]}));
            assert_eq!(out["choices"][0]["finish_reason"], o, "{g}");
            assert_eq!(out["choices"][0]["message"]["content"], "");
        }
        let out = conv(
            json!({"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},
            "usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}),
        );
        assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(out["choices"][0]["message"]["content"], "");
        assert_eq!(out["usage"]["prompt_tokens"], 3);
        let out = conv(
            json!({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]},
            "finishReason":"MAX_TOKENS"}]}),
        );
        assert_eq!(out["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn malformed_answers_are_the_upstreams() {
        for bad in [
            json!(1),
            json!({"candidates":"x"}),
            json!({"candidates":[{"content":{"parts":[{"functionCall":{}}]}}]}),
        ] {
            assert!(
                matches!(
                    gemini_response_to_chat(&bad, "m"),
                    Err(ConvertError::InvalidUpstream(_))
                ),
                "{bad}"
            );
        }
        let (out, usage) = gemini_response_to_chat(&json!({}), "m").unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(usage, Usage::default());
    }
}
