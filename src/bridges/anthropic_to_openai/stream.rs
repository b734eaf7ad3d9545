//! Streaming OpenAI `chat.completion.chunk` lines -> Anthropic Messages events.
//!
//! Owns: `ChatToMessagesStream`, an incremental state machine fed one SSE data line at a time.
//! Must never buffer content (fragments are forwarded as they arrive) and must always emit
//! content blocks with indexes 0, 1, 2, … one open at a time, as Anthropic clients expect.

use serde_json::{json, Value};

use crate::bridges::common::chat_chunk;
use crate::bridges::common::json::{fresh_suffix, reprefix};
use crate::bridges::common::message_blocks::{event, Blocks};
use crate::bridges::common::Side;
use crate::bridges::emit;
use crate::error::upstream_event;
use crate::providers::{anthropic, openai};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::ConvertError;
use crate::wire::{SseOut, StopReason, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use std::sync::Arc;

const UP: Side = Side::Upstream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool_use block, with the OpenAI `tool_calls[].index` it comes from.
    Tool(u64),
}

/// OpenAI chunks in -> Anthropic SSE events out.
#[derive(Debug)]
pub struct ChatToMessagesStream {
    id: String,
    model: String,
    started: bool,
    done: bool,
    /// The content blocks, the open one and the next index.
    blocks: Blocks<Block>,
    /// Upstream id of the open tool_use block (a different id at the same index starts a new call).
    tool_id: String,
    /// A `refusal` delta was seen: the stop reason becomes `refusal`.
    refused: bool,
    /// A tool call was seen: an answer that ended normally becomes `tool_use`.
    called: bool,
    /// The upstream ended the stream with its own error event (forwarded).
    failed: bool,
    finish: Option<StopReason>,
    usage: Option<Usage>,
    /// Applied to the text of an upstream error event before it is forwarded.
    redactor: Arc<Redactor>,
}

impl ChatToMessagesStream {
    /// `client_model` is echoed in `message_start`.
    pub fn new(client_model: &str) -> Self {
        Self {
            id: reprefix(None, &[], "msg_"),
            model: client_model.to_owned(),
            started: false,
            done: false,
            blocks: Blocks::new(),
            tool_id: String::new(),
            refused: false,
            called: false,
            failed: false,
            finish: None,
            usage: None,
            redactor: crate::bridges::default_redactor(),
        }
    }

    /// Redacts upstream error events with `redactor` (the relay's, which knows the configured
    /// secrets) instead of the default one, which knows only key shapes.
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Feed one upstream SSE event (`event` is ignored: OpenAI streams have none); returns the
    /// events to emit (possibly none).
    pub fn push(&mut self, _event: Option<&str>, data: &str) -> Result<Vec<SseOut>, ConvertError> {
        let data = data.trim();
        let mut out = Vec::new();
        if self.done || data.is_empty() {
            return Ok(out);
        }
        if data == "[DONE]" {
            self.close(&mut out);
            return Ok(out);
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| UP.err("stream chunk is not JSON"))?;
        if !v.is_object() {
            return Err(UP.err("stream chunk is not a JSON object"));
        }
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let fault =
                openai::errors::read(None, &HeaderMap::new(), data.as_bytes(), &self.redactor);
            out.push(upstream_event(WireFormat::Anthropic, &fault));
            self.done = true;
            self.failed = true;
            return Ok(out);
        }
        if let Some(u) = v.get("usage").and_then(openai::usage::read) {
            self.usage = Some(u);
        }
        if !self.started {
            self.id = reprefix(v.get("id").and_then(Value::as_str), &["chatcmpl-"], "msg_");
        }
        self.start(&mut out);
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return Ok(out);
        };
        // Only the first choice is converted (Anthropic has no `n`).
        for c in choices
            .iter()
            .filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        {
            if let Some(d) = c.get("delta").filter(|d| d.is_object()) {
                self.delta(d, &mut out)?;
            }
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(openai::finish::read(f));
            }
        }
        Ok(out)
    }

    /// Upstream end of stream. After `[DONE]` or a forwarded error there is nothing left; a
    /// stream that saw a `finish_reason` but no `[DONE]` is closed here; otherwise
    /// `InvalidUpstream` (the answer was cut).
    pub fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        if self.finish.is_none() {
            return Err(UP.err("upstream stream ended without finish_reason or [DONE]"));
        }
        self.close(&mut out);
        Ok(out)
    }

    fn start(&mut self, out: &mut Vec<SseOut>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut usage = self.usage.unwrap_or_default();
        usage.completion_tokens = 0;
        out.push(event("message_start", json!({"type": "message_start", "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": anthropic::usage::write(usage),
        }})));
    }

    fn delta(&mut self, d: &Value, out: &mut Vec<SseOut>) -> Result<(), ConvertError> {
        let reasoning = d.get("reasoning_content").or_else(|| d.get("reasoning"));
        if let Some(t) = reasoning.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            self.blocks.ensure(
                Block::Thinking,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                out,
            );
            self.blocks
                .delta(json!({"type": "thinking_delta", "thinking": t}), out);
        }
        for key in ["content", "refusal"] {
            if let Some(t) = d.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()) {
                self.refused |= key == "refusal";
                self.blocks
                    .ensure(Block::Text, json!({"type": "text", "text": ""}), out);
                self.blocks
                    .delta(json!({"type": "text_delta", "text": t}), out);
            }
        }
        for frag in chat_chunk::fragments(d) {
            let open = match self.blocks.open_kind() {
                Some(Block::Tool(index)) => Some((index, self.tool_id.as_str())),
                _ => None,
            };
            if !frag.continues(open) {
                let name = frag.name()?;
                let id = frag
                    .id
                    .map_or_else(|| format!("toolu_{}", fresh_suffix()), str::to_owned);
                let block = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                self.blocks.stop(out);
                self.blocks.ensure(Block::Tool(frag.index), block, out);
                self.tool_id = id;
                self.called = true;
            }
            if !frag.arguments.is_empty() {
                self.blocks.delta(
                    json!({"type": "input_json_delta", "partial_json": frag.arguments}),
                    out,
                );
            }
        }
        Ok(())
    }

    /// Close the message: open block, `message_delta` (stop reason, usage), `message_stop`.
    fn close(&mut self, out: &mut Vec<SseOut>) {
        self.start(out);
        self.blocks.stop(out);
        let usage = match self.usage {
            Some(u) => anthropic::usage::write(u),
            None => json!({"output_tokens": 0}),
        };
        let stop = if self.refused {
            StopReason::Refusal
        } else {
            self.finish
                .unwrap_or(StopReason::EndTurn)
                .given_tools(self.called)
        };
        let stop = anthropic::stop::word(stop);
        out.push(event(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
        ));
        out.push(event("message_stop", json!({"type": "message_stop"})));
        self.done = true;
    }
}

impl Transform for ChatToMessagesStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.push(ev.event.as_deref(), &ev.data)?, out);
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.finish()?, out);
        Ok(())
    }

    /// Usage known so far (from the upstream's usage chunk, if any).
    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn upstream_failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests;
