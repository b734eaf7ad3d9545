//! Non-streaming OpenAI `chat.completion` -> Anthropic Messages response.
//!
//! Owns: `chat_response_to_messages` and the rule for tool arguments that are not a JSON object
//! (kept as `{"_raw": "<string>"}` so nothing is lost). Must never read beyond `choices[0]`.

use serde_json::{json, Value};

use crate::bridges::common::json::{
    arr, fresh_suffix, obj, opt, opt_str, reprefix, req_str, text_of, Obj,
};
use crate::bridges::common::Side;
use crate::providers::{anthropic, openai};
use crate::wire::ConvertError;
use crate::wire::{StopReason, Usage};

const UP: Side = Side::Upstream;

/// Convert a `chat.completion` into an Anthropic message for a client that asked for
/// `client_model`. Returns the upstream usage as well (zeros if the provider sent none).
pub fn chat_response_to_messages(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let r = obj(resp, "upstream response", UP)?;
    if opt(r, "error").is_some() && opt(r, "choices").is_none() {
        return Err(UP.err("upstream answered with an error object"));
    }
    let choice = arr(
        r.get("choices").unwrap_or(&Value::Null),
        "upstream choices",
        UP,
    )?
    .first()
    .ok_or_else(|| UP.err("upstream response has no choices"))?;
    let choice = obj(choice, "upstream choice", UP)?;
    let m = obj(
        choice.get("message").unwrap_or(&Value::Null),
        "upstream message",
        UP,
    )?;

    let mut blocks = Vec::new();
    let reasoning = match opt(m, "reasoning_content").or_else(|| opt(m, "reasoning")) {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    };
    if !reasoning.is_empty() {
        blocks.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
    }
    let mut text = text_of(m.get("content"), "upstream message content", "", true, UP)?;
    let mut refused = false;
    if text.is_empty() {
        if let Some(refusal) = opt_str(m, "refusal", "upstream message", UP)? {
            text = refusal.to_owned();
            refused = !text.is_empty();
        }
    }
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    if let Some(calls) = opt(m, "tool_calls") {
        for c in arr(calls, "upstream tool_calls", UP)? {
            blocks.push(tool_use_block(obj(c, "upstream tool call", UP)?)?);
        }
    }
    let tools = blocks.iter().any(|b| b["type"] == "tool_use");
    let stop = match opt_str(choice, "finish_reason", "upstream choice", UP)? {
        _ if refused => StopReason::Refusal,
        Some(f) => openai::finish::read(f).given_tools(tools),
        None => StopReason::EndTurn.given_tools(tools),
    };
    let usage = r
        .get("usage")
        .and_then(openai::usage::read)
        .unwrap_or_default();
    let id = reprefix(r.get("id").and_then(Value::as_str), &["chatcmpl-"], "msg_");
    let out = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": blocks,
        "stop_reason": anthropic::stop::word(stop),
        "stop_sequence": null,
        "usage": anthropic::usage::write(usage),
    });
    Ok((out, usage))
}

fn tool_use_block(c: &Obj) -> Result<Value, ConvertError> {
    let f = obj(
        c.get("function").unwrap_or(&Value::Null),
        "upstream tool call function",
        UP,
    )?;
    let args = opt_str(f, "arguments", "upstream tool call function", UP)?.unwrap_or("");
    let id = match opt_str(c, "id", "upstream tool call", UP)? {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("toolu_{}", fresh_suffix()),
    };
    Ok(json!({
        "type": "tool_use",
        "id": id,
        "name": req_str(f, "name", "upstream tool call function", UP)?,
        "input": parse_arguments(args),
    }))
}

