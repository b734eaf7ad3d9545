//! A media event stream passed through to its OpenAI client: image generations and edits
//! (`image_generation.partial_image` ... `.completed`), speech with `stream_format: "sse"`
//! (`speech.audio.delta` ... `.done`) and transcriptions with `stream: true`
//! (`transcript.text.delta` ... `.done`).
//!
//! Owns: knowing the stream's end (a terminal event, or `[DONE]` where an upstream adds one),
//! the upstream's own error event (an `error` member, or `type: "error"`) forwarded in its
//! documented fields only, and the usage the terminal events report.
//! Must never: parse a delta (only events that may be terminal or an error are parsed), or
//! accumulate content.

use super::usage::of_event;
use crate::providers::openai::errors;
use crate::providers::pass::{forward, PassOptions, Passing};
use crate::stream::json_scan::{has_member, has_object_member, Member};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::wire::{ConvertError, Endpoint, MediaUsage, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

/// The type words that end a media stream.
const TERMINAL: [&str; 4] = [
    "image_generation.completed",
    "image_edit.completed",
    "speech.audio.done",
    "transcript.text.done",
];

pub(crate) struct MediaPass {
    endpoint: Endpoint,
    passing: Passing,
    media: MediaUsage,
}

impl MediaPass {
    pub(crate) fn new(endpoint: Endpoint, options: PassOptions) -> Self {
        Self {
            endpoint,
            passing: Passing::new(options),
            media: MediaUsage::default(),
        }
    }

    fn read(&mut self, v: &Value) {
        let (usage, media) = of_event(self.endpoint, v);
        if let Some(u) = usage {
            let sum = self.passing.usage.get_or_insert_with(Usage::default);
            sum.prompt_tokens += u.prompt_tokens;
            sum.completion_tokens += u.completion_tokens;
        }
        self.media.add(&media);
    }
}

impl Transform for MediaPass {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let data = ev.data.as_str();
        if data.trim() == "[DONE]" {
            self.passing.ended = true;
            forward(ev.event.as_deref(), data, out);
            return Ok(());
        }
        let maybe_terminal = TERMINAL.iter().any(|t| data.contains(t));
        let maybe_error = has_member(data, Member::Error)
            || ev.event.as_deref() == Some("error")
            || data.contains("\"error\"");
        if !maybe_terminal && !maybe_error && !has_object_member(data, Member::Usage) {
            forward(ev.event.as_deref(), data, out);
            return Ok(());
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            forward(ev.event.as_deref(), data, out);
            return Ok(());
        };
        let is_error = v.get("error").is_some_and(|e| !e.is_null()) || v["type"] == "error";
        if is_error {
            let fault = errors::read(
                None,
                &HeaderMap::new(),
                data.as_bytes(),
                self.passing.redactor(),
            );
            let rendered = self.passing.failed_with(WireFormat::OpenAi, &fault);
            forward(Some("error"), &rendered, out);
            return Ok(());
        }
        self.read(&v);
        if v["type"].as_str().is_some_and(|t| TERMINAL.contains(&t)) {
            self.passing.ended = true;
        }
        forward(ev.event.as_deref(), data, out);
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.passing.on_end()
    }

    fn usage(&self) -> Option<Usage> {
        self.passing.usage
    }

    fn media(&self) -> Option<MediaUsage> {
        (!self.media.is_empty()).then_some(self.media)
    }

    fn upstream_failed(&self) -> bool {
        self.passing.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn an_image_stream_ends_at_its_completed_event_with_its_usage() {
        let mut t = MediaPass::new(Endpoint::ImageGenerations, PassOptions::default());
        let mut out = Vec::new();
        let partial =
            r#"{"type":"image_generation.partial_image","b64_json":"aa","partial_image_index":0}"#;
        t.on_event(
            &ev(Some("image_generation.partial_image"), partial),
            &mut out,
        )
        .unwrap();
        assert!(t.on_end(&mut Vec::new()).is_err(), "cut before completed");
        let done = r#"{"type":"image_generation.completed","b64_json":"bb","usage":{"input_tokens":5,"output_tokens":7}}"#;
        t.on_event(&ev(Some("image_generation.completed"), done), &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert!(std::str::from_utf8(&out[1])
            .unwrap()
            .contains("event: image_generation.completed"));
        t.on_end(&mut out).unwrap();
        assert_eq!(t.usage().unwrap().completion_tokens, 7);
        assert_eq!(t.media().unwrap().images, 1);
        assert!(!t.upstream_failed());
    }

    #[test]
    fn an_error_event_ends_the_stream_as_the_upstreams_failure() {
        let mut t = MediaPass::new(Endpoint::Transcriptions, PassOptions::default());
        let mut out = Vec::new();
        t.on_event(
            &ev(None, r#"{"type":"transcript.text.delta","delta":"hi"}"#),
            &mut out,
        )
        .unwrap();
        t.on_event(
            &ev(
                None,
                r#"{"error":{"message":"boom sk-secretsecretsecret1234","type":"server_error"}}"#,
            ),
            &mut out,
        )
        .unwrap();
        t.on_end(&mut out).unwrap();
        assert!(t.upstream_failed());
        let last = std::str::from_utf8(out.last().unwrap()).unwrap();
        assert!(
            last.contains("server_error") || last.contains("error"),
            "{last}"
        );
        assert!(!last.contains("sk-secretsecretsecret1234"), "{last}");
    }

    #[test]
    fn a_transcript_stream_ends_at_done_with_its_tokens() {
        let mut t = MediaPass::new(Endpoint::Transcriptions, PassOptions::default());
        let mut out = Vec::new();
        t.on_event(
            &ev(None, r#"{"type":"transcript.text.done","text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":2}}"#),
            &mut out,
        )
        .unwrap();
        t.on_end(&mut out).unwrap();
        assert_eq!(t.usage().unwrap().prompt_tokens, 14);
    }
}
