//! The SSE event sequence of a streamed Messages answer.
//! Owns event order (message_start … message_stop, one ping); must never decide content.

use bytes::Bytes;
use serde_json::json;

use super::messages::{Answer, Block};
use crate::gen::tools::fragments;
use crate::http::reply::event;

/// message_start, content_block_start, ping, deltas, content_block_stop, message_delta, message_stop.
pub(crate) fn events(a: &Answer) -> Vec<Bytes> {
    let mut out = Vec::new();
    let start = json!({"type": "message_start", "message": {"id": a.id, "type": "message",
        "role": "assistant", "model": a.model, "content": [], "stop_reason": null,
        "stop_sequence": null, "usage": a.usage(1)}});
    out.push(event(Some("message_start"), &start));
    let block_start = match &a.block {
        Block::Text(_) => json!({"type": "text", "text": ""}),
        Block::Tool { id, name, .. } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": {}})
        }
    };
    out.push(event(
        Some("content_block_start"),
        &json!({"type": "content_block_start", "index": 0, "content_block": block_start}),
    ));
    out.push(event(Some("ping"), &json!({"type": "ping"})));
    let delta = |d: serde_json::Value| {
        event(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0, "delta": d}),
        )
    };
    match &a.block {
        Block::Text(p) => {
            for piece in p.deltas() {
                out.push(delta(json!({"type": "text_delta", "text": piece})));
            }
        }
        Block::Tool { input, .. } => {
            for frag in fragments(&input.to_string()) {
                out.push(delta(
                    json!({"type": "input_json_delta", "partial_json": frag}),
                ));
            }
        }
    }
    out.push(event(
        Some("content_block_stop"),
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(event(
        Some("message_delta"),
        &json!({"type": "message_delta",
            "delta": {"stop_reason": a.stop_reason(), "stop_sequence": a.stop_sequence()},
            "usage": {"output_tokens": a.output_tokens()}}),
    ));
    out.push(event(
        Some("message_stop"),
        &json!({"type": "message_stop"}),
    ));
    out
}
