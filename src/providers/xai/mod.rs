//! xAI: the OpenAI wire format (read and written by `providers::openai`) with xAI's own ways.
//!
//! Owns: what differs from OpenAI: no embeddings endpoint, and a refused key answered with a
//! 400 whose message is "Incorrect API key provided: ..." (`errors`). Its error body is
//! `{"code":"<description>","error":"<message>"}`, a shape the OpenAI format's reader knows
//! (other OpenAI-compatible servers write it too).
//! Must never: do I/O, or copy what the OpenAI format already reads.

mod errors;

use super::openai::{self, OpenAiFormat};
use crate::wire::Endpoint;

/// The xAI provider: the OpenAI format with xAI's quirks.
pub(crate) static XAI: OpenAiFormat = OpenAiFormat {
    serves,
    fault: errors::read,
};

fn serves(endpoint: Endpoint) -> Option<Endpoint> {
    match endpoint {
        Endpoint::Embeddings
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents
        | Endpoint::CountTokens
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => None,
        // xAI's images: `/v1/images/generations` (its JSON edits take no multipart upload).
        Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Messages
        | Endpoint::GenerateContent
        | Endpoint::ImageGenerations => (openai::OPENAI.serves)(endpoint),
    }
}
