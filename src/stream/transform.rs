//! Per-stream event transforms: pass-through with usage capture, or format conversion.
//!
//! Owns: knowing when an upstream stream ended properly (its terminator), whether it ended with
//! an error event of its own, and the usage it reported, per wire format; removing from a
//! passed-through stream exactly what the relay added (the usage it asked for on the client's
//! behalf) and naming the client's model where a mapping changed it.
//! Must never: accumulate content, or parse a passed-through event that needs nothing (state
//! here is bounded per stream; ordinary chunks are forwarded after a substring scan).

use super::json_scan::{has_member, has_object_member, replace_string_member, Member};
use super::sse::{encode, SseEvent};
use crate::convert::{
    self, ChatToMessagesStream, ConvertError, MessagesToChatStream, SseOut, Usage,
};
use crate::providers::WireFormat;
use crate::upstream::Redactor;
use bytes::Bytes;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

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
    /// The relay asked the upstream for usage the client did not ask for: remove it.
    strip_usage: bool,
    /// The client's model name (and as a JSON string literal) when a mapping sent the upstream
    /// another one.
    client_model: Option<(String, String)>,
    usage: Option<Usage>,
    input: Option<Usage>,
    ended: bool,
    /// The stream ended with the upstream's own error event.
    upstream_error: bool,
    /// Applied to an upstream error event before it is forwarded.
    redactor: Arc<Redactor>,
}

impl Transform {
    /// A pass-through transform. `strip_usage`: the relay added `include_usage`;
    /// `client_model`: the name to show when the upstream was asked for another.
    pub fn pass(wire: WireFormat, strip_usage: bool, client_model: Option<&str>) -> Self {
        Self::pass_redacting(wire, strip_usage, client_model, Arc::default())
    }

    /// [`Transform::pass`] whose upstream error events are cleaned with the relay's redactor
    /// (every configured secret, as well as key shapes).
    pub fn pass_redacting(
        wire: WireFormat,
        strip_usage: bool,
        client_model: Option<&str>,
        redactor: Arc<Redactor>,
    ) -> Self {
        Self::Pass(Pass {
            redactor,
            wire,
            strip_usage,
            client_model: client_model.map(|m| (m.to_owned(), Value::from(m).to_string())),
            usage: None,
            input: None,
            ended: false,
            upstream_error: false,
        })
    }

