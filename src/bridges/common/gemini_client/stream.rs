//! What the stream converters to a Gemini client share: the chunks they write (framed as
//! Google frames them) and the one tool call whose argument fragments are being gathered.
//!
//! Owns: [`Chunks`] (every chunk of one answer, its id and model name; the upstream's error
//! events rendered by `error.rs`) and [`OpenCall`], bounded by [`MAX_ARGS`]. Gemini sends a
//! `functionCall` whole, so fragments are held until their call completes; beyond the bound
//! the stream is the upstream's error. Must never: hold more than one call's arguments.

use bytes::Bytes;
use serde_json::Value;

use super::answer::{self, Named};
use crate::bridges::common::json::parse_arguments;
use crate::bridges::common::Side;
use crate::error::upstream_event;
use crate::wire::{ConvertError, StopReason, UpstreamFault, Usage, WireFormat};

/// Longest tool-call arguments gathered, in bytes.
pub(crate) const MAX_ARGS: usize = 1 << 20;

/// The chunks of one streamed answer.
#[derive(Debug)]
pub(crate) struct Chunks {
    pub model: String,
    /// The `responseId` of every chunk.
    pub id: String,
}

impl Chunks {
    /// A chunk holding `parts`, and `finish` and `usage` when it is the last.
    pub(crate) fn push(
        &self,
        parts: Vec<Value>,
        finish: Option<StopReason>,
        usage: Option<Usage>,
        out: &mut Vec<Bytes>,
    ) {
        let named = Named {
            model: &self.model,
            id: &self.id,
        };
        let r = answer::response(&named, parts, finish, usage);
        out.push(answer::frame(&r.to_string()));
    }

    /// The upstream's in-stream error, as a Gemini client reads one.
    pub(crate) fn error(&self, fault: &UpstreamFault, out: &mut Vec<Bytes>) {
        out.push(answer::frame(
            &upstream_event(WireFormat::Gemini, fault).data,
        ));
    }
}

/// A tool call whose arguments arrive in fragments.
#[derive(Debug)]
pub(crate) struct OpenCall {
    pub id: Option<String>,
    pub name: String,
    args: String,
}

impl OpenCall {
    pub(crate) fn new(id: Option<String>, name: String) -> Self {
        Self {
            id,
            name,
            args: String::new(),
        }
    }

    /// One more fragment; an error past [`MAX_ARGS`].
    pub(crate) fn append(&mut self, fragment: &str) -> Result<(), ConvertError> {
        if self.args.len().saturating_add(fragment.len()) > MAX_ARGS {
            return Err(Side::Upstream.err(format!(
                "tool call {} has arguments longer than {MAX_ARGS} bytes",
                self.name
            )));
        }
        self.args.push_str(fragment);
        Ok(())
    }

    /// The whole call as a `functionCall` part (arguments that are not a JSON object kept as
    /// `{"_raw": "<string>"}`).
    pub(crate) fn part(self) -> Value {
        answer::call(self.id.as_deref(), &self.name, parse_arguments(&self.args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_call_is_gathered_whole_and_bounded() {
        let mut c = OpenCall::new(Some("c1".into()), "f".into());
        c.append("{\"a\":").unwrap();
        c.append("1}").unwrap();
        assert_eq!(
            c.part(),
            json!({"functionCall":{"id":"c1","name":"f","args":{"a":1}}})
        );
        let mut cut = OpenCall::new(None, "g".into());
        cut.append("{\"a\":").unwrap();
        assert_eq!(
            cut.part(),
            json!({"functionCall":{"name":"g","args":{"_raw":"{\"a\":"}}})
        );
        let mut big = OpenCall::new(None, "h".into());
        big.append(&"x".repeat(MAX_ARGS)).unwrap();
        assert!(matches!(
            big.append("y"),
            Err(ConvertError::InvalidUpstream(_))
        ));
    }

    #[test]
    fn chunks_are_framed_as_google_frames_them() {
        let c = Chunks {
            model: "m".into(),
            id: "r".into(),
        };
        let mut out = Vec::new();
        c.push(vec![answer::text("Hi", false)], None, None, &mut out);
        let s = std::str::from_utf8(&out[0]).unwrap();
        assert!(s.starts_with("data: {") && s.ends_with("}\r\n\r\n"), "{s}");
        let v: Value = serde_json::from_str(&s[6..s.len() - 4]).unwrap();
        assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], "Hi");
        assert_eq!(v["modelVersion"], "m");
    }
}
