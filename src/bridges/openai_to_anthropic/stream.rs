//! Streaming Anthropic Messages events -> OpenAI `chat.completion.chunk` lines.
//!
//! Owns: `MessagesToChatStream`, an incremental state machine fed one SSE event at a time.
//! Must never buffer content: each text, thinking or tool-argument fragment is forwarded as it
//! arrives, and the state is a handful of scalars whatever the length of the answer.

use serde_json::{json, Value};

use crate::bridges::common::json::{now_secs, obj, reprefix, req_str};
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
        let index = index_of(v)?;
        let b = obj(
            v.get("content_block").unwrap_or(&Value::Null),
            "content_block",
            UP,
        )?;
        let block = match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                self.text(b.get("text"), "content", out);
                Block::Text
            }
            Some("thinking") => {
                self.text(b.get("thinking"), "reasoning_content", out);
                Block::Thinking
            }
            Some("tool_use") => {
                let tool = self.next_tool;
                self.next_tool += 1;
                let (id, name) = (
                    req_str(b, "id", "tool_use", UP)?,
                    req_str(b, "name", "tool_use", UP)?,
                );
                let args = match b.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                    _ => String::new(),
                };
                let call = json!({"index": tool, "id": id, "type": "function", "function": {"name": name, "arguments": args}});
                out.push(self.chunk(json!({"tool_calls": [call]}), None));
                Block::Tool(tool)
            }
            _ => Block::Other,
        };
        self.open = Some((index, block));
        Ok(())
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<SseOut>) -> Result<(), ConvertError> {
        let index = index_of(v)?;
        let block = match self.open {
            Some((i, b)) if i == index => b,
            _ => return Err(UP.err("content_block_delta for a block that is not open")),
        };
        let d = obj(
            v.get("delta").unwrap_or(&Value::Null),
            "content_block_delta.delta",
            UP,
        )?;
        match (d.get("type").and_then(Value::as_str), block) {
            (Some("text_delta"), Block::Text) => self.text(d.get("text"), "content", out),
            (Some("thinking_delta"), Block::Thinking) => {
                self.text(d.get("thinking"), "reasoning_content", out)
            }
            (Some("input_json_delta"), Block::Tool(tool)) => {
                let part = d.get("partial_json").and_then(Value::as_str).unwrap_or("");
                if !part.is_empty() {
                    let call = json!({"index": tool, "function": {"arguments": part}});
                    out.push(self.chunk(json!({"tool_calls": [call]}), None));
                }
            }
            (Some("text_delta" | "thinking_delta" | "input_json_delta"), _) => {
                return Err(UP.err("content_block_delta type does not match its block"));
            }
            // signature_delta, citations_delta, deltas of blocks we do not forward.
            _ => {}
        }
        Ok(())
    }

    /// Emit `{field: text}` if `text` is a non-empty string.
    fn text(&self, text: Option<&Value>, field: &str, out: &mut Vec<SseOut>) {
        if let Some(t) = text.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.push(self.chunk(json!({ field: t }), None));
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

fn index_of(v: &Value) -> Result<u64, ConvertError> {
    v.get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| UP.err("content block event without an index"))
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
