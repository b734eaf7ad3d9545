//! Streaming Gemini chunks (`data: <GenerateContentResponse>`, no terminator) -> Anthropic
//! Messages events.
//!
//! Owns: `GeminiToMessagesStream`: `message_start` on the first chunk, text and thought
//! deltas in `text` and `thinking` blocks (indexes 0, 1, 2, ..., one open at a time), each
//! whole `functionCall` as a `tool_use` block given its input in one `input_json_delta`, and
//! when the upstream ends after a finish reason `message_delta` (stop reason, usage) and
//! `message_stop`. An `{"error":...}` chunk is read by Gemini's reader and rendered by
//! `error.rs` as `event: error`; an end without a finish reason is the upstream's error.
//! Must never buffer content: the state is a handful of scalars.

use serde_json::json;

use super::response::tool_id;
use crate::bridges::common::gemini_upstream::read::{chunk, Chunk};
use crate::bridges::common::gemini_upstream::Piece;
use crate::bridges::common::json::reprefix;
use crate::bridges::common::message_blocks::{event, Blocks};
use crate::bridges::common::Side;
use crate::bridges::emit;
use crate::providers::anthropic;
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, SseOut, StopReason, Usage, WireFormat};
use bytes::Bytes;
use std::sync::Arc;

const UP: Side = Side::Upstream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool,
}

/// Gemini chunks in -> Anthropic SSE events out.
#[derive(Debug)]
pub(crate) struct GeminiToMessagesStream {
    id: String,
    model: String,
    started: bool,
    done: bool,
    failed: bool,
    /// The text, thinking and tool_use blocks (a tool call arrives whole).
    blocks: Blocks<Block>,
    called: bool,
    finish: Option<StopReason>,
    usage: Option<Usage>,
    redactor: Arc<Redactor>,
}

impl GeminiToMessagesStream {
    /// `client_model` is echoed in `message_start`.
    pub(crate) fn new(client_model: &str) -> Self {
        Self {
            id: reprefix(None, &[], "msg_"),
            model: client_model.to_owned(),
            started: false,
            done: false,
            failed: false,
            blocks: Blocks::new(),
            called: false,
            finish: None,
            usage: None,
            redactor: crate::bridges::default_redactor(),
        }
    }

    /// Redacts upstream error events with the relay's redactor.
    pub(crate) fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Feed one upstream SSE event's data; returns the events to emit (possibly none).
    pub(crate) fn push(&mut self, data: &str) -> Result<Vec<SseOut>, ConvertError> {
        let data = data.trim();
        let mut out = Vec::new();
        if self.done || data.is_empty() {
            return Ok(out);
        }
        let r = match chunk(data, WireFormat::Anthropic, &self.redactor)? {
            Chunk::Read(r) => r,
            Chunk::Error(e) => {
                out.push(e);
                self.done = true;
                self.failed = true;
                return Ok(out);
            }
        };
        if let Some(u) = r.usage {
            self.usage = Some(u);
        }
        if !self.started {
            self.id = reprefix(r.id.as_deref(), &[], "msg_");
            self.started = true;
            let mut usage = self.usage.unwrap_or_default();
            usage.completion_tokens = 0;
            out.push(event(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": anthropic::usage::write(usage),
                }}),
            ));
        }
        for p in r.pieces {
            match p {
                Piece::Text(t) => {
                    self.blocks
                        .ensure(Block::Text, json!({"type": "text", "text": ""}), &mut out);
                    self.blocks
                        .delta(json!({"type": "text_delta", "text": t}), &mut out);
                }
                Piece::Thought(t) => {
                    let start = json!({"type": "thinking", "thinking": "", "signature": ""});
                    self.blocks.ensure(Block::Thinking, start, &mut out);
                    self.blocks
                        .delta(json!({"type": "thinking_delta", "thinking": t}), &mut out);
                }
                Piece::Call { name, args, id } => {
                    self.called = true;
                    let block = json!({"type": "tool_use", "id": tool_id(id.as_deref()),
                        "name": name, "input": {}});
                    let delta =
                        json!({"type": "input_json_delta", "partial_json": args.to_string()});
                    self.blocks.whole(Block::Tool, block, delta, &mut out);
                }
            }
        }
        if r.finish.is_some() {
            self.finish = r.finish;
        }
        Ok(out)
    }

    /// Upstream end of stream: after a finish reason the message is closed; nothing after a
    /// forwarded error; else `InvalidUpstream` (the answer was cut).
    pub(crate) fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        let Some(stop) = self.finish else {
            return Err(UP.err("upstream stream ended without a finishReason"));
        };
        self.blocks.stop(&mut out);
        let stop = anthropic::stop::word(stop.given_tools(self.called));
        let usage = anthropic::usage::write(self.usage.unwrap_or_default());
        out.push(event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
        ));
        out.push(event("message_stop", json!({"type": "message_stop"})));
        self.done = true;
        Ok(out)
    }
}

impl Transform for GeminiToMessagesStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.push(&ev.data)?, out);
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.finish()?, out);
        Ok(())
    }

    /// The latest `usageMetadata` (Gemini's counts are running totals).
    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn upstream_failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests;
