//! Non-streaming OpenAI `chat.completion` -> Anthropic Messages response.
//!
//! Owns: `chat_response_to_messages` and the rule for tool arguments that are not a JSON object
//! (kept as `{"_raw": "<string>"}` so nothing is lost). Must never read beyond `choices[0]`.

use serde_json::{json, Value};

use crate::bridges::common::chat_answer::{self, ChatCall};
use crate::bridges::common::json::{fresh_suffix, parse_arguments, reprefix};
use crate::providers::anthropic;
use crate::wire::ConvertError;
use crate::wire::Usage;

/// Convert a `chat.completion` into an Anthropic message for a client that asked for
/// `client_model`. Returns the upstream usage as well (zeros if the provider sent none).
pub fn chat_response_to_messages(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let a = chat_answer::read(resp)?;
    let mut blocks = Vec::with_capacity(a.calls.len() + 2);
    if !a.reasoning.is_empty() {
        blocks.push(json!({"type": "thinking", "thinking": a.reasoning, "signature": ""}));
    }
    if !a.text.is_empty() {
        blocks.push(json!({"type": "text", "text": a.text}));
    }
    blocks.extend(a.calls.into_iter().map(tool_use_block));
    let id = reprefix(a.id.as_deref(), &["chatcmpl-"], "msg_");
    let out = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": blocks,
        "stop_reason": anthropic::stop::word(a.stop),
        "stop_sequence": null,
        "usage": anthropic::usage::write(a.usage),
    });
    Ok((out, a.usage))
}

fn tool_use_block(c: ChatCall) -> Value {
    let id = c.id.unwrap_or_else(|| format!("toolu_{}", fresh_suffix()));
    json!({
        "type": "tool_use",
        "id": id,
        "name": c.name,
        "input": parse_arguments(&c.arguments),
    })
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
