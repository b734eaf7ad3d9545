//! Anthropic: the messages API.
//!
//! Owns: the Anthropic provider (messages; OpenAI clients' chat completions served by messages
//! through their bridge), and Anthropic's words: the request and its auth headers (`request`),
//! the error shape and what its types mean (`errors`: `billing_error`, 402, 529), `usage`
//! objects (`usage`), `stop_reason` words (`stop`), a stream passed through (`stream`) and a
//! JSON answer replayed as events (`replay`). The bridges read the format through these
//! modules.
//! Must never: do I/O, or know another provider's words (a proxy's error of another shape is
//! read by `openai::errors`).

pub(crate) mod errors;
pub(crate) mod replay;
pub(crate) mod request;
pub(crate) mod stop;
pub(crate) mod stream;
pub(crate) mod usage;

use super::shared::usage_member;
use super::{PassOptions, Provider, Target};
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{Endpoint, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

pub(crate) struct Anthropic;

impl Provider for Anthropic {
    fn wire(&self) -> WireFormat {
        WireFormat::Anthropic
    }

    fn serves(&self, endpoint: Endpoint) -> Option<Endpoint> {
        match endpoint {
            Endpoint::Chat | Endpoint::Messages | Endpoint::GenerateContent => {
                Some(Endpoint::Messages)
            }
            Endpoint::Completions
            | Endpoint::Embeddings
            | Endpoint::CountTokens
            | Endpoint::EmbedContent
            | Endpoint::BatchEmbedContents
            | Endpoint::ImageGenerations
            | Endpoint::ImageEdits
            | Endpoint::ImageVariations
            | Endpoint::Speech
            | Endpoint::Transcriptions
            | Endpoint::Translations
            | Endpoint::Moderations
            | Endpoint::Videos => None,
        }
    }

    fn build(
        &self,
        target: &Target<'_>,
        _op: Endpoint,
        _model: &str,
        client_headers: &HeaderMap,
        body: Bytes,
        _stream: bool,
    ) -> UpstreamRequest {
        request::build(target, client_headers, body)
    }

    fn stream_usage(&self, _op: Endpoint, _client_asked: bool) -> Option<fn(&mut Value)> {
        // Every Anthropic stream reports its usage (`message_start`, `message_delta`).
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
