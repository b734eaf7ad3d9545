//! Per-stream event transforms: pass-through with usage capture, or format conversion.
//!
//! Owns: knowing when an upstream stream ended properly (its terminator) and the usage it
//! reported, per wire format.
//! Must never: accumulate content; state here is bounded per stream.

use super::sse::{encode, SseEvent};
use crate::convert::{
    self, ChatToMessagesStream, ConvertError, MessagesToChatStream, SseOut, Usage,
};
use crate::providers::WireFormat;
use bytes::Bytes;
use serde_json::Value;

pub enum Transform {
    /// Same format both sides: events pass unchanged (re-framed), usage is read on the way.
    Pass(Pass),
    /// Anthropic upstream, OpenAI client.
    MessagesToChat(Box<MessagesToChatStream>),
    /// OpenAI upstream, Anthropic client.
    ChatToMessages(Box<ChatToMessagesStream>),
}

pub struct Pass {
    wire: WireFormat,
    /// The relay asked the upstream for usage the client did not ask for: drop that chunk.
    strip_usage_chunk: bool,
    usage: Option<Usage>,
    input: Option<Usage>,
    ended: bool,
}

impl Transform {
    pub fn pass(wire: WireFormat, strip_usage_chunk: bool) -> Self {
        Self::Pass(Pass {
            wire,
            strip_usage_chunk,
            usage: None,
            input: None,
            ended: false,
        })
    }

    pub fn push(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        match self {
            Self::Pass(p) => {
                if p.keep(ev) {
                    out.push(encode(ev.event.as_deref(), &ev.data));
                }
                Ok(())
            }
            Self::MessagesToChat(c) => emit(c.push(ev.event.as_deref(), &ev.data)?, out),
            Self::ChatToMessages(c) => emit(c.push(ev.event.as_deref(), &ev.data)?, out),
        }
    }

    /// The upstream ended. Err when it ended without its terminator.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        match self {
            Self::Pass(p) if p.ended => Ok(()),
            Self::Pass(_) => Err(ConvertError::InvalidUpstream(
                "the upstream stream ended before its terminator".to_owned(),
            )),
            Self::MessagesToChat(c) => emit(c.finish()?, out),
            Self::ChatToMessages(c) => emit(c.finish()?, out),
        }
    }

    pub fn usage(&self) -> Option<Usage> {
        match self {
            Self::Pass(p) => p.usage.or(p.input),
            Self::MessagesToChat(c) => c.usage(),
            Self::ChatToMessages(c) => c.usage(),
        }
    }
}

fn emit(events: Vec<SseOut>, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
    out.extend(events.iter().map(|e| encode(e.event, &e.data)));
    Ok(())
}

impl Pass {
    /// Reads usage and the terminator; returns whether to forward the event.
    fn keep(&mut self, ev: &SseEvent) -> bool {
        match self.wire {
            WireFormat::OpenAi => self.keep_openai(ev),
            WireFormat::Anthropic => {
                self.read_anthropic(ev);
                true
            }
        }
    }

    fn keep_openai(&mut self, ev: &SseEvent) -> bool {
        if ev.data == "[DONE]" {
            self.ended = true;
            return true;
        }
        // Only chunks that mention usage or errors are parsed; the rest pass untouched. An error
        // may come first (`{"error":{...}}`) or not (xAI: `{"code":...,"error":"..."}`).
        let has_usage = ev.data.contains("\"usage\":{");
        let has_error = ev.data.contains("\"error\":");
        if !has_usage && !has_error {
            return true;
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            return true;
        };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            self.ended = true;
            return true;
        }
        if let Some(u) = convert::usage_from_chat(&v) {
            self.usage = Some(u);
        }
        let usage_only = v["choices"].as_array().is_some_and(Vec::is_empty);
        !(self.strip_usage_chunk && usage_only)
    }

    fn read_anthropic(&mut self, ev: &SseEvent) {
        match ev.event.as_deref() {
            Some("message_stop") | Some("error") => self.ended = true,
            Some("message_start") => {
                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                    self.input = convert::usage_from_messages(&v["message"]);
                }
            }
            Some("message_delta") => {
                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                    let out = v["usage"]["output_tokens"].as_u64();
                    let mut u = self.input.unwrap_or_default();
                    if let Some(o) = out {
                        u.completion_tokens = o;
                    }
                    // message_delta may restate input tokens (cumulative); take them if given.
                    if let Some(i) = v["usage"]["input_tokens"].as_u64() {
                        u.prompt_tokens = i + u.cache_read_tokens + u.cache_creation_tokens;
                    }
                    self.usage = Some(u);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    #[test]
    fn an_error_event_ends_a_passed_stream_in_either_shape() {
        for error in [
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
            r#"{"code":"Internal error","error":"The service encountered an error."}"#,
        ] {
            let mut t = Transform::pass(WireFormat::OpenAi, false);
            let mut out = Vec::new();
            t.push(&ev(r#"{"choices":[{"delta":{"content":"hi"}}]}"#), &mut out)
                .unwrap();
            t.push(&ev(error), &mut out).unwrap();
            assert_eq!(out.len(), 2, "both forwarded");
            assert_eq!(t.finish(&mut out), Ok(()), "{error} ended the stream");
        }
    }

    #[test]
    fn the_word_error_in_content_does_not_end_a_stream() {
        let mut t = Transform::pass(WireFormat::OpenAi, false);
        let mut out = Vec::new();
        let chunk = r#"{"choices":[{"delta":{"content":"say \"error\": now"}}]}"#;
        t.push(&ev(chunk), &mut out).unwrap();
        assert!(t.finish(&mut out).is_err(), "no terminator, no error: cut");
    }
}
