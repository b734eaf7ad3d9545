//! A Gemini stream (`streamGenerateContent?alt=sse`) passed through to a Gemini client: each
//! event is a `GenerateContentResponse` with only the new parts; there is no terminator, so
//! the stream is whole once a candidate gave its `finishReason` (or the prompt was blocked:
//! `promptFeedback.blockReason`); a stream that ends before either was cut. The usage is the
//! last `usageMetadata` seen (Google sends it on every chunk, final counts on the last:
//! unconfirmed that it is always on the last one). An `{"error":{...}}` chunk is Google's
//! in-stream error (which it may write as bare, pretty-printed JSON, not as `data:`; the SSE
//! parser hands such a block over as one event): it ends the stream, redacted and re-rendered.
//!
//! Owns: reading those. Must never: rewrite an ordinary chunk (there is no model name to put
//! back: Gemini names the model in the path, its answers carry `modelVersion`), or accumulate
//! content.

use super::super::pass::{forward, PassOptions, Passing};
use super::{errors, usage};
use crate::stream::json_scan::{has_member, Member};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::wire::{ConvertError, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

pub(crate) struct Pass(Passing);

/// The members of a chunk the pass-through reads; the rest is skipped, not built.
#[derive(Deserialize)]
struct Chunk {
    error: Option<Value>,
    #[serde(rename = "usageMetadata")]
    usage: Option<Value>,
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(rename = "promptFeedback")]
    feedback: Option<Feedback>,
}

#[derive(Deserialize)]
struct Candidate {
    #[serde(rename = "finishReason")]
    finish: Option<Value>,
}

#[derive(Deserialize)]
struct Feedback {
    #[serde(rename = "blockReason")]
    block: Option<Value>,
}

/// Whether a chunk's text may say something the pass-through reads.
fn worth_parsing(data: &str) -> bool {
    has_member(data, Member::Error)
        || ["\"usageMetadata\"", "\"finishReason\"", "\"blockReason\""]
            .iter()
            .any(|m| memchr::memmem::find(data.as_bytes(), m.as_bytes()).is_some())
}

impl Pass {
    pub(crate) fn new(options: PassOptions) -> Self {
        Self(Passing::new(options))
    }

    /// The chunk's data to forward: as it came, or the error chunk re-rendered.
    fn keep(&mut self, data: &str) -> Option<String> {
        if !worth_parsing(data) {
            return None;
        }
        let chunk: Chunk = serde_json::from_str(data).ok()?;
        let p = &mut self.0;
        if chunk.error.as_ref().is_some_and(Value::is_object) {
            let fault = errors::read(None, &HeaderMap::new(), data.as_bytes(), p.redactor());
            return Some(p.failed_with(WireFormat::Gemini, &fault));
        }
        if let Some(u) = chunk.usage.as_ref().and_then(usage::read) {
            p.usage = Some(u);
        }
        let finished = chunk
            .candidates
            .iter()
            .any(|c| c.finish.as_ref().is_some_and(|f| !f.is_null()))
            || chunk
                .feedback
                .is_some_and(|f| f.block.is_some_and(|b| !b.is_null()));
        if finished {
            p.ended = true;
        }
        None
    }
}

impl Transform for Pass {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        if self.0.failed {
            // Nothing follows Google's error chunk.
            return Ok(());
        }
        match self.keep(&ev.data) {
            Some(error) => forward(None, &error, out),
            None => forward(ev.event.as_deref(), &ev.data, out),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::upstream::Redactor;
    use std::sync::Arc;

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    fn run(chunks: &[&str]) -> (Pass, Vec<String>, Result<(), ConvertError>) {
        let mut t = Pass::new(PassOptions {
            redactor: Arc::new(Redactor::new(&[Secret::new("AIzaSecretKey12345")])),
            ..PassOptions::default()
        });
        let mut out = Vec::new();
        for c in chunks {
            t.on_event(&ev(c), &mut out).unwrap();
        }
        let end = t.on_end(&mut out);
        let out = out
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        (t, out, end)
    }

    const TEXT: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash"}"#;
    const LAST: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":" there"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6}}"#;

    #[test]
    fn a_whole_stream_passes_untouched_with_its_last_usage() {
        let (t, out, end) = run(&[TEXT, LAST]);
        assert_eq!(end, Ok(()));
        assert_eq!(out[0], format!("data: {TEXT}\n\n"));
        assert_eq!(out[1], format!("data: {LAST}\n\n"));
        let u = t.usage().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (4, 2));
        assert!(!t.upstream_failed());
    }

    #[test]
    fn a_stream_without_a_finish_reason_was_cut() {
        let (t, out, end) = run(&[TEXT]);
        assert!(end.is_err());
        assert_eq!(out.len(), 1);
        assert_eq!(t.usage().unwrap().completion_tokens, 1, "usage so far kept");
        let blocked =
            r#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}"#;
        assert_eq!(run(&[blocked]).2, Ok(()), "a blocked prompt is an end");
    }

    #[test]
    fn an_error_chunk_ends_the_stream_redacted_in_googles_shape() {
        let error = "{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"overloaded for AIzaSecretKey12345\",\n    \"status\": \"UNAVAILABLE\",\n    \"extra\": 1\n  }\n}";
        let (t, out, end) = run(&[TEXT, error, LAST]);
        assert_eq!(end, Ok(()));
        assert!(t.upstream_failed());
        assert_eq!(out.len(), 2, "nothing after the error: {out:?}");
        let v: Value = serde_json::from_str(out[1].trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["error"]["code"], 503);
        assert_eq!(v["error"]["status"], "UNAVAILABLE");
        assert!(!out[1].contains("AIzaSecretKey12345"), "{}", out[1]);
        assert!(!out[1].contains("extra"));
    }

    #[test]
    fn the_word_error_in_text_is_content() {
        let chunk = r#"{"candidates":[{"content":{"parts":[{"text":"an \"error\": here"}]},"finishReason":"STOP"}]}"#;
        let (t, out, end) = run(&[chunk]);
        assert_eq!(end, Ok(()));
        assert!(!t.upstream_failed());
        assert_eq!(out[0], format!("data: {chunk}\n\n"));
    }
}
