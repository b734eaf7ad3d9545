//! Provider adaptors: how each provider family wants its requests built.
//!
//! Owns: the wire formats, the endpoint list, and one adaptor per provider family behind one trait.
//! Must never: do I/O (the upstream client does) or convert bodies (the `convert` module does).

mod anthropic;
mod openai;

use crate::config::{ProviderKind, Secret};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::HeaderMap;

pub use anthropic::AnthropicAdaptor;
pub use openai::OpenAiAdaptor;

/// The body format a client speaks or a provider expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireFormat {
    OpenAi,
    Anthropic,
}

/// The relayed endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Messages,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
            Self::Messages => "/v1/messages",
        }
    }

    /// The format clients of this endpoint speak.
    pub fn client_format(self) -> WireFormat {
        match self {
            Self::Messages => WireFormat::Anthropic,
            _ => WireFormat::OpenAi,
        }
    }

    /// Low-cardinality label for logs and metrics.
    pub fn family(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Messages => "messages",
        }
    }
}

/// What the adaptor needs to know about the channel for one request.
pub struct Target<'a> {
    /// The API root ending in `/v1` (normalised when the config was loaded).
    pub base_url: &'a str,
    pub key: &'a Secret,
    pub extra_headers: &'a HeaderMap,
    pub anthropic_version: &'a str,
}

/// One provider family's request shape.
pub trait Adaptor: Send + Sync {
    fn wire(&self) -> WireFormat;
    /// Whether a client endpoint can be served by this provider (directly or converted).
    fn supports(&self, endpoint: Endpoint) -> bool;
    /// The upstream endpoint that serves `client` on this provider.
    fn upstream_endpoint(&self, client: Endpoint) -> Endpoint;
    /// Builds the upstream request for an already converted body.
    fn build(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        client_headers: &HeaderMap,
        body: Bytes,
    ) -> UpstreamRequest;
}

/// The adaptor for a configured provider kind.
pub fn adaptor_for(kind: ProviderKind) -> &'static dyn Adaptor {
    static OPENAI: OpenAiAdaptor = OpenAiAdaptor { embeddings: true };
    static XAI: OpenAiAdaptor = OpenAiAdaptor { embeddings: false };
    static ANTHROPIC: AnthropicAdaptor = AnthropicAdaptor;
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => &OPENAI,
        ProviderKind::Xai => &XAI,
        ProviderKind::Anthropic => &ANTHROPIC,
    }
}

/// Joins a base URL and a path without doubling or dropping the slash.
fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn json_headers(extra: &HeaderMap) -> HeaderMap {
    let mut h = extra.clone();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    h
}
