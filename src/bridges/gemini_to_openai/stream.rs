//! Streaming OpenAI `chat.completion.chunk` lines -> Gemini `GenerateContentResponse` chunks.
//!
//! Owns: `ChatToGenerateStream`, fed one SSE data line at a time: a chunk per text or
//! reasoning delta; tool-call fragments gathered (one call at a time, bounded) and sent as one
//! `functionCall` part when the next call or anything else starts, or with the last chunk;
//! the last chunk, with `finishReason` and `usageMetadata`, once the usage chunk the relay
//! asked for (or `[DONE]`) follows the finish. Must never: hold text, or more than one call.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

use crate::bridges::common::chat_chunk;
use crate::bridges::common::gemini_client::answer;
use crate::bridges::common::gemini_client::stream::{Chunks, OpenCall};
use crate::bridges::common::json::reprefix;
use crate::bridges::common::Side;
use crate::providers::openai;
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, StopReason, Usage};

const UP: Side = Side::Upstream;

/// OpenAI chunks in -> Gemini chunks out.
#[derive(Debug)]
pub(crate) struct ChatToGenerateStream {
    chunks: Chunks,
    named: bool,
    /// The call being gathered, with its `tool_calls[].index`.
    open: Option<(u64, OpenCall)>,
    /// Parts for the last chunk (the call open when the finish came).
    held: Vec<Value>,
    finish: Option<StopReason>,
    called: bool,
    refused: bool,
    usage: Option<Usage>,
    done: bool,
    failed: bool,
    redactor: Arc<Redactor>,
}

impl ChatToGenerateStream {
    /// `client_model` is every chunk's `modelVersion`.
    pub(crate) fn new(client_model: &str) -> Self {
        Self {
            chunks: Chunks {
                model: client_model.to_owned(),
                id: reprefix(None, &[], ""),
            },
            named: false,
            open: None,
            held: Vec::new(),
            finish: None,
            called: false,
            refused: false,
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

    /// One upstream data line; what to send is appended to `out`.
    pub(crate) fn push(&mut self, data: &str, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.close(out);
            return Ok(());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| UP.err("stream chunk is not JSON"))?;
        if !v.is_object() {
            return Err(UP.err("stream chunk is not a JSON object"));
        }
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let fault =
                openai::errors::read(None, &HeaderMap::new(), data.as_bytes(), &self.redactor);
            self.chunks.error(&fault, out);
            self.done = true;
            self.failed = true;
            return Ok(());
        }
        if let Some(u) = v.get("usage").and_then(openai::usage::read) {
            self.usage = Some(u);
        }
        if !self.named {
            self.named = true;
            if let Some(id) = v
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
            {
                self.chunks.id = reprefix(Some(id), &["chatcmpl-"], "");
            }
        }
        let choices = v.get("choices").and_then(Value::as_array);
        // Only the first choice is converted (Gemini clients here asked for one candidate).
        for c in choices
            .into_iter()
            .flatten()
            .filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        {
            if let Some(d) = c.get("delta").filter(|d| d.is_object()) {
                self.delta(d, out)?;
            }
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(openai::finish::read(f));
                if let Some((_, call)) = self.open.take() {
                    self.held.push(call.part());
                }
            }
        }
        if self.finish.is_some() && self.usage.is_some() {
            self.close(out);
        }
        Ok(())
    }

    /// The upstream ended: closed here after a finish without `[DONE]`; before any finish the
    /// answer was cut (`InvalidUpstream`).
    pub(crate) fn end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        if self.done {
            return Ok(());
        }
        if self.finish.is_none() {
            return Err(UP.err("upstream stream ended without finish_reason or [DONE]"));
        }
        self.close(out);
        Ok(())
    }

    fn delta(&mut self, d: &Value, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let reasoning = d.get("reasoning_content").or_else(|| d.get("reasoning"));
        if let Some(t) = reasoning.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            self.flush_call(out);
            self.chunks
                .push(vec![answer::text(t, true)], None, None, out);
        }
        for key in ["content", "refusal"] {
            if let Some(t) = d.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()) {
                self.refused |= key == "refusal";
                self.flush_call(out);
                self.chunks
                    .push(vec![answer::text(t, false)], None, None, out);
            }
        }
        for frag in chat_chunk::fragments(d) {
            let open = self
                .open
                .as_ref()
                .map(|(i, c)| (*i, c.id.as_deref().unwrap_or("")));
            if !frag.continues(open) {
                let name = frag.name()?;
                self.flush_call(out);
                let call = OpenCall::new(frag.id.map(str::to_owned), name.to_owned());
                self.open = Some((frag.index, call));
                self.called = true;
            }
            if let Some((_, c)) = self.open.as_mut() {
                c.append(frag.arguments)?;
            }
        }
        Ok(())
    }

    /// The open call, complete: one chunk with its `functionCall` part.
    fn flush_call(&mut self, out: &mut Vec<Bytes>) {
        if let Some((_, call)) = self.open.take() {
            self.chunks.push(vec![call.part()], None, None, out);
        }
    }

    /// The last chunk: what was held, the finish and the usage.
    fn close(&mut self, out: &mut Vec<Bytes>) {
        let mut parts = std::mem::take(&mut self.held);
        if let Some((_, call)) = self.open.take() {
            parts.push(call.part());
        }
        let stop = if self.refused {
            StopReason::Refusal
        } else {
            self.finish
                .unwrap_or(StopReason::EndTurn)
                .given_tools(self.called)
        };
        let usage = self.usage.unwrap_or_default();
        self.chunks.push(parts, Some(stop), Some(usage), out);
        self.done = true;
    }
}

impl Transform for ChatToGenerateStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.push(&ev.data, out)
    }

    fn on_end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.end(out)
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
