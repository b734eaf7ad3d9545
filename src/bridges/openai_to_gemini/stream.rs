//! Streaming Gemini chunks (`data: <GenerateContentResponse>`, no terminator) -> OpenAI
//! `chat.completion.chunk` lines and `data: [DONE]`.
//!
//! Owns: `GeminiToChatStream`: text and thought deltas forwarded as they arrive, each whole
//! `functionCall` as one tool-call chunk, the finish reason when it comes, the usage chunk
//! (only when the client asked) and `[DONE]` when the upstream ends after a finish; usage is
//! kept for accounting either way. An `{"error":...}` chunk is read by Gemini's reader and
//! rendered by `error.rs`; an end without a finish reason is the upstream's error (the answer
//! was cut). Must never buffer content: the state is a handful of scalars.

use serde_json::{json, Value};

use super::response::call_id;
use crate::bridges::common::gemini_upstream::read::{chunk, Chunk};
use crate::bridges::common::gemini_upstream::Piece;
use crate::bridges::common::json::{now_secs, reprefix};
use crate::bridges::common::Side;
use crate::bridges::emit;
use crate::providers::openai;
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, SseOut, Usage, WireFormat};
use bytes::Bytes;
use std::sync::Arc;

const UP: Side = Side::Upstream;

/// Gemini chunks in -> OpenAI chunks out.
#[derive(Debug)]
pub(crate) struct GeminiToChatStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    /// The finish reason was forwarded.
    finished: bool,
    /// Nothing more is forwarded (`[DONE]` or an error event was sent).
    done: bool,
    failed: bool,
    next_tool: u64,
    usage: Option<Usage>,
    redactor: Arc<Redactor>,
}

impl GeminiToChatStream {
    /// `client_model` is echoed in every chunk; `include_usage` mirrors the client's
    /// `stream_options.include_usage`.
    pub(crate) fn new(client_model: &str, include_usage: bool) -> Self {
        Self {
            id: reprefix(None, &[], "chatcmpl-"),
            created: now_secs(),
            model: client_model.to_owned(),
            include_usage,
            started: false,
            finished: false,
            done: false,
            failed: false,
            next_tool: 0,
            usage: None,
            redactor: crate::bridges::default_redactor(),
        }
    }

    /// Redacts upstream error events with the relay's redactor.
    pub(crate) fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Feed one upstream SSE event's data; returns the chunks to emit (possibly none).
    pub(crate) fn push(&mut self, data: &str) -> Result<Vec<SseOut>, ConvertError> {
        let data = data.trim();
        let mut out = Vec::new();
        if self.done || data.is_empty() {
            return Ok(out);
        }
        let r = match chunk(data, WireFormat::OpenAi, &self.redactor)? {
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
            self.id = reprefix(r.id.as_deref(), &[], "chatcmpl-");
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
        for p in r.pieces {
            let delta = match p {
                Piece::Text(t) => json!({ "content": t }),
                Piece::Thought(t) => json!({ "reasoning_content": t }),
                Piece::Call { name, args, id } => {
                    let call = json!({"index": self.next_tool, "id": call_id(id.as_deref()),
                        "type": "function", "function": {"name": name, "arguments": args.to_string()}});
                    self.next_tool += 1;
                    json!({ "tool_calls": [call] })
                }
            };
            out.push(self.chunk(delta, None));
        }
        if let Some(stop) = r.finish.filter(|_| !self.finished) {
            self.finished = true;
            let finish = openai::finish::word(stop.given_tools(self.next_tool > 0));
            out.push(self.chunk(json!({}), Some(finish)));
        }
        Ok(out)
    }

    /// Upstream end of stream: the usage chunk (when asked) and `[DONE]` after a finish;
    /// nothing after a forwarded error; else `InvalidUpstream` (the answer was cut).
    pub(crate) fn finish(&mut self) -> Result<Vec<SseOut>, ConvertError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        if !self.finished {
            return Err(UP.err("upstream stream ended without a finishReason"));
        }
        if self.include_usage {
            let u = openai::usage::write(self.usage.unwrap_or_default());
            out.push(line(json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": u,
            })));
        }
        out.push(SseOut {
            event: None,
            data: "[DONE]".to_owned(),
        });
        self.done = true;
        Ok(out)
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
        line(c)
    }
}

fn line(v: Value) -> SseOut {
    SseOut {
        event: None,
        data: v.to_string(),
    }
}

impl Transform for GeminiToChatStream {
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
pub(crate) mod tests;
