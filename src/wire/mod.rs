//! The relay's neutral vocabulary: what every part says about a request, an answer or an
//! upstream's failure without naming a provider.
//!
//! Owns: the wire formats, the endpoints and their families, token and media usage, stop reasons, the
//! upstream fault in neutral form, the conversion error, and one event to emit.
//! Must never: hold a provider's or a format's own words (those live in `providers/<name>/`,
//! and the client-facing error shapes in `error.rs`), or depend on another part of the relay.

mod convert_error;
mod endpoint;
mod fault;
pub(crate) mod labels;
mod media_usage;
mod stop_reason;
mod usage;

pub use convert_error::ConvertError;
pub use endpoint::{BodyKind, Endpoint, Family};
pub use fault::{bounded, message_or_default, FaultKind, UpstreamFault, MAX_MESSAGE};
pub use media_usage::{ImageQuality, ImageSize, MediaUsage};
pub use stop_reason::StopReason;
pub use usage::{count, Usage};

labels::labelled! {
    /// The body format a client speaks or an upstream expects; its label is its name, for
    /// messages.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum WireFormat {
        /// OpenAI's chat completions, completions and embeddings (and every OpenAI-compatible
        /// API).
        OpenAi => "OpenAI",
        /// Anthropic's messages.
        Anthropic => "Anthropic",
        /// Google's Gemini API (`generateContent` and its kin; Vertex AI speaks it too).
        Gemini => "Gemini",
    }
}

/// One SSE event to emit downstream: `event` is the `event:` name (none in OpenAI streams),
/// `data` the JSON text (or `[DONE]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseOut {
    pub event: Option<&'static str>,
    pub data: String,
}
