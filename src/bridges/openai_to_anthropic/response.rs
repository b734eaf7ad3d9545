//! Non-streaming Anthropic Messages response -> OpenAI `chat.completion` object.
//!
//! Owns: `messages_response_to_chat`. Must never drop text or tool calls; blocks without an
//! OpenAI counterpart (redacted thinking, server tool blocks) are left out on purpose.

use serde_json::{json, Value};

use crate::bridges::common::json::{arr, now_secs, obj, opt_str, reprefix, req_str, Obj};
use crate::bridges::common::Side;
use crate::providers::{anthropic, openai};
use crate::wire::ConvertError;
use crate::wire::{StopReason, Usage};

const UP: Side = Side::Upstream;

/// Convert an Anthropic message into a `chat.completion` for a client that asked for
/// `client_model`. Returns the upstream usage as well (zeros if the provider sent none).
pub fn messages_response_to_chat(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let r = obj(resp, "upstream response", UP)?;
    if r.get("type").and_then(Value::as_str) == Some("error") {
        return Err(UP.err("upstream answered with an error object"));
    }
    let empty = Vec::new();
    let blocks = match r.get("content") {
        None | Some(Value::Null) => &empty,
        Some(c) => arr(c, "upstream content", UP)?,
    };
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        let b = obj(b, "upstream content block", UP)?;
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(req_str(b, "text", "upstream text block", UP)?),
            Some("thinking") => {
                reasoning.push_str(req_str(b, "thinking", "upstream thinking block", UP)?)
            }
            Some("tool_use") => {
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({
                    "id": req_str(b, "id", "upstream tool_use block", UP)?,
                    "type": "function",
                    "function": {"name": req_str(b, "name", "upstream tool_use block", UP)?, "arguments": input.to_string()},
                }));
            }
            _ => {}
        }
    }
    let has_calls = !calls.is_empty();
    let mut message = Obj::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    let stop = opt_str(r, "stop_reason", "upstream response", UP)?
        .map_or(StopReason::EndTurn, anthropic::stop::read);
    let finish = openai::finish::word(stop.given_tools(has_calls));
    let usage = r
        .get("usage")
        .and_then(anthropic::usage::read)
        .unwrap_or_default();
    let id = reprefix(r.get("id").and_then(Value::as_str), &["msg_"], "chatcmpl-");
    let out = json!({
        "id": id,
        "object": "chat.completion",
        "created": now_secs(),
        "model": client_model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": openai::usage::write(usage),
    });
    Ok((out, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(resp: Value) -> (Value, Usage) {
        messages_response_to_chat(&resp, "my-model").unwrap()
    }

    #[test]
    fn text_response_from_providers_md() {
        let (out, usage) = conv(json!({"id":"msg_01AbC","type":"message","role":"assistant",
            "model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hello!"}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":12,"output_tokens":6,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}));
        assert_eq!(out["id"], "chatcmpl-01AbC");
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["model"], "my-model");
        assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(
            out["choices"],
            json!([{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},
            "logprobs":null,"finish_reason":"stop"}])
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens":12,"completion_tokens":6,"total_tokens":18,
            "prompt_tokens_details":{"cached_tokens":0}})
        );
        assert_eq!(usage.prompt_tokens, 12);
    }

    #[test]
    fn tool_use_thinking_and_cache_usage() {
        let (out, usage) = conv(json!({"id":"msg_2","content":[
            {"type":"thinking","thinking":"Let me think","signature":"s"},
            {"type":"redacted_thinking","data":"xx"},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
            {"type":"tool_use","id":"toolu_2","name":"noop","input":{}}],
            "stop_reason":"tool_use",
            "usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":10,"cache_read_input_tokens":100}}));
        let m = &out["choices"][0]["message"];
        assert_eq!(m["content"], Value::Null);
        assert_eq!(m["reasoning_content"], "Let me think");
        assert_eq!(
            m["tool_calls"],
            json!([
            {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"toolu_2","type":"function","function":{"name":"noop","arguments":"{}"}}])
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["usage"]["prompt_tokens"], 115);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 115,
                completion_tokens: 7,
                cache_read_tokens: 100,
                cache_creation_tokens: 10
            }
        );
    }

    #[test]
    fn every_stop_reason_and_missing_fields() {
        for (a, o) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
            ("model_context_window_exceeded", "length"),
        ] {
            let (out, _) = conv(json!({"content":[],"stop_reason":a}));
            assert_eq!(out["choices"][0]["finish_reason"], o, "{a}");
        }
        let (out, usage) = conv(json!({}));
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["choices"][0]["message"]["content"], "");
        assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(usage, Usage::default());
    }

    #[test]
    fn tool_use_under_an_end_turn_is_tool_calls() {
        for stop in [json!("end_turn"), Value::Null, json!("stop_sequence")] {
            let (out, _) = conv(
                json!({"content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}],
                "stop_reason": stop}),
            );
            assert_eq!(out["choices"][0]["finish_reason"], "tool_calls", "{stop}");
        }
        let (out, _) = conv(
            json!({"content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}],
            "stop_reason":"max_tokens"}),
        );
        assert_eq!(out["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn malformed_upstream_is_invalid_upstream() {
        for bad in [
            json!([]),
            json!({"content":{}}),
            json!({"content":[1]}),
            json!({"content":[{"type":"text"}]}),
            json!({"content":[{"type":"tool_use","name":"f"}]}),
            json!({"stop_reason":5}),
            json!({"type":"error","error":{"type":"api_error","message":"x"}}),
        ] {
            assert!(
                matches!(
                    messages_response_to_chat(&bad, "m"),
                    Err(ConvertError::InvalidUpstream(_))
                ),
                "{bad}"
            );
        }
    }
}
