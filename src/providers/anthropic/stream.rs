//! An Anthropic stream passed through to an Anthropic client: `message_stop` is its terminator,
//! `event: error` its own error event, `message_start`'s input and `message_delta`'s output
//! tokens its usage.
//!
//! Owns: reading those, and naming the client's model in `message_start` where a mapping
//! changed it. Must never: parse an event other than those, or accumulate content.

use super::super::pass::{forward, PassOptions, Passing};
use super::{errors, usage};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::wire::{ConvertError, Usage, WireFormat};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use std::borrow::Cow;

pub(crate) struct Pass {
    passing: Passing,
    /// `message_start`'s usage (input tokens), until a `message_delta` completes it.
    input: Option<Usage>,
}

impl Pass {
    pub(crate) fn new(options: PassOptions) -> Self {
        Self {
            passing: Passing::new(options),
            input: None,
        }
    }

    /// The event's data to forward (rewritten or not).
    fn keep<'e>(&mut self, ev: &'e SseEvent) -> Cow<'e, str> {
        let p = &mut self.passing;
        let data = ev.data.as_str();
        match ev.event.as_deref() {
            Some("message_stop") => p.ended = true,
            Some("error") => {
                let fault = errors::read(None, &HeaderMap::new(), data.as_bytes(), p.redactor());
                return Cow::Owned(p.failed_with(WireFormat::Anthropic, &fault));
            }
            Some("message_start") => {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    self.input = usage::of(&v["message"]);
                }
                return p.named(data);
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
                    p.usage = Some(u);
                }
            }
            _ => {}
        }
        Cow::Borrowed(data)
    }
}

impl Transform for Pass {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        let data = self.keep(ev);
        forward(ev.event.as_deref(), &data, out);
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<Bytes>) -> Result<(), ConvertError> {
        self.passing.on_end()
    }

    fn usage(&self) -> Option<Usage> {
        self.passing.usage.or(self.input)
    }

    fn upstream_failed(&self) -> bool {
        self.passing.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_start_names_the_client_model_and_counts_input() {
        let mut t = Pass::new(PassOptions {
            client_model: Some("alias".to_owned()),
            ..PassOptions::default()
        });
        let mut out = Vec::new();
        let start = SseEvent {
            event: Some("message_start".into()),
            data: r#"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":3}}}"#.into(),
        };
        t.on_event(&start, &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out[0]).contains(r#""model":"alias""#));
        assert_eq!(t.usage().unwrap().prompt_tokens, 3);
        assert!(t.on_end(&mut out).is_err(), "no message_stop: cut");
    }
}
