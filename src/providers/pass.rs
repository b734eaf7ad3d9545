//! What every stream passed through to a client of its own format carries: the client's model
//! name when a mapping changed it, the usage read so far, whether the terminator (or the
//! upstream's own error event) was seen, and the redactor for that error event.
//!
//! Owns: [`PassOptions`] and [`Passing`], the state the providers' pass-through readers share.
//! Must never: parse an event (the readers decide what needs parsing), or accumulate content.

use crate::error::upstream_event;
use crate::stream::json_scan::{replace_string_member, Member};
use crate::stream::sse::encode;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// How one stream is passed through.
#[derive(Clone, Debug, Default)]
pub struct PassOptions {
    /// The relay asked the upstream for usage the client did not ask for: remove it.
    pub strip_usage: bool,
    /// The client's model name, when the upstream was asked for another one.
    pub client_model: Option<String>,
    /// Applied to an upstream error event before it is forwarded (the relay's: every
    /// configured secret as well as key shapes).
    pub redactor: Arc<Redactor>,
}

/// The state of one passed-through stream.
pub(crate) struct Passing {
    pub(crate) strip_usage: bool,
    /// The client's model name, and as a JSON string literal.
    client_model: Option<(String, String)>,
    pub(crate) usage: Option<Usage>,
    /// The terminator, or the upstream's own error event, was seen.
    pub(crate) ended: bool,
    /// The stream ended with the upstream's own error event.
    pub(crate) failed: bool,
    redactor: Arc<Redactor>,
}

impl Passing {
    pub(crate) fn new(options: PassOptions) -> Self {
        Self {
            strip_usage: options.strip_usage,
            client_model: options
                .client_model
                .map(|m| (Value::from(m.as_str()).to_string(), m)),
            usage: None,
            ended: false,
            failed: false,
            redactor: options.redactor,
        }
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The client's model name, when a mapping changed it.
    pub(crate) fn client_model(&self) -> Option<&str> {
        self.client_model.as_ref().map(|(_, name)| name.as_str())
    }

    /// The event naming the client's model when a mapping changed it (its first `model`
    /// member: a chunk's own, or `message_start`'s message's); unchanged otherwise.
    pub(crate) fn named<'e>(&self, data: &'e str) -> Cow<'e, str> {
        match &self.client_model {
            Some((literal, _)) => replace_string_member(data, Member::Model, literal)
                .map_or(Cow::Borrowed(data), Cow::Owned),
            None => Cow::Borrowed(data),
        }
    }

    /// The upstream's own error event ends the stream: it reaches the client (of the same
    /// format) as `error.rs` renders it, its documented fields only, every secret redacted.
    pub(crate) fn failed_with(&mut self, wire: WireFormat, fault: &UpstreamFault) -> String {
        self.ended = true;
        self.failed = true;
        upstream_event(wire, fault).data
    }

    /// The end of the upstream: an error unless the terminator (or an error event) was seen.
    pub(crate) fn on_end(&self) -> Result<(), ConvertError> {
        if self.ended {
            Ok(())
        } else {
            Err(ConvertError::InvalidUpstream(
                "the upstream stream ended before its terminator".to_owned(),
            ))
        }
    }
}

/// One event forwarded under its own name.
pub(crate) fn forward(event: Option<&str>, data: &str, out: &mut Vec<Bytes>) {
    out.push(encode(event, data));
}
