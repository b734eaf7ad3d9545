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
use crate::wire::{ConvertError, MediaUsage, Usage, WireFormat};
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
    passing: Passing,
    media: MediaUsage,
}

impl MediaPass {
    pub(crate) fn new(options: PassOptions) -> Self {
        Self {
            passing: Passing::new(options),
            media: MediaUsage::default(),
        }
    }

    fn read(&mut self, v: &Value) {
        let (usage, media) = of_event(v);
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
        let mut t = MediaPass::new(PassOptions::default());
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
        let mut t = MediaPass::new(PassOptions::default());
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
        let mut t = MediaPass::new(PassOptions::default());
        let mut out = Vec::new();
        t.on_event(
            &ev(None, r#"{"type":"transcript.text.done","text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":2}}"#),
            &mut out,
        )
        .unwrap();
        t.on_end(&mut out).unwrap();
        assert_eq!(t.usage().unwrap().prompt_tokens, 14);
    }

    /// Properties of the whole pass-through (SSE parser, this transform, the stream body):
    /// however the upstream's bytes are chunked, the client gets the same events, byte for
    /// byte as each event is written, and the stream's end is judged the same way.
    mod chunking {
        use super::super::MediaPass;
        use crate::monitor::Ledger;
        use crate::providers::PassOptions;
        use crate::stream::body::{RelayStream, StreamLimits};
        use crate::stream::sse::encode;
        use crate::stream::testing::{cut, held};
        use crate::wire::{Endpoint, WireFormat};
        use bytes::Bytes;
        use futures_util::StreamExt;
        use proptest::prelude::*;
        use std::time::Duration;
        use tokio::time::Instant;

        /// One upstream event: its `event:` name (image streams name theirs) and data.
        fn events(endpoint: Endpoint, deltas: usize, seed: &str) -> Vec<(Option<String>, String)> {
            let (delta, terminal) = match endpoint {
                Endpoint::Speech => ("speech.audio.delta", "speech.audio.done"),
                _ => (
                    "image_generation.partial_image",
                    "image_generation.completed",
                ),
            };
            let named = |t: &str| (endpoint != Endpoint::Speech).then(|| t.to_owned());
            let mut out: Vec<(Option<String>, String)> = (0..deltas)
                .map(|i| {
                    let data = format!(
                        r#"{{"type":"{delta}","b64_json":"{seed}{i}","partial_image_index":{i}}}"#
                    );
                    (named(delta), data)
                })
                .collect();
            out.push((
                named(terminal),
                format!(
                    r#"{{"type":"{terminal}","b64_json":"{seed}","usage":{{"input_tokens":3,"output_tokens":4}}}}"#
                ),
            ));
            out
        }

        /// What the client gets for the upstream `text` sent in `chunks`.
        fn relay(endpoint: Endpoint, text: &[u8], cuts: &[usize]) -> (Vec<u8>, bool) {
            let chunks = cut(text, cuts);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async {
                let ledger = Ledger::new(&[]);
                let held = held(endpoint, &ledger);
                let limits = StreamLimits {
                    idle: Duration::from_secs(60),
                    keepalive: Duration::from_secs(60),
                    total: Instant::now() + Duration::from_secs(60),
                    max_event: 1 << 20,
                };
                let upstream = futures_util::stream::iter(chunks.into_iter().map(Ok)).boxed();
                let pass = MediaPass::new(PassOptions::default());
                let body =
                    RelayStream::new(upstream, Box::new(pass), WireFormat::OpenAi, limits, held);
                let out: Vec<Bytes> = body.map(|b| b.unwrap()).collect().await;
                let open = ledger.counts().open_streams;
                (out.concat(), open == 0)
            })
        }

        proptest! {
            #[test]
            fn any_chunking_passes_the_same_events_and_finds_the_same_end(
                speech in any::<bool>(),
                deltas in 0usize..5,
                complete in any::<bool>(),
                crlf in any::<bool>(),
                seed in "[A-Za-z0-9+/]{0,40}",
                cuts in proptest::collection::vec(any::<usize>(), 0..24),
            ) {
                let endpoint = if speech { Endpoint::Speech } else { Endpoint::ImageGenerations };
                let mut evs = events(endpoint, deltas, &seed);
                if !complete {
                    evs.pop();
                }
                let nl = if crlf { "\r\n" } else { "\n" };
                let mut text = String::new();
                let mut want = Vec::new();
                for (name, data) in &evs {
                    if let Some(n) = name {
                        text.push_str(&format!("event: {n}{nl}"));
                    }
                    text.push_str(&format!("data: {data}{nl}{nl}"));
                    want.extend_from_slice(&encode(name.as_deref(), data));
                }
                let (whole, released) = relay(endpoint, text.as_bytes(), &[]);
                let (chunked, _) = relay(endpoint, text.as_bytes(), &cuts);
                prop_assert!(released, "the open-stream count released at the end");
                prop_assert_eq!(&chunked, &whole, "the chunking changes nothing");
                prop_assert!(chunked.starts_with(&want), "every event passed as it was");
                let rest = String::from_utf8_lossy(&chunked[want.len()..]).into_owned();
                if complete {
                    prop_assert_eq!(rest, "", "a stream ended by its terminal event ends clean");
                } else {
                    prop_assert!(
                        rest.contains("\"error\""),
                        "a stream cut before its terminal event ends with an error: {}", rest
                    );
                }
            }
        }
    }
}
