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
use crate::bridges::common::json::{obj, reprefix};
use crate::bridges::common::message_events::{self, Delta, Kind, Start};
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

impl Block {
    fn kind(&self) -> Kind {
        match self {
            Block::Text => Kind::Text,
            Block::Thinking => Kind::Thinking,
            Block::Tool(_) => Kind::Tool,
            Block::Other => Kind::Other,
        }
    }
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
        let (index, start) = message_events::block_start(v)?;
        let block = match start {
            Start::Text(t) => {
                self.text(t, false, out);
                Block::Text
            }
            Start::Thinking(t) => {
                self.text(t, true, out);
                Block::Thinking
            }
            Start::ToolUse { id, name, input } => {
                let mut call = OpenCall::new(Some(id.to_owned()), name.to_owned());
                call.append(&input)?;
                self.called = true;
                Block::Tool(call)
            }
            Start::Other => Block::Other,
        };
        if let Some((_, Block::Tool(call))) = self.open.replace((index, block)) {
            // A block opened before the last one stopped: its call is complete.
            self.chunks.push(vec![call.part()], None, None, out);
        }
        Ok(())
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let open = self.open.as_ref().map(|(i, b)| (*i, b.kind()));
        match message_events::block_delta(v, open)? {
            Delta::Text(t) => self.text(t, false, out),
            Delta::Thinking(t) => self.text(t, true, out),
            Delta::Json(part) => {
                if let Some((_, Block::Tool(call))) = self.open.as_mut() {
                    call.append(part)?;
                }
            }
            Delta::Other => {}
        }
        Ok(())
    }

    fn text(&self, t: &str, thought: bool, out: &mut Vec<Bytes>) {
        if !t.is_empty() {
            self.chunks
                .push(vec![answer::text(t, thought)], None, None, out);
        }
    }
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