    pub fn push(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        match self {
            Self::Pass(p) => {
                if let Some(data) = p.keep(ev) {
                    out.push(encode(ev.event.as_deref(), &data));
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

    /// Whether the stream ended with the upstream's own in-stream error event (forwarded).
    pub fn upstream_failed(&self) -> bool {
        match self {
            Self::Pass(p) => p.upstream_error,
            Self::MessagesToChat(c) => c.upstream_failed(),
            Self::ChatToMessages(c) => c.upstream_failed(),
        }
    }
}

fn emit(events: Vec<SseOut>, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
    out.extend(events.iter().map(|e| encode(e.event, &e.data)));
    Ok(())
}

/// The one place where an upstream's in-stream error event reaches a client of the same wire
/// format: only the documented fields of that format's error shape, every secret redacted
/// (`crate::error::sanitize_stream_error`).
fn upstream_error_event<'a>(wire: WireFormat, data: &str, redactor: &Redactor) -> Cow<'a, str> {
    Cow::Owned(crate::error::sanitize_stream_error(wire, data, redactor))
}

/// Whether a chunk carries usage and nothing else: no choice says anything (every member but
/// `index` is null, empty or made of such), as in `"choices":[]` or `[{"index":0,"delta":{}}]`.
fn carries_only_usage(chunk: &Value) -> bool {
    fn blank(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.iter().all(blank),
            Value::Object(o) => o.values().all(blank),
            Value::Bool(_) | Value::Number(_) => false,
        }
    }
    match chunk.get("choices") {
        None | Some(Value::Null) => true,
        Some(Value::Array(choices)) => choices.iter().all(|c| match c.as_object() {
            Some(o) => o.iter().all(|(k, v)| k == "index" || blank(v)),
            None => blank(c),
        }),
        Some(_) => false,
    }
}

impl Pass {
    /// Reads usage and the terminator; returns the event's data to forward (rewritten or not),
    /// or `None` to drop it.
    fn keep<'e>(&mut self, ev: &'e SseEvent) -> Option<Cow<'e, str>> {
        match self.wire {
            WireFormat::OpenAi => self.keep_openai(&ev.data),
            WireFormat::Anthropic => Some(self.keep_anthropic(ev)),
        }
    }

    fn keep_openai<'e>(&mut self, data: &'e str) -> Option<Cow<'e, str>> {
        if data.trim() == "[DONE]" {
            self.ended = true;
            return Some(Cow::Borrowed(data));
        }
        // Only chunks that mention usage or errors are parsed; the rest pass after a scan. An
        // error may come first (`{"error":{...}}`) or not (xAI: `{"code":...,"error":"..."}`).
        if !has_object_member(data, Member::Usage) && !has_member(data, Member::Error) {
            return Some(self.named(data));
        }
        let Ok(mut v) = serde_json::from_str::<Value>(data) else {
            return Some(self.named(data));
        };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            self.ended = true;
            self.upstream_error = true;
            return Some(upstream_error_event(self.wire, data, &self.redactor));
        }
        if let Some(u) = convert::usage_from_chat(&v) {
            self.usage = Some(u);
        }
        let relay_usage = self.strip_usage && v.get("usage").is_some_and(Value::is_object);
        if !relay_usage {
            return Some(self.named(data));
        }
        if carries_only_usage(&v) {
            return None;
        }
        // Usage on a chunk that also says something: the chunk stays, the usage goes.
        if let Some(o) = v.as_object_mut() {
            o.remove("usage");
            if let (Some((name, _)), Some(model)) = (&self.client_model, o.get_mut("model")) {
                *model = Value::from(name.as_str());
            }
        }
        Some(Cow::Owned(v.to_string()))
    }

    fn keep_anthropic<'e>(&mut self, ev: &'e SseEvent) -> Cow<'e, str> {
        let data = ev.data.as_str();
        match ev.event.as_deref() {
            Some("message_stop") => self.ended = true,
            Some("error") => {
                self.ended = true;
                self.upstream_error = true;
                return upstream_error_event(self.wire, data, &self.redactor);
            }
            Some("message_start") => {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    self.input = convert::usage_from_messages(&v["message"]);
                }
                return self.named(data);
            }
            Some("message_delta") => {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
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
        Cow::Borrowed(data)
    }

    /// The event naming the client's model when a mapping changed it (its first `model`
    /// member: a chunk's own, or `message_start`'s message's); unchanged otherwise.
    fn named<'e>(&self, data: &'e str) -> Cow<'e, str> {
        match &self.client_model {
            Some((_, literal)) => replace_string_member(data, Member::Model, literal)
                .map_or(Cow::Borrowed(data), Cow::Owned),
            None => Cow::Borrowed(data),
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
            let mut t = Transform::pass(WireFormat::OpenAi, false, None);
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
        let mut t = Transform::pass(WireFormat::OpenAi, false, None);
        let mut out = Vec::new();
        let chunk = r#"{"choices":[{"delta":{"content":"say \"error\": now"}}]}"#;
        t.push(&ev(chunk), &mut out).unwrap();
        assert!(t.finish(&mut out).is_err(), "no terminator, no error: cut");
    }

    fn passed(t: &mut Transform, chunks: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for c in chunks {
            t.push(&ev(c), &mut out).unwrap();
        }
        out.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn the_usage_the_relay_asked_for_is_removed_whatever_its_shape() {
        let content = r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#;
        for usage_only in [
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
            r#"{"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
            r#"{"id": "x", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": null}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}"#,
            r#"{"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        ] {
            let mut t = Transform::pass(WireFormat::OpenAi, true, None);
            let out = passed(&mut t, &[content, usage_only, "[DONE]"]);
            assert_eq!(out.len(), 2, "{usage_only} dropped: {out:?}");
            assert_eq!(t.usage().unwrap().prompt_tokens, 3, "{usage_only} read");
            let mut t = Transform::pass(WireFormat::OpenAi, false, None);
            assert_eq!(passed(&mut t, &[usage_only]).len(), 1, "kept when asked");
        }
    }

    #[test]
    fn usage_beside_content_is_cut_from_the_chunk_not_the_chunk_dropped() {
        let finish = r#"{"choices": [{"finish_reason": "stop", "index": 0, "delta": {}}], "model": "up", "usage": {"prompt_tokens": 9, "completion_tokens": 4}}"#;
        let mut t = Transform::pass(WireFormat::OpenAi, true, Some("mine"));
        let out = passed(&mut t, &[finish]);
        let v: Value = serde_json::from_str(out[0].trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(v.get("usage").is_none(), "{v}");
        assert_eq!(v["model"], "mine");
        assert_eq!(t.usage().unwrap().completion_tokens, 4);
    }

    #[test]
    fn spaced_usage_is_read_and_the_model_renamed_on_every_chunk() {
        let mut t = Transform::pass(WireFormat::OpenAi, false, Some("alias"));
        let out = passed(
            &mut t,
            &[
                r#"{"id": "a", "model": "org/x-7b", "choices": [{"index": 0, "delta": {"content": "hi"}}]}"#,
                r#"{"id": "a", "model": "org/x-7b", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}"#,
                "[DONE]",
            ],
        );
        assert!(
            out[..2].iter().all(|c| c.contains(r#""model": "alias""#)),
            "{out:?}"
        );
        assert_eq!(t.usage().unwrap().prompt_tokens, 5);
        let mut t = Transform::pass(WireFormat::OpenAi, false, None);
        let same = r#"{"model":"org/x-7b","choices":[]}"#;
        assert_eq!(
            passed(&mut t, &[same])[0],
            format!("data: {same}\n\n"),
            "untouched"
        );
    }

    #[test]
    fn an_anthropic_stream_names_the_client_model_in_message_start() {
        let mut t = Transform::pass(WireFormat::Anthropic, false, Some("alias"));
        let mut out = Vec::new();
        let start = SseEvent {
            event: Some("message_start".into()),
            data: r#"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":3}}}"#.into(),
        };
        t.push(&start, &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out[0]).contains(r#""model":"alias""#));
        assert_eq!(t.usage().unwrap().prompt_tokens, 3);
    }
}
