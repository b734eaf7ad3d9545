//! An OpenAI-format stream passed through to an OpenAI client: `[DONE]` is its terminator, a
//! chunk with an `error` member its own error event (`{"error":{...}}`, or xAI's
//! `{"code":...,"error":"..."}`), the last `usage` object its usage.
//!
//! Owns: reading those, removing exactly the usage the relay asked for on the client's behalf
//! (a usage-only chunk goes, usage beside content is cut from its chunk), and naming the
//! client's model in every chunk where a mapping changed it.
//! Must never: parse an ordinary chunk (only chunks that mention `usage` as an object, or
//! `error`, are parsed; the rest pass after a substring scan), or accumulate content.

use super::super::pass::{forward, PassOptions, Passing};
use super::{errors, usage};
use crate::stream::json_scan::{has_member, has_object_member, Member};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::wire::{ConvertError, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use std::borrow::Cow;

pub(crate) struct Pass(Passing);

impl Pass {
    pub(crate) fn new(options: PassOptions) -> Self {
        Self(Passing::new(options))
    }

    /// The chunk's data to forward (rewritten or not), or `None` to drop it.
    fn keep<'e>(&mut self, data: &'e str) -> Option<Cow<'e, str>> {
        let p = &mut self.0;
        if data.trim() == "[DONE]" {
            p.ended = true;
            return Some(Cow::Borrowed(data));
        }
        // Only chunks that mention usage or errors are parsed; the rest pass after a scan. An
        // error may come first (`{"error":{...}}`) or not (xAI: `{"code":...,"error":"..."}`).
        if !has_object_member(data, Member::Usage) && !has_member(data, Member::Error) {
            return Some(p.named(data));
        }
        let Ok(mut v) = serde_json::from_str::<Value>(data) else {
            return Some(p.named(data));
        };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            let fault = errors::read(None, &HeaderMap::new(), data.as_bytes(), p.redactor());
            return Some(Cow::Owned(p.failed_with(WireFormat::OpenAi, &fault)));
        }
        if let Some(u) = usage::of(&v) {
            p.usage = Some(u);
        }
        let relay_usage = p.strip_usage && v.get("usage").is_some_and(Value::is_object);
        if !relay_usage {
            return Some(p.named(data));
        }
        if carries_only_usage(&v) {
            return None;
        }
        // Usage on a chunk that also says something: the chunk stays, the usage goes.
        if let Some(o) = v.as_object_mut() {
            o.remove("usage");
            if let (Some(name), Some(model)) = (p.client_model(), o.get_mut("model")) {
                *model = Value::from(name);
            }
        }
        Some(Cow::Owned(v.to_string()))
    }
}

impl Transform for Pass {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        if let Some(data) = self.keep(&ev.data) {
            forward(ev.event.as_deref(), &data, out);
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.0.on_end()
    }

    fn usage(&self) -> Option<Usage> {
        self.0.usage
    }

    fn upstream_failed(&self) -> bool {
        self.0.failed
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    fn pass(strip_usage: bool, client_model: Option<&str>) -> Pass {
        Pass::new(PassOptions {
            strip_usage,
            client_model: client_model.map(str::to_owned),
            ..PassOptions::default()
        })
    }

    #[test]
    fn an_error_event_ends_a_passed_stream_in_either_shape() {
        for error in [
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
            r#"{"code":"Internal error","error":"The service encountered an error."}"#,
        ] {
            let mut t = pass(false, None);
            let mut out = Vec::new();
            t.on_event(&ev(r#"{"choices":[{"delta":{"content":"hi"}}]}"#), &mut out)
                .unwrap();
            t.on_event(&ev(error), &mut out).unwrap();
            assert_eq!(out.len(), 2, "both forwarded");
            assert_eq!(t.on_end(&mut out), Ok(()), "{error} ended the stream");
            assert!(t.upstream_failed());
        }
    }

    #[test]
    fn the_word_error_in_content_does_not_end_a_stream() {
        let mut t = pass(false, None);
        let mut out = Vec::new();
        let chunk = r#"{"choices":[{"delta":{"content":"say \"error\": now"}}]}"#;
        t.on_event(&ev(chunk), &mut out).unwrap();
        assert!(t.on_end(&mut out).is_err(), "no terminator, no error: cut");
    }

    fn passed(t: &mut Pass, chunks: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for c in chunks {
            t.on_event(&ev(c), &mut out).unwrap();
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
            let mut t = pass(true, None);
            let out = passed(&mut t, &[content, usage_only, "[DONE]"]);
            assert_eq!(out.len(), 2, "{usage_only} dropped: {out:?}");
            assert_eq!(t.usage().unwrap().prompt_tokens, 3, "{usage_only} read");
            let mut t = pass(false, None);
            assert_eq!(passed(&mut t, &[usage_only]).len(), 1, "kept when asked");
        }
    }

    #[test]
    fn usage_beside_content_is_cut_from_the_chunk_not_the_chunk_dropped() {
        let finish = r#"{"choices": [{"finish_reason": "stop", "index": 0, "delta": {}}], "model": "up", "usage": {"prompt_tokens": 9, "completion_tokens": 4}}"#;
        let mut t = pass(true, Some("mine"));
        let out = passed(&mut t, &[finish]);
        let v: Value = serde_json::from_str(out[0].trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(v.get("usage").is_none(), "{v}");
        assert_eq!(v["model"], "mine");
        assert_eq!(t.usage().unwrap().completion_tokens, 4);
    }

    #[test]
    fn spaced_usage_is_read_and_the_model_renamed_on_every_chunk() {
        let mut t = pass(false, Some("alias"));
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
        let mut t = pass(false, None);
        let same = r#"{"model":"org/x-7b","choices":[]}"#;
        assert_eq!(
            passed(&mut t, &[same])[0],
            format!("data: {same}\n\n"),
            "untouched"
        );
    }
}
