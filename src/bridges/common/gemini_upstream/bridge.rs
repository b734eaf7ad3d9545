//! A bridge to a Gemini upstream: its operations told apart.
//!
//! Owns: [`ToGemini`], which sends `GenerateContent` through the pair's content converters and
//! `BatchEmbedContents` through its embedding converters (when the client format has
//! embeddings); any other operation is a relay bug answered as a 400 (requests) or a 502
//! (answers), never a body sent or read in the wrong shape. Must never: know a client format.

use serde_json::Value;

use crate::bridges::common::json::{
    answer_json, converted_answer, invalid_answer, request_bytes, request_json,
};
use crate::bridges::common::Converting;
use crate::bridges::{Asked, Bridge, Outgoing, Request, StreamSetup};
use crate::error::RelayError;
use crate::providers::Provider;
use crate::stream::Transform;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Endpoint, Usage};
use bytes::Bytes;

/// An embedding request converter: the client's request as a `batchEmbedContents` body for an
/// upstream model, and what the client asked of the answer.
pub(crate) type EmbedRequest = fn(&Value, &str) -> Result<(Value, Asked), ConvertError>;

/// An embedding answer converter: the upstream's answer as the client's, for its model name,
/// shaped as it asked.
pub(crate) type EmbedAnswer = fn(&Value, &str, Asked) -> Result<(Value, Usage), ConvertError>;

/// The embedding converters of a pair.
pub(crate) struct Embedding {
    pub(crate) request: EmbedRequest,
    pub(crate) answer: EmbedAnswer,
}

/// A client format's bridge to Gemini.
pub(crate) struct ToGemini {
    pub(crate) generate: Converting,
    pub(crate) embed: Option<Embedding>,
}

impl ToGemini {
    /// The embedding converters, when `op` is an embedding operation this pair serves.
    fn embedding(&self, op: Endpoint) -> Result<Option<&Embedding>, String> {
        let unserved = || format!("{} is not served through this bridge", op.path());
        match op {
            Endpoint::GenerateContent => Ok(None),
            Endpoint::BatchEmbedContents => self.embed.as_ref().map(Some).ok_or_else(unserved),
            Endpoint::Chat
            | Endpoint::Completions
            | Endpoint::Embeddings
            | Endpoint::Messages
            | Endpoint::CountTokens
            | Endpoint::EmbedContent
            | Endpoint::ImageGenerations
            | Endpoint::ImageEdits
            | Endpoint::ImageVariations
            | Endpoint::Speech
            | Endpoint::Transcriptions
            | Endpoint::Translations
            | Endpoint::Moderations => Err(unserved()),
        }
    }
}

impl Bridge for ToGemini {
    fn request(&self, provider: &dyn Provider, r: Request<'_>) -> Result<Outgoing, RelayError> {
        self.request_asking(provider, r).map(|(out, _)| out)
    }

    fn request_asking(
        &self,
        provider: &dyn Provider,
        r: Request<'_>,
    ) -> Result<(Outgoing, Asked), RelayError> {
        match self.embedding(r.op).map_err(RelayError::BadRequest)? {
            None => Ok((self.generate.request(provider, r)?, Asked::default())),
            Some(e) => {
                let (v, asked) = (e.request)(&request_json(&r.body)?, r.upstream_model)?;
                let body = request_bytes(&v)?;
                Ok((
                    Outgoing {
                        body,
                        strip_usage: false,
                    },
                    asked,
                ))
            }
        }
    }

    fn response(
        &self,
        provider: &dyn Provider,
        op: Endpoint,
        client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        self.response_asked(
            provider,
            op,
            client_op,
            body,
            client_model,
            renamed,
            Asked::default(),
        )
    }

    fn response_asked(
        &self,
        _provider: &dyn Provider,
        op: Endpoint,
        _client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        _renamed: bool,
        asked: Asked,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        match self.embedding(op).map_err(UpstreamError::Invalid)? {
            None => converted_answer(&body, client_model, self.generate.answer),
            Some(e) => {
                let (v, usage) = (e.answer)(&answer_json(&body)?, client_model, asked)
                    .map_err(invalid_answer)?;
                Ok((Bytes::from(v.to_string()), Some(usage)))
            }
        }
    }

    fn stream(&self, _provider: &dyn Provider, setup: StreamSetup<'_>) -> Box<dyn Transform> {
        (self.generate.stream)(setup)
    }
}
