//! OpenAI-format requests: paths under the base URL and bearer auth, and how a stream request
//! asks for usage.
//!
//! Owns: `chat/completions`, `completions`, `embeddings` under the base URL (which names the
//! API version), `Authorization: Bearer <key>`, and `stream_options.include_usage`.
//! Must never: look inside the body beyond the one member it sets.

use super::super::shared::{join, json_headers};
use super::super::Target;
use crate::upstream::UpstreamRequest;
use crate::wire::Endpoint;
use bytes::Bytes;
use http::{HeaderValue, Method};
use serde_json::Value;

/// The request for `op`, its body in the OpenAI format.
pub(crate) fn build(target: &Target<'_>, op: Endpoint, body: Bytes) -> UpstreamRequest {
    let path = match op {
        Endpoint::Chat | Endpoint::Messages | Endpoint::GenerateContent => "chat/completions",
        Endpoint::Completions => "completions",
        Endpoint::Embeddings | Endpoint::EmbedContent | Endpoint::BatchEmbedContents => {
            "embeddings"
        }
        Endpoint::ImageGenerations => "images/generations",
        Endpoint::ImageEdits => "images/edits",
        Endpoint::ImageVariations => "images/variations",
        Endpoint::Speech => "audio/speech",
        Endpoint::Transcriptions => "audio/transcriptions",
        Endpoint::Translations => "audio/translations",
        Endpoint::Moderations => "moderations",
        Endpoint::Videos => "videos",
        // Never an OpenAI operation (`serves` gives none): its nearest path keeps this total.
        Endpoint::CountTokens => "chat/completions",
    };
    let mut headers = json_headers(target.extra_headers);
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    UpstreamRequest {
        method: Method::POST,
        url: join(target.base_url, path),
        headers,
        body: body.into(),
    }
}

/// A chat or completions stream reports usage only when asked (`stream_options.include_usage`).
pub(crate) fn stream_usage(op: Endpoint, client_asked: bool) -> Option<fn(&mut Value)> {
    let streams_usage = match op {
        Endpoint::Chat | Endpoint::Completions | Endpoint::GenerateContent => true,
        Endpoint::Embeddings
        | Endpoint::Messages
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
        | Endpoint::Videos => false,
    };
    (streams_usage && !client_asked).then_some(ask_usage as fn(&mut Value))
}

fn ask_usage(body: &mut Value) {
    body["stream_options"] = serde_json::json!({"include_usage": true});
}
