//! OpenAI, and every OpenAI-compatible server (vLLM, LiteLLM, Ollama, llama.cpp, ...): the
//! OpenAI wire format.
//!
//! Owns: the OpenAI provider (chat completions, completions, embeddings; Anthropic clients'
//! messages served by chat completions through their bridge), and the OpenAI format's words:
//! requests and bearer auth (`request`), the error envelope and what its words mean (`errors`),
//! `usage` objects (`usage`), `finish_reason` words (`finish`), a stream passed through
//! (`stream`) and a JSON answer replayed as chunks (`replay`); and Sora's video API (`video`).
//! [`OpenAiFormat`] is the provider of the format, with the quirks of each upstream that speaks
//! it (`xai` gives its own). The bridges read the format through these modules.
//! Must never: do I/O, or know another provider's words.

pub(crate) mod errors;
pub(crate) mod finish;
pub(crate) mod replay;
pub(crate) mod request;
pub(crate) mod stream;
pub(crate) mod usage;
pub(crate) mod video;

use super::shared::usage_member;
use super::{PassOptions, Provider, Target};
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{Endpoint, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// An upstream of the OpenAI format: OpenAI itself, or one with quirks of its own (xAI), which
/// differ in the endpoints they serve and in how they say what their errors mean.
pub(crate) struct OpenAiFormat {
    /// The operation that serves a client endpoint.
    pub(crate) serves: fn(Endpoint) -> Option<Endpoint>,
    /// An error answer in neutral form.
    pub(crate) fault: fn(StatusCode, &HeaderMap, &[u8], &Redactor) -> UpstreamFault,
}

/// The OpenAI provider (`openai` and `openai-compatible` channels).
pub(crate) static OPENAI: OpenAiFormat = OpenAiFormat {
    serves,
    fault: errors::answer,
};

/// The operation of this format that serves a client endpoint.
fn serves(endpoint: Endpoint) -> Option<Endpoint> {
    match endpoint {
        Endpoint::Chat | Endpoint::Messages | Endpoint::GenerateContent => Some(Endpoint::Chat),
        Endpoint::Completions => Some(Endpoint::Completions),
        Endpoint::Embeddings | Endpoint::EmbedContent | Endpoint::BatchEmbedContents => {
            Some(Endpoint::Embeddings)
        }
        // OpenAI has no token counting endpoint.
        Endpoint::CountTokens => None,
        Endpoint::ImageGenerations
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => Some(endpoint),
    }
}

impl Provider for OpenAiFormat {
    fn wire(&self) -> WireFormat {
        WireFormat::OpenAi
    }

    fn serves(&self, endpoint: Endpoint) -> Option<Endpoint> {
        (self.serves)(endpoint)
    }

    fn build(
        &self,
        target: &Target<'_>,
        op: Endpoint,
        _model: &str,
        _client_headers: &HeaderMap,
        body: Bytes,
        _stream: bool,
    ) -> UpstreamRequest {
        request::build(target, op, body)
    }

    fn stream_usage(&self, op: Endpoint, client_asked: bool) -> Option<fn(&mut Value)> {
        request::stream_usage(op, client_asked)
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        (self.fault)(status, headers, body, redactor)
    }

    fn pass_stream(&self, options: PassOptions) -> Box<dyn Transform> {
        Box::new(stream::Pass::new(options))
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, UpstreamError> {
        Ok(usage_member(body)?.as_ref().and_then(usage::read))
    }

    fn replay(
        &self,
        op: Endpoint,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<Bytes, UpstreamError> {
        super::replay::replay(self, body, redactor, replay::is_error, |v, out| {
            replay::events(op, v, out)
        })
    }
}
