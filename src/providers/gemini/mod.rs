//! Google's Gemini API (and Vertex AI, which speaks the same bodies): its words.
//!
//! Owns: the Gemini provider (`generateContent` and `streamGenerateContent`, `countTokens`,
//! `embedContent`, `batchEmbedContents`; OpenAI and Anthropic clients served through their
//! bridges, OpenAI's image generations and speech through `generateContent`), and the Gemini
//! format's words: paths and the key header (`request`), `finish` (the `finishReason` words),
//! `usage` (`usageMetadata`), `errors` (`google.rpc.Status` and what its words mean), a stream
//! passed through (`stream`), a JSON answer replayed as a stream (`replay`), and which models
//! answer with media (`media`: Imagen, `inlineData` parts, TTS PCM). The bridges read the format
//! through these modules; `vertex/` reuses them.
//! Must never: let Gemini's words out of this folder except as neutral types.
//!
//! Unconfirmed (providers.md section 4): that a 429 always carries `RetryInfo` (a header, when
//! there is one, wins); that the last chunk of a stream always has the final `usageMetadata`
//! (the last one seen is taken).

pub(crate) mod errors;
pub(crate) mod finish;
pub(crate) mod media;
pub(crate) mod replay;
pub(crate) mod request;
pub(crate) mod stream;
pub(crate) mod usage;
pub(crate) mod video;

use super::{PassOptions, Provider, Target};
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{Endpoint, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// The Gemini API provider (`gemini` channels).
pub(crate) struct Gemini;

/// The Gemini API operation that serves a client endpoint (Vertex AI serves the same, and
/// OpenAI's image generations through Imagen's `:predict` too: `vertex::serves`).
pub(crate) fn serves(endpoint: Endpoint) -> Option<Endpoint> {
    match endpoint {
        // Images from Gemini image models and speech from TTS models are `generateContent`
        // answers; the Gemini API serves no Imagen (`:predict` is Vertex AI's).
        Endpoint::Chat
        | Endpoint::Messages
        | Endpoint::GenerateContent
        | Endpoint::ImageGenerations
        | Endpoint::Speech => Some(Endpoint::GenerateContent),
        Endpoint::CountTokens => Some(Endpoint::CountTokens),
        Endpoint::Embeddings | Endpoint::BatchEmbedContents => Some(Endpoint::BatchEmbedContents),
        Endpoint::EmbedContent => Some(Endpoint::EmbedContent),
        // Veo's long-running operations (`providers::video`).
        Endpoint::Videos => Some(Endpoint::Videos),
        // Gemini has no legacy text completions, no moderations, no image edits or variations
        // and no transcription endpoint (audio goes to a model inside a chat request).
        Endpoint::Completions
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations => None,
    }
}

/// The usage of a whole answer (`usageMetadata`), the body checked to be one JSON object.
pub(crate) fn usage_of(body: &[u8]) -> Result<Option<Usage>, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct UsageOnly {
        #[serde(rename = "usageMetadata")]
        usage: Option<Value>,
    }
    serde_json::from_slice::<UsageOnly>(body)
        .map(|u| u.usage.as_ref().and_then(usage::read))
        .map_err(|e| UpstreamError::Invalid(format!("the upstream body is not JSON: {e}")))
}

impl Provider for Gemini {
    fn wire(&self) -> WireFormat {
        WireFormat::Gemini
    }

    fn serves(&self, endpoint: Endpoint) -> Option<Endpoint> {
        serves(endpoint)
    }

    fn names_model_in_body(&self) -> bool {
        false
    }

    fn build(
        &self,
        target: &Target<'_>,
        op: Endpoint,
        model: &str,
        _client_headers: &HeaderMap,
        body: Bytes,
        stream: bool,
    ) -> UpstreamRequest {
        request::build(target, op, model, stream, body)
    }

    fn stream_usage(&self, _op: Endpoint, _client_asked: bool) -> Option<fn(&mut Value)> {
        // Every Gemini stream reports its usage (`usageMetadata`).
        None
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        errors::read(Some(status), headers, body, redactor)
    }

    fn pass_stream(&self, options: PassOptions) -> Box<dyn Transform> {
        Box::new(stream::Pass::new(options))
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, UpstreamError> {
        usage_of(body)
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

#[cfg(test)]
mod tests;
