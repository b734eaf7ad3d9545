//! An Anthropic JSON answer to a stream request as the events the upstream would have sent:
//! `message_start`, each block's start, delta and stop, `message_delta` with the stop reason
//! and output tokens, `message_stop`.
//!
//! Owns: that event sequence, and telling an Anthropic error body from an answer. Must never:
//! read beyond the answer it is given.

use super::super::replay::{invalid, not_streamed, Events};
use crate::upstream::UpstreamError;
use crate::wire::Endpoint;
use serde_json::{json, Value};

/// An error body: `"type": "error"`.
pub(crate) fn is_error(v: &Value) -> bool {
    v["type"] == "error"
}

/// The events of the answer `v` on `op`.
pub(crate) fn events(op: Endpoint, v: &Value, out: &mut Events) -> Result<(), UpstreamError> {
    match op {
        Endpoint::Messages | Endpoint::GenerateContent => {}
        Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents
        | Endpoint::ImageGenerations
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => return Err(not_streamed()),
    }
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| invalid("has no content"))?;
    let mut usage = v.get("usage").cloned().unwrap_or_else(|| json!({}));
    let output = usage["output_tokens"].take();
    if let Some(u) = usage.as_object_mut() {
        u.insert("output_tokens".into(), 0.into());
    }
    let mut message = v.clone();
    if let Some(m) = message.as_object_mut() {
        m.insert("content".into(), json!([]));
        m.insert("stop_reason".into(), Value::Null);
        m.insert("stop_sequence".into(), Value::Null);
        m.insert("usage".into(), usage);
    }
    out.put(
        Some("message_start"),
        &json!({"type": "message_start", "message": message}),
    );
    for (index, b) in blocks.iter().enumerate() {
        let (start, delta) = match b["type"].as_str() {
            Some("text") => (
                json!({"type": "text", "text": ""}),
                Some(json!({"type": "text_delta", "text": b["text"]})),
            ),
            Some("thinking") => (
                json!({"type": "thinking", "thinking": ""}),
                Some(json!({"type": "thinking_delta", "thinking": b["thinking"]})),
            ),
            Some("tool_use") => (
                json!({"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}),
                Some(json!({"type": "input_json_delta", "partial_json": b["input"].to_string()})),
            ),
            _ => (b.clone(), None),
        };
        out.put(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        if let Some(d) = delta {
            out.put(
                Some("content_block_delta"),
                &json!({"type": "content_block_delta", "index": index, "delta": d}),
            );
        }
        out.put(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": index}),
        );
    }
    out.put(
        Some("message_delta"),
        &json!({"type": "message_delta",
            "delta": {"stop_reason": v["stop_reason"], "stop_sequence": v["stop_sequence"]},
            "usage": {"output_tokens": output}}),
    );
    out.put(Some("message_stop"), &json!({"type": "message_stop"}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::stream::sse::SseParser;
    use crate::upstream::Redactor;
    use crate::wire::Endpoint;
    use serde_json::{json, Value};

    #[test]
    fn a_message_replays_as_its_event_sequence() {
        let msg = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Hello"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}],
            "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":3}}"#;
        let p = provider_for(ProviderKind::Anthropic);
        let bytes = p
            .replay(Endpoint::Messages, msg, &Redactor::default())
            .unwrap();
        let mut parser = SseParser::new(1 << 20);
        let mut ev = Vec::new();
        parser.push(&bytes, &mut ev).unwrap();
        let names: Vec<&str> = ev.iter().map(|e| e.event.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let start: Value = serde_json::from_str(&ev[0].data).unwrap();
        assert_eq!(
            start["message"]["usage"],
            json!({"input_tokens": 7, "output_tokens": 0})
        );
        let input: Value = serde_json::from_str(&ev[5].data).unwrap();
        assert_eq!(input["delta"]["partial_json"], "{\"a\":1}");
        let delta: Value = serde_json::from_str(&ev[7].data).unwrap();
        assert_eq!(
            (
                delta["delta"]["stop_reason"].as_str(),
                delta["usage"]["output_tokens"].as_u64()
            ),
            (Some("tool_use"), Some(3))
        );
    }
}
