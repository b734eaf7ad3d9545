//! Non-streaming Anthropic message -> Gemini `GenerateContentResponse`.
//!
//! Owns: `messages_response_to_generate`: thinking blocks as thought parts, text blocks as
//! text parts, `tool_use` blocks as `functionCall` parts (their ids kept), in order. Blocks
//! without a Gemini counterpart (redacted thinking, server tool blocks) are left out.
//! Must never: drop text or tool calls.

use serde_json::{json, Value};

use crate::bridges::common::gemini_client::answer::{self, Named};
use crate::bridges::common::json::{arr, obj, opt_str, reprefix, req_str};
use crate::bridges::common::Side;
use crate::providers::anthropic;
use crate::wire::{ConvertError, StopReason, Usage};

const UP: Side = Side::Upstream;

/// Convert an Anthropic message into a Gemini answer for a client that asked for
/// `client_model`, with the upstream's usage (zeros if it sent none).
pub(crate) fn messages_response_to_generate(
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
    let mut parts = Vec::with_capacity(blocks.len());
    let mut called = false;
    for b in blocks {
        let b = obj(b, "upstream content block", UP)?;
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                let t = req_str(b, "text", "upstream text block", UP)?;
                if !t.is_empty() {
                    parts.push(answer::text(t, false));
                }
            }
            Some("thinking") => {
                let t = req_str(b, "thinking", "upstream thinking block", UP)?;
                if !t.is_empty() {
                    parts.push(answer::text(t, true));
                }
            }
            Some("tool_use") => {
                let id = req_str(b, "id", "upstream tool_use block", UP)?;
                let name = req_str(b, "name", "upstream tool_use block", UP)?;
                let input = match b.get("input") {
                    Some(v @ Value::Object(_)) => v.clone(),
                    _ => json!({}),
                };
                parts.push(answer::call(Some(id), name, input));
                called = true;
            }
            _ => {}
        }
    }
    let stop = opt_str(r, "stop_reason", "upstream response", UP)?
        .map_or(StopReason::EndTurn, anthropic::stop::read)
        .given_tools(called);
    let usage = r
        .get("usage")
        .and_then(anthropic::usage::read)
        .unwrap_or_default();
    let id = reprefix(r.get("id").and_then(Value::as_str), &["msg_"], "");
    let named = Named {
        model: client_model,
        id: &id,
    };
    Ok((
        answer::response(&named, parts, Some(stop), Some(usage)),
        usage,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(resp: Value) -> (Value, Usage) {
        messages_response_to_generate(&resp, "gemini-alias").unwrap()
    }

    #[test]
    fn text_answer_with_cache_usage() {
        let (out, usage) = conv(json!({"id":"msg_01AbC","type":"message","role":"assistant",
            "content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":12,"output_tokens":6,"cache_creation_input_tokens":0,
                "cache_read_input_tokens":100}}));
        assert_eq!(
            out,
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello!"}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":112,"candidatesTokenCount":6,"totalTokenCount":118,
                "cachedContentTokenCount":100},
            "modelVersion":"gemini-alias","responseId":"01AbC"})
        );
        assert_eq!(usage.prompt_tokens, 112);
    }

    #[test]
    fn thinking_tool_use_and_stop_reasons() {
        let (out, _) = conv(json!({"content":[
            {"type":"thinking","thinking":"hmm","signature":"s"},
            {"type":"redacted_thinking","data":"x"},
            {"type":"text","text":"Checking."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use"}));
        assert_eq!(
            out["candidates"][0]["content"]["parts"],
            json!([{"text":"hmm","thought":true},{"text":"Checking."},
                {"functionCall":{"id":"toolu_1","name":"get_weather","args":{"city":"Paris"}}}])
        );
        assert_eq!(out["candidates"][0]["finishReason"], "STOP");
        for (reason, word) in [
            ("max_tokens", "MAX_TOKENS"),
            ("stop_sequence", "STOP"),
            ("refusal", "SAFETY"),
            ("pause_turn", "OTHER"),
        ] {
            let (out, _) =
                conv(json!({"content":[{"type":"text","text":"x"}],"stop_reason":reason}));
            assert_eq!(out["candidates"][0]["finishReason"], word, "{reason}");
        }
        let (out, _) = conv(json!({"content":[]}));
        assert_eq!(
            out["candidates"][0]["content"]["parts"],
            json!([{"text":""}])
        );
    }

    #[test]
    fn malformed_answers_are_the_upstreams() {
        for bad in [
            json!("x"),
            json!({"type":"error","error":{}}),
            json!({"content":{}}),
            json!({"content":[7]}),
            json!({"content":[{"type":"text"}]}),
            json!({"content":[{"type":"tool_use","name":"f"}]}),
            json!({"content":[],"stop_reason":5}),
        ] {
            assert!(
                matches!(
                    messages_response_to_generate(&bad, "m"),
                    Err(ConvertError::InvalidUpstream(_))
                ),
                "{bad}"
            );
        }
    }
}
