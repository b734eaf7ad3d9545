//! A bridge to a Gemini upstream: its operations told apart.
//!
//! Owns: [`ToGemini`], which sends `GenerateContent` through the pair's content converters,
//! `BatchEmbedContents` through its embedding converters (when the client format has
//! embeddings), and a client's image generations and speech through its media converters
//! ([`MediaOp`]: images from a Gemini image model, from Imagen where the upstream serves
//! `:predict` (its operation is `ImageGenerations`: Vertex AI), speech from a TTS model). An
//! Imagen model on the Gemini API, or a media request asking for a stream, is a 400 naming
//! the limitation; any other operation is a relay bug answered as a 400 (requests) or a 502
//! (answers), never a body sent or read in the wrong shape. Must never: know a client format.

use serde_json::Value;

use super::media_read::is_predictions;
use crate::bridges::common::json::{
    answer_json, converted_answer, invalid_answer, request_bytes, request_json,
};
use crate::bridges::common::Converting;
use crate::bridges::{Asked, Bridge, Outgoing, Request, StreamSetup};
use crate::error::RelayError;
use crate::providers::gemini::media::is_imagen;
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

/// A media operation on a Gemini upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaOp {
    /// Images from a Gemini image model (`generateContent`, `responseModalities` with IMAGE).
    Images,
    /// Images from Imagen (`:predict`).
    Imagen,
    /// Speech from a TTS model (`generateContent`, `responseModalities: ["AUDIO"]`).
    Speech,
}

/// A media request converter: the client's request as the upstream's body for `MediaOp`, and
/// what the client asked of the answer.
pub(crate) type MediaRequest = fn(MediaOp, &Value) -> Result<(Value, Asked), ConvertError>;

/// A media answer converter: the upstream's answer as the client's body (JSON, or audio of
/// the type `Asked::answer_type` names), and its usage. Media the upstream withheld is the
/// client's 400 ([`crate::providers::gemini::errors::withheld`]).
pub(crate) type MediaAnswer =
    fn(MediaOp, &Value, Asked) -> Result<(Bytes, Option<Usage>), UpstreamError>;

/// The media converters of a pair.
pub(crate) struct Media {
    pub(crate) request: MediaRequest,
    pub(crate) answer: MediaAnswer,
}

/// A client format's bridge to Gemini.
pub(crate) struct ToGemini {
    pub(crate) generate: Converting,
    pub(crate) embed: Option<Embedding>,
    pub(crate) media: Option<Media>,
}

/// What a client's media endpoint asks of a Gemini upstream.
#[derive(Clone, Copy)]
enum Asks {
    Images,
    Speech,
}

/// The media a client endpoint asks for, `None` for the others.
fn asks(client_op: Endpoint) -> Option<Asks> {
    match client_op {
        Endpoint::ImageGenerations => Some(Asks::Images),
        Endpoint::Speech => Some(Asks::Speech),
        Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::Messages
        | Endpoint::GenerateContent
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => None,
    }
}

fn unserved(op: Endpoint) -> String {
    format!("{} is not served through this bridge", op.path())
}

impl ToGemini {
    /// The media converters and operation of a request for `client_op` on `model`, served by
    /// the upstream's `op`; `None` for a text request.
    fn media_request(
        &self,
        op: Endpoint,
        client_op: Endpoint,
        model: &str,
        stream: bool,
    ) -> Result<Option<(&Media, MediaOp)>, String> {
        let Some(asks) = asks(client_op) else {
            return Ok(None);
        };
        let media = self.media.as_ref().ok_or_else(|| unserved(client_op))?;
        if stream {
            return Err(format!(
                "stream is not available on {} for Google's models: they answer whole",
                client_op.path()
            ));
        }
        let media_op = match asks {
            Asks::Speech if op == Endpoint::GenerateContent => MediaOp::Speech,
            Asks::Images if is_imagen(model) && op == Endpoint::ImageGenerations => MediaOp::Imagen,
            Asks::Images if is_imagen(model) => {
                return Err(format!(
                    "the Imagen model `{model}` is served by Vertex AI's :predict, which the \
                     Gemini API does not offer: serve it from a vertex channel"
                ))
            }
            Asks::Images if op == Endpoint::GenerateContent || op == Endpoint::ImageGenerations => {
                MediaOp::Images
            }
            Asks::Images | Asks::Speech => return Err(unserved(op)),
        };
        Ok(Some((media, media_op)))
    }

    /// The media converters and operation of an answer to `client_op` (Imagen's answers are
    /// told by their `predictions`); `None` for a text answer.
    fn media_answer(
        &self,
        client_op: Endpoint,
        v: &Value,
    ) -> Result<Option<(&Media, MediaOp)>, String> {
        let Some(asks) = asks(client_op) else {
            return Ok(None);
        };
        let media = self.media.as_ref().ok_or_else(|| unserved(client_op))?;
        let media_op = match asks {
            Asks::Speech => MediaOp::Speech,
            Asks::Images if is_predictions(v) => MediaOp::Imagen,
            Asks::Images => MediaOp::Images,
        };
        Ok(Some((media, media_op)))
    }

    /// The embedding converters, when `op` is an embedding operation this pair serves.
    fn embedding(&self, op: Endpoint) -> Result<Option<&Embedding>, String> {
        match op {
            Endpoint::GenerateContent => Ok(None),
            Endpoint::BatchEmbedContents => {
                self.embed.as_ref().map(Some).ok_or_else(|| unserved(op))
            }
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
            | Endpoint::Moderations
            | Endpoint::Videos => Err(unserved(op)),
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
        let media = self
            .media_request(r.op, r.client_op, r.upstream_model, r.stream)
            .map_err(RelayError::BadRequest)?;
        if let Some((media, op)) = media {
            let (v, asked) = (media.request)(op, &request_json(&r.body)?)?;
            let body = request_bytes(&v)?;
            let out = Outgoing {
                body,
                strip_usage: false,
            };
            return Ok((out, asked));
        }
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
        client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        _renamed: bool,
        asked: Asked,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        if asks(client_op).is_some() {
            let v = answer_json(&body)?;
            let media = self
                .media_answer(client_op, &v)
                .map_err(UpstreamError::Invalid)?;
            if let Some((media, op)) = media {
                return (media.answer)(op, &v, asked);
            }
        }
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
