//! Providers: everything the relay knows about one upstream, each in its own folder.
//!
//! Owns: the [`Provider`] trait (what the relay asks of an upstream: which of its operations
//! serves an endpoint, the request with its auth, reading its errors into an [`UpstreamFault`],
//! its streams, its usage, its JSON answers replayed as streams), the one registration point
//! [`provider_for`], the [`Target`] of one request, and what the providers share (`pass`,
//! `replay`, `shared`).
//! Must never: do I/O (the upstream client does), convert between formats (the bridges do), or
//! let a provider's words out of its folder: the rest of the relay sees neutral types only.
//!
//! One folder per upstream: `openai/` (OpenAI and every OpenAI-compatible server: the OpenAI
//! wire format), `anthropic/` (Anthropic's messages), `xai/` (the OpenAI wire with xAI's quirks),
//! `gemini/` (Google's Gemini API), `vertex/` (Gemini models on Vertex AI, OAuth tokens), and
//! the video-only upstreams `kling/`, `runway/`, `luma/`, `zhipu/`, `dashscope/`, `viggle/`
//! (their text side is `video_only`). Video tasks go through the `video` seam ([`video::VideoApi`]),
//! which OpenAI (Sora), Gemini and Vertex AI (Veo) implement beside their text side.
//! Inside: `request.rs` (paths, auth), `errors.rs` (the error envelope and what its words mean),
//! `usage.rs`, the stop words, `stream.rs` (a stream passed through) and `replay.rs`.

pub(crate) mod anthropic;
pub(crate) mod dashscope;
pub(crate) mod gemini;
mod kling;
mod luma;
pub(crate) mod openai;
pub(crate) mod pass;
pub(crate) mod replay;
mod runway;
pub(crate) mod shared;
pub mod vertex;
pub mod video;
mod video_common;
mod video_form;
mod video_only;
mod viggle;
mod xai;
pub(crate) mod zhipu;

use crate::config::{ChannelConfig, ProviderKind, Secret};
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{Endpoint, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

pub use pass::PassOptions;

/// What the provider needs to know about the channel for one request.
pub struct Target<'a> {
    /// The API root, normalised when the config was loaded (it names the API version).
    pub base_url: &'a str,
    pub key: &'a Secret,
    pub extra_headers: &'a HeaderMap,
    /// The channel as configured (for a provider's own settings).
    pub channel: &'a ChannelConfig,
    /// The access token the key was exchanged for, for providers that need one (Vertex AI).
    pub access: Option<&'a str>,
}

/// One upstream: what the relay asks of it. Each method's words are the provider's own; what
/// comes out is neutral.
pub trait Provider: Send + Sync {
    /// The format of its request and answer bodies.
    fn wire(&self) -> WireFormat;

    /// The upstream operation that serves a client endpoint (directly, or through the bridge
    /// from the client's format), or `None` if this provider cannot serve it.
    fn serves(&self, endpoint: Endpoint) -> Option<Endpoint>;

    /// Whether its bodies name the model (a `model` member: a mapping puts the upstream's name
    /// there, and the client's back into the answer); `false` when the path names it (Gemini).
    fn names_model_in_body(&self) -> bool {
        true
    }

    /// The request for one of its operations (`op`, from [`Provider::serves`]) on the upstream
    /// `model` (formats that name it in the path need it), its body already in this provider's
    /// format.
    fn build(
        &self,
        target: &Target<'_>,
        op: Endpoint,
        model: &str,
        client_headers: &HeaderMap,
        body: Bytes,
        stream: bool,
    ) -> UpstreamRequest;

    /// How to ask a streamed `op` for the usage its client did not ask for (the relay needs it
    /// for accounting and removes it from what the client sees), when this format must be
    /// asked; `None` when it always reports usage or the client asked.
    fn stream_usage(&self, op: Endpoint, client_asked: bool) -> Option<fn(&mut Value)>;

    /// An error answer (its status, headers and bounded body) in neutral form: what it means,
    /// its message and its documented shape, every string redacted.
    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault;

    /// The transform of one of its streams passed through to a client of the same format:
    /// its terminator, in-stream error events and usage read on the way.
    fn pass_stream(&self, options: PassOptions) -> Box<dyn Transform>;

    /// The usage of a whole answer passed through; the body must be one JSON object.
    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, UpstreamError>;

    /// Its JSON answer to a streamed `op` as the events it would have streamed (an error body
    /// is the error it names).
    fn replay(
        &self,
        op: Endpoint,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<Bytes, UpstreamError>;
}

/// The one registration point: the provider of a configured kind.
pub fn provider_for(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => &openai::OPENAI,
        ProviderKind::Xai => &xai::XAI,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Gemini => &gemini::Gemini,
        ProviderKind::Vertex => &vertex::Vertex,
        ProviderKind::Kling => &video_only::KLING,
        ProviderKind::Runway => &video_only::RUNWAY,
        ProviderKind::Luma => &video_only::LUMA,
        ProviderKind::Zhipu => &video_only::ZHIPU,
        ProviderKind::Dashscope => &video_only::DASHSCOPE,
        ProviderKind::Viggle => &video_only::VIGGLE,
    }
}

#[cfg(test)]
mod tests;