/// Tool arguments as an Anthropic `input` object: empty -> `{}`, a JSON object as is, anything
/// else (invalid or truncated JSON, a non-object) -> `{"_raw": "<the string>"}`.
pub(crate) fn parse_arguments(args: &str) -> Value {
    if args.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"_raw": args}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(resp: Value) -> (Value, Usage) {
        chat_response_to_messages(&resp, "claude-alias").unwrap()
    }

    #[test]
    fn text_response_from_providers_md() {
        let (out, usage) = conv(
            json!({"id":"chatcmpl-7Xq","object":"chat.completion","created":1730000000,
            "model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!",
            "refusal":null},"logprobs":null,"finish_reason":"stop"}],
            "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}}}),
        );
        assert_eq!(
            out,
            json!({"id":"msg_7Xq","type":"message","role":"assistant","model":"claude-alias",
            "content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":9,"output_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})
        );
        assert_eq!(usage.completion_tokens, 3);
    }

    #[test]
    fn tool_calls_reasoning_and_cached_usage() {
        let (out, usage) = conv(
            json!({"choices":[{"message":{"role":"assistant","content":null,
            "reasoning_content":"think",
            "tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                          {"id":"call_10","type":"function","function":{"name":"noop","arguments":""}},
                          {"type":"function","function":{"name":"cut","arguments":"{\"a\":"}}]},
            "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_tokens_details":{"cached_tokens":80}}}),
        );
        let c = out["content"].as_array().unwrap();
        assert_eq!(
            c[0],
            json!({"type":"thinking","thinking":"think","signature":""})
        );
        assert_eq!(
            c[1],
            json!({"type":"tool_use","id":"call_9","name":"get_weather","input":{"city":"Paris"}})
        );
        assert_eq!(c[2]["input"], json!({}));
        assert_eq!(c[3]["input"], json!({"_raw":"{\"a\":"}));
        assert!(c[3]["id"].as_str().unwrap().starts_with("toolu_"));
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(out["usage"]["input_tokens"], 20);
        assert_eq!(out["usage"]["cache_read_input_tokens"], 80);
        assert_eq!(usage.prompt_tokens, 100);
    }

    #[test]
    fn every_finish_reason_refusal_and_parts() {
        for (o, a) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("function_call", "tool_use"),
            ("content_filter", "refusal"),
        ] {
            let (out, _) = conv(json!({"choices":[{"message":{"content":"x"},"finish_reason":o}]}));
            assert_eq!(out["stop_reason"], a, "{o}");
        }
        let (out, _) = conv(
            json!({"choices":[{"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]}),
        );
        assert_eq!(out["content"], json!([{"type":"text","text":"I can't"}]));
        assert_eq!(out["stop_reason"], "refusal");
        let (out, _) = conv(
            json!({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}),
        );
        assert_eq!(out["content"], json!([{"type":"text","text":"ab"}]));
        assert_eq!(out["stop_reason"], "end_turn");
        let (out, _) = conv(json!({"choices":[{"message":{"content":""}}]}));
        assert_eq!(out["content"], json!([]));
        assert!(out["id"].as_str().unwrap().starts_with("msg_"));
    }

    #[test]
    fn tool_calls_under_a_stop_finish_are_tool_use() {
        for finish in [json!("stop"), Value::Null, json!("tool_calls")] {
            let (out, _) = conv(json!({"choices":[{"message":{"content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                "finish_reason": finish}]}));
            assert_eq!(out["stop_reason"], "tool_use", "{finish}");
        }
        let (out, _) = conv(json!({"choices":[{"message":{"content":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},
            "finish_reason":"length"}]}));
        assert_eq!(out["stop_reason"], "max_tokens", "a cut call is not run");
    }

    #[test]
    fn arguments_parsing_rule() {
        assert_eq!(parse_arguments(" "), json!({}));
        assert_eq!(parse_arguments("{\"a\":1}"), json!({"a":1}));
        assert_eq!(parse_arguments("[1]"), json!({"_raw":"[1]"}));
        assert_eq!(parse_arguments("nope"), json!({"_raw":"nope"}));
    }

    #[test]
    fn malformed_upstream_is_invalid_upstream() {
        for bad in [
            json!(null),
            json!({}),
            json!({"choices":[]}),
            json!({"choices":[1]}),
            json!({"choices":[{}]}),
            json!({"choices":[{"message":{"content":5}}]}),
            json!({"choices":[{"message":{"tool_calls":{}}}]}),
            json!({"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}),
            json!({"choices":[{"message":{},"finish_reason":1}]}),
            json!({"error":{"message":"boom"}}),
        ] {
            assert!(
                matches!(
                    chat_response_to_messages(&bad, "m"),
                    Err(ConvertError::InvalidUpstream(_))
                ),
                "{bad}"
            );
        }
    }
}
