//! A bridge from a Gemini client to another format, made of its converters and dispatched on
//! the client's endpoint (`generateContent` or the two embedding calls).
//!
//! Owns: [`GeminiClient`] behind the [`Bridge`] interface: reading the client's body as
//! Gemini (`request`, `embed`), handing the neutral form to the pair's writer, and the answer
//! back through the pair's reader. Must never: know the upstream's format (the pair's folder
//! gives its converters).

use bytes::Bytes;
use serde_json::Value;

use super::embed::{self, Embed};
use super::request::{self, Conversation};
use crate::bridges::common::json::{
    converted_answer, request_bytes, request_json, AnswerConverter,
};
use crate::bridges::{Bridge, Outgoing, Request, StreamSetup};
use crate::error::RelayError;
use crate::providers::Provider;
use crate::stream::Transform;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Endpoint, Usage};

/// An upstream's embedding answer read: the vectors in order, and the usage.
pub(crate) type Vectors = (Vec<Value>, Usage);

/// An upstream's embeddings, both ways.
pub(crate) struct Embedder {
    /// What to embed as the upstream's request for a model.
    pub request: fn(&Embed, &str) -> Result<Value, ConvertError>,
    /// The upstream's answer: the vectors in order, and the usage.
    pub answer: fn(&Value) -> Result<Vectors, ConvertError>,
}

/// The converters of a Gemini client's bridge to one format.
pub(crate) struct GeminiClient {
    /// The conversation as the upstream's request for a model, streamed or not.
    pub generate: fn(&Conversation, &str, bool) -> Result<Value, ConvertError>,
    pub answer: AnswerConverter,
    pub stream: fn(StreamSetup<'_>) -> Box<dyn Transform>,
    /// `None`: the upstream embeds nothing (its provider serves no embedding call).
    pub embed: Option<Embedder>,
}

/// What a Gemini client's endpoint is, for a bridge.
enum Call {
    Generate,
    Embed { batch: bool },
}

fn call(client_op: Endpoint) -> Result<Call, ConvertError> {
    match client_op {
        Endpoint::GenerateContent => Ok(Call::Generate),
        Endpoint::EmbedContent => Ok(Call::Embed { batch: false }),
        Endpoint::BatchEmbedContents => Ok(Call::Embed { batch: true }),
        Endpoint::CountTokens
        | Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::Messages
        | Endpoint::ImageGenerations
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => Err(ConvertError::InvalidRequest(format!(
            "{} cannot be converted for this model's upstream",
            client_op.path()
        ))),
    }
}

impl GeminiClient {
    fn embedder(&self) -> Result<&Embedder, ConvertError> {
        self.embed.as_ref().ok_or_else(|| {
            ConvertError::InvalidRequest("this model's upstream has no embeddings".to_owned())
        })
    }
}

impl Bridge for GeminiClient {
    fn request(&self, _provider: &dyn Provider, r: Request<'_>) -> Result<Outgoing, RelayError> {
        let body = request_json(&r.body)?;
        let out = match call(r.client_op)? {
            Call::Generate => (self.generate)(&request::read(&body)?, r.upstream_model, r.stream)?,
            Call::Embed { batch } => {
                (self.embedder()?.request)(&embed::read(&body, batch)?, r.upstream_model)?
            }
        };
        Ok(Outgoing {
            body: request_bytes(&out)?,
            strip_usage: false,
        })
    }

    fn response(
        &self,
        _provider: &dyn Provider,
        _op: Endpoint,
        client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        _renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        let invalid = |e: ConvertError| UpstreamError::Invalid(e.to_string());
        match call(client_op).map_err(invalid)? {
            Call::Generate => converted_answer(&body, client_model, self.answer),
            Call::Embed { batch } => {
                let embedder = self.embedder().map_err(invalid)?;
                let v = crate::bridges::common::json::answer_json(&body)?;
                let (vectors, usage) = (embedder.answer)(&v).map_err(invalid)?;
                let out = embed::answer(vectors, batch).map_err(invalid)?;
                Ok((Bytes::from(out.to_string()), Some(usage)))
            }
        }
    }

    fn stream(&self, _provider: &dyn Provider, setup: StreamSetup<'_>) -> Box<dyn Transform> {
        (self.stream)(setup)
    }
}
