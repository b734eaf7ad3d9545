//! Streaming Anthropic Messages events -> OpenAI `chat.completion.chunk` lines.
//!
//! Owns: `MessagesToChatStream`, an incremental state machine fed one SSE event at a time.
//! Must never buffer content: each text, thinking or tool-argument fragment is forwarded as it
//! arrives, and the state is a handful of scalars whatever the length of the answer.

use serde_json::{json, Value};

use crate::bridges::common::json::{now_secs, obj, reprefix};
use crate::bridges::common::message_events::{self, Delta, Kind, Start};
use crate::bridges::common::Side;
use crate::bridges::emit;
use crate::error::upstream_event;
use crate::providers::{anthropic, openai};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::ConvertError;
use crate::wire::{SseOut, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use std::sync::Arc;

const UP: Side = Side::Upstream;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool_use block, with its OpenAI `tool_calls[].index`.
    Tool(u64),
    Other,
}

impl Block {
    fn kind(self) -> Kind {
        match self {
            Block::Text => Kind::Text,
            Block::Thinking => Kind::Thinking,
            Block::Tool(_) => Kind::Tool,
            Block::Other => Kind::Other,
        }
    }
}

/// Anthropic SSE events in -> OpenAI chunks out.
#[derive(Debug)]
pub struct MessagesToChatStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    done: bool,
    /// The open content block: (Anthropic index, kind).
    open: Option<(u64, Block)>,
    next_tool: u64,
    usage: Option<Usage>,
    /// Applied to the text of an upstream error event before it is forwarded.
    redactor: Arc<Redactor>,
    /// The upstream ended the stream with its own error event (forwarded).
    failed: bool,
}

impl MessagesToChatStream {
    /// `client_model` is echoed in every chunk; `include_usage` mirrors the client's
    /// `stream_options.include_usage`.
    pub fn new(client_model: &str, include_usage: bool) -> Self {
        Self {
            id: reprefix(None, &[], "chatcmpl-"),
            created: now_secs(),
            model: client_model.to_owned(),
            include_usage,
            started: false,
            done: false,
            open: None,
            next_tool: 0,
            usage: None,
            redactor: crate::bridges::default_redactor(),
            failed: false,
        }
    }

    /// Redacts upstream error events with `redactor` (the relay's, which knows the configured
    /// secrets) instead of the default one, which knows only key shapes.
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Feed one upstream SSE event; returns the chunks to emit (possibly none).
    pub fn push(&mut self, event: Option<&str>, data: &str) -> Result<Vec<SseOut>, ConvertError> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(Vec::new());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| UP.err("stream event data is not JSON"))?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event)
            .unwrap_or("");
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let m = obj(
                    v.get("message").unwrap_or(&Value::Null),
                    "message_start.message",
                    UP,
                )?;
                if !self.started {
                    self.id = reprefix(m.get("id").and_then(Value::as_str), &["msg_"], "chatcmpl-");
                }
                self.usage = m
                    .get("usage")
                    .and_then(anthropic::usage::read)
                    .or(self.usage);
                self.start(&mut out);
            }
            "content_block_start" => {
                self.start(&mut out);
                self.block_start(&v, &mut out)?;
            }
            "content_block_delta" => {
                self.start(&mut out);
                self.block_delta(&v, &mut out)?;
            }
            "content_block_stop"
                if self.open.map(|(i, _)| i) == v.get("index").and_then(Value::as_u64) =>
            {
                self.open = None;
            }
            "message_delta" => {
                self.start(&mut out);
                if let Some(u) = v.get("usage") {
                    self.usage = anthropic::usage::merge(self.usage, u);
                }
                if let Some(reason) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    let stop = anthropic::stop::read(reason).given_tools(self.next_tool > 0);
                    let finish = openai::finish::word(stop);
                    out.push(self.chunk(json!({}), Some(finish)));
                }
            }
            "message_stop" => {
                self.start(&mut out);
                if self.include_usage {
                    let u = openai::usage::write(self.usage.unwrap_or_default());
                    out.push(self.line(json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": u,
                    })));
                }
                out.push(SseOut {
                    event: None,
                    data: "[DONE]".to_owned(),
                });
                self.done = true;
            }
            "error" => {
                let fault = anthropic::errors::read(
                    None,
                    &HeaderMap::new(),
                    data.as_bytes(),
                    &self.redactor,
                );
                out.push(upstream_event(WireFormat::OpenAi, &fault));
                self.done = true;
                self.failed = true;
            }
            // ping, and event types newer than this code.
            _ => {}
        }
        Ok(out)
    }

    /// Upstream end of stream: Ok (nothing more to emit) if it ended properly or an error was
    /// forwarded, else `InvalidUpstream` so the relay can send an error event instead.
    pub fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(UP.err("upstream stream ended before message_stop"))
        }
    }

    fn start(&mut self, out: &mut Vec<SseOut>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }

    fn block_start(&mut self, v: &Value, out: &mut Vec<SseOut>) -> Result<(), ConvertError> {
        let (index, start) = message_events::block_start(v)?;
        let block = match start {
            Start::Text(t) => {
                self.text(t, "content", out);
                Block::Text
            }
            Start::Thinking(t) => {
                self.text(t, "reasoning_content", out);
                Block::Thinking
            }
            Start::ToolUse { id, name, input } => {
                let tool = self.next_tool;
                self.next_tool += 1;
                let call = json!({"index": tool, "id": id, "type": "function", "function": {"name": name, "arguments": input}});
                out.push(self.chunk(json!({"tool_calls": [call]}), None));
                Block::Tool(tool)
            }
            Start::Other => Block::Other,
        };
        self.open = Some((index, block));
        Ok(())
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<SseOut>) -> Result<(), ConvertError> {
        let open = self.open.map(|(i, b)| (i, b.kind()));
        match message_events::block_delta(v, open)? {
            Delta::Text(t) => self.text(t, "content", out),
            Delta::Thinking(t) => self.text(t, "reasoning_content", out),
            Delta::Json(part) => {
                if let (false, Some((_, Block::Tool(tool)))) = (part.is_empty(), self.open) {
                    let call = json!({"index": tool, "function": {"arguments": part}});
                    out.push(self.chunk(json!({"tool_calls": [call]}), None));
                }
            }
            Delta::Other => {}
        }
        Ok(())
    }

    /// Emit `{field: text}` if `text` is not empty.
    fn text(&self, text: &str, field: &str, out: &mut Vec<SseOut>) {
        if !text.is_empty() {
            out.push(self.chunk(json!({ field: text }), None));
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> SseOut {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            if let Some(o) = c.as_object_mut() {
                o.insert("usage".into(), Value::Null);
            }
        }
        self.line(c)
    }

    fn line(&self, v: Value) -> SseOut {
        SseOut {
            event: None,
            data: v.to_string(),
        }
    }
}

impl Transform for MessagesToChatStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.push(ev.event.as_deref(), &ev.data)?, out);
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        emit(self.finish()?, out);
        Ok(())
    }

    /// Usage known so far: `message_start` input plus the latest `message_delta` output.
    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn upstream_failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests;
