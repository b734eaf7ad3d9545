//! Streaming Anthropic Messages events -> Gemini `GenerateContentResponse` chunks.
//!
//! Owns: `MessagesToGenerateStream`, fed one SSE event at a time: a chunk per text or
//! thinking delta; a `tool_use` block's `input_json_delta`s gathered (bounded) and sent as
//! one `functionCall` part at its `content_block_stop`; the last chunk at `message_stop`,
//! with the stop reason and usage of `message_delta`. Must never: hold text, or more than
//! one block's arguments.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

use crate::bridges::common::gemini_client::answer;
use crate::bridges::common::gemini_client::stream::{Chunks, OpenCall};
use crate::bridges::common::json::{obj, reprefix, req_str};
use crate::bridges::common::Side;
use crate::providers::anthropic;
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, StopReason, Usage};

const UP: Side = Side::Upstream;

#[derive(Debug)]
enum Block {
    Text,
    Thinking,
    Tool(OpenCall),
    /// A block without a Gemini counterpart (its deltas are skipped).
    Other,
}

/// Anthropic events in -> Gemini chunks out.
#[derive(Debug)]
pub(crate) struct MessagesToGenerateStream {
    chunks: Chunks,
    /// The open content block and its index.
    open: Option<(u64, Block)>,
    called: bool,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    done: bool,
    failed: bool,
    redactor: Arc<Redactor>,
}

impl MessagesToGenerateStream {
    /// `client_model` is every chunk's `modelVersion`.
    pub(crate) fn new(client_model: &str) -> Self {
        Self {
            chunks: Chunks {
                model: client_model.to_owned(),
                id: reprefix(None, &[], ""),
            },
            open: None,
            called: false,
            stop: None,
            usage: None,
            done: false,
            failed: false,
            redactor: crate::bridges::default_redactor(),
        }
    }

    /// Redacts upstream error events with the relay's redactor.
    pub(crate) fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// One upstream event; what to send is appended to `out`.
    pub(crate) fn push(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Bytes>,
    ) -> Result<(), ConvertError> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| UP.err("stream event data is not JSON"))?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event)
            .unwrap_or("");
        match kind {
            "message_start" => {
                let m = obj(
                    v.get("message").unwrap_or(&Value::Null),
                    "message_start.message",
                    UP,
                )?;
                if let Some(id) = m
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                {
                    self.chunks.id = reprefix(Some(id), &["msg_"], "");
                }
                self.usage = m
                    .get("usage")
                    .and_then(anthropic::usage::read)
                    .or(self.usage);
            }
            "content_block_start" => self.block_start(&v, out)?,
            "content_block_delta" => self.block_delta(&v, out)?,
            "content_block_stop" => {
                let index = v.get("index").and_then(Value::as_u64);
                if self.open.as_ref().map(|(i, _)| *i) == index {
                    if let Some((_, Block::Tool(call))) = self.open.take() {
                        self.chunks.push(vec![call.part()], None, None, out);
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    self.usage = anthropic::usage::merge(self.usage, u);
                }
                if let Some(reason) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop = Some(anthropic::stop::read(reason));
                }
            }
            "message_stop" => {
                let mut parts = Vec::new();
                if let Some((_, Block::Tool(call))) = self.open.take() {
                    parts.push(call.part());
                }
                let stop = self
                    .stop
                    .unwrap_or(StopReason::EndTurn)
                    .given_tools(self.called);
                let usage = self.usage.unwrap_or_default();
                self.chunks.push(parts, Some(stop), Some(usage), out);
                self.done = true;
            }
            "error" => {
                let fault = anthropic::errors::read(
                    None,
                    &HeaderMap::new(),
                    data.as_bytes(),
                    &self.redactor,
                );
                self.chunks.error(&fault, out);
                self.done = true;
                self.failed = true;
            }
            // ping, and event types newer than this code.
            _ => {}
        }
        Ok(())
    }

    /// The upstream ended: an error unless `message_stop` (or an error event) came.
    pub(crate) fn end(&mut self) -> Result<(), ConvertError> {
        if self.done {
            Ok(())
        } else {
            Err(UP.err("upstream stream ended before message_stop"))
        }
    }

    fn block_start(&mut self, v: &Value, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let index = index_of(v)?;
        let b = obj(
            v.get("content_block").unwrap_or(&Value::Null),
            "content_block",
            UP,
        )?;
        let block = match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                self.text(b.get("text"), false, out);
                Block::Text
            }
            Some("thinking") => {
                self.text(b.get("thinking"), true, out);
                Block::Thinking
            }
            Some("tool_use") => {
                let id = req_str(b, "id", "tool_use", UP)?;
                let name = req_str(b, "name", "tool_use", UP)?;
                let mut call = OpenCall::new(Some(id.to_owned()), name.to_owned());
                if let Some(Value::Object(o)) = b.get("input") {
                    if !o.is_empty() {
                        call.append(&Value::Object(o.clone()).to_string())?;
                    }
                }
                self.called = true;
                Block::Tool(call)
            }
            _ => Block::Other,
        };
        if let Some((_, Block::Tool(call))) = self.open.replace((index, block)) {
            // A block opened before the last one stopped: its call is complete.
            self.chunks.push(vec![call.part()], None, None, out);
        }
        Ok(())
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let index = index_of(v)?;
        let d = obj(
            v.get("delta").unwrap_or(&Value::Null),
            "content_block_delta.delta",
            UP,
        )?;
        let kind = d.get("type").and_then(Value::as_str);
        let Some((open, block)) = self.open.as_mut() else {
            return Err(UP.err("content_block_delta for a block that is not open"));
        };
        if *open != index {
            return Err(UP.err("content_block_delta for a block that is not open"));
        }
        match (kind, block) {
            (Some("text_delta"), Block::Text) => {
                let t = d.get("text").cloned();
                self.text(t.as_ref(), false, out);
            }
            (Some("thinking_delta"), Block::Thinking) => {
                let t = d.get("thinking").cloned();
                self.text(t.as_ref(), true, out);
            }
            (Some("input_json_delta"), Block::Tool(call)) => {
                call.append(d.get("partial_json").and_then(Value::as_str).unwrap_or(""))?;
            }
            (Some("text_delta" | "thinking_delta" | "input_json_delta"), _) => {
                return Err(UP.err("content_block_delta type does not match its block"));
            }
            // signature_delta, citations_delta, deltas of blocks we do not forward.
            _ => {}
        }
        Ok(())
    }

    fn text(&self, t: Option<&Value>, thought: bool, out: &mut Vec<Bytes>) {
        if let Some(t) = t.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            self.chunks
                .push(vec![answer::text(t, thought)], None, None, out);
        }
    }
}

fn index_of(v: &Value) -> Result<u64, ConvertError> {
    v.get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| UP.err("content block event without an index"))
}

impl Transform for MessagesToGenerateStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.push(ev.event.as_deref(), &ev.data, out)
    }

    fn on_end(&mut self, _out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.end()
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn upstream_failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests;
