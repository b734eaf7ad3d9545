//! Non-streaming Gemini `GenerateContentResponse` -> Anthropic `message`.
//!
//! Owns: `gemini_response_to_messages`: candidate 0's parts as content blocks in order
//! (adjacent text parts as one `text` block, thought parts as `thinking` blocks with an empty
//! `signature`, function calls as `tool_use` blocks with Gemini's id or a fresh `toolu_` id),
//! the stop reason (a blocked prompt: `refusal`, no content) and the usage. Must never drop
//! text or tool calls.

use serde_json::{json, Value};

use crate::bridges::common::gemini_upstream::{read, Piece};
use crate::bridges::common::json::{fresh_suffix, reprefix};
use crate::providers::anthropic;
use crate::wire::{ConvertError, StopReason, Usage};

/// A `tool_use` id: Gemini's when it gave one, else a fresh one.
pub(super) fn tool_id(id: Option<&str>) -> String {
    id.map_or_else(|| format!("toolu_{}", fresh_suffix()), str::to_owned)
}

/// Convert a Gemini answer into an Anthropic message for a client that asked for
/// `client_model`, with the usage (zeros if Gemini sent none).
pub(crate) fn gemini_response_to_messages(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let reading = read(resp)?;
    let has_calls = reading.has_calls();
    let mut content: Vec<Value> = Vec::new();
    for p in reading.pieces {
        let last = content.last_mut();
        match p {
            Piece::Text(t) => match last {
                Some(b) if b["type"] == "text" => append(b, "text", &t),
                _ => content.push(json!({"type": "text", "text": t})),
            },
            Piece::Thought(t) => match last {
                Some(b) if b["type"] == "thinking" => append(b, "thinking", &t),
                _ => content.push(json!({"type": "thinking", "thinking": t, "signature": ""})),
            },
            Piece::Call { name, args, id } => content.push(json!({
                "type": "tool_use", "id": tool_id(id.as_deref()), "name": name, "input": args,
            })),
        }
    }
    let stop = reading
        .finish
        .unwrap_or(StopReason::EndTurn)
        .given_tools(has_calls);
    let usage = reading.usage.unwrap_or_default();
    let out = json!({
        "id": reprefix(reading.id.as_deref(), &[], "msg_"),
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": content,
        "stop_reason": anthropic::stop::word(stop),
        "stop_sequence": null,
        "usage": anthropic::usage::write(usage),
    });
    Ok((out, usage))
}

fn append(block: &mut Value, key: &str, more: &str) {
    if let Some(Value::String(s)) = block.get_mut(key) {
        s.push_str(more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(resp: Value) -> Value {
        gemini_response_to_messages(&resp, "my-model").unwrap().0
    }

    #[test]
    fn text_thinking_and_tool_use_blocks() {
        let (out, usage) = gemini_response_to_messages(
            &json!({"candidates":[{"content":{"role":"model","parts":[
                {"text":"a","thought":true},{"text":"b","thought":true},
                {"text":"Hel"},{"text":"lo"},
                {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                {"functionCall":{"name":"noop","id":"fc_1"}}]},"finishReason":"STOP","index":0}],
                "usageMetadata":{"promptTokenCount":1100,"candidatesTokenCount":6,
                    "thoughtsTokenCount":4,"cachedContentTokenCount":1000},"responseId":"r1"}),
            "my-model",
        )
        .unwrap();
        assert_eq!(out["id"], "msg_r1");
        assert_eq!(out["model"], "my-model");
        let c = out["content"].as_array().unwrap();
        assert_eq!(
            c[0],
            json!({"type":"thinking","thinking":"ab","signature":""})
        );
        assert_eq!(c[1], json!({"type":"text","text":"Hello"}));
        assert_eq!(c[2]["type"], "tool_use");
        assert!(c[2]["id"].as_str().unwrap().starts_with("toolu_"));
        assert_eq!(c[2]["input"], json!({"city":"Paris"}));
        assert_eq!(c[3]["id"], "fc_1");
        assert_eq!(c[3]["input"], json!({}));
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(
            out["usage"],
            json!({"input_tokens":100,"output_tokens":10,"cache_creation_input_tokens":0,
                "cache_read_input_tokens":1000})
        );
        assert_eq!(usage.prompt_tokens, 1100);
    }

    #[test]
    fn stop_reasons_and_blocks() {
        for (g, a) in [
            ("STOP", "end_turn"),
            ("MAX_TOKENS", "max_tokens"),
            ("SAFETY", "refusal"),
            ("RECITATION", "refusal"),
            ("OTHER", "end_turn"),
        ] {
            let out =
                conv(json!({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":g}]}));
            assert_eq!(out["stop_reason"], a, "{g}");
        }
        let out = conv(json!({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}));
        assert_eq!(out["stop_reason"], "refusal");
        assert_eq!(out["content"], json!([]));
        let out = conv(json!({}));
        assert_eq!(out["stop_reason"], "end_turn");
        assert!(gemini_response_to_messages(&json!("x"), "m").is_err());
        assert!(gemini_response_to_messages(
            &json!({"candidates":[{"content":{"parts":[1]}}]}),
            "m"
        )
        .is_err());
    }
}
