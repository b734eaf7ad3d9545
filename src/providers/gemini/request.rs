//! Gemini API requests: the `models/{model}:{method}` paths under the base URL and the
//! `x-goog-api-key` header; Vertex AI (`vertex/`) puts the same paths under its publisher root.
//!
//! Owns: the method of each operation (`generateContent`, `streamGenerateContent?alt=sse`,
//! `countTokens`, `embedContent`, `batchEmbedContents`; image generations `predict` for an
//! Imagen model, else `generateContent`; speech `generateContent`), the model in the path
//! (escaped, so a client's model name cannot reach another path), and the key header.
//! Must never: look inside the body (the model is in the path, not the body).

use super::super::shared::{join, json_headers};
use super::super::Target;
use crate::upstream::UpstreamRequest;
use crate::wire::Endpoint;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

const API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// `models/{model}:{method}` for `op` (a stream asks for SSE: without `alt=sse` Google streams
/// a JSON array).
pub(crate) fn model_path(op: Endpoint, model: &str, stream: bool) -> String {
    let method = match op {
        Endpoint::GenerateContent | Endpoint::Chat | Endpoint::Messages if stream => {
            "streamGenerateContent?alt=sse"
        }
        Endpoint::GenerateContent | Endpoint::Chat | Endpoint::Messages | Endpoint::Speech => {
            "generateContent"
        }
        Endpoint::ImageGenerations if super::media::is_imagen(model) => "predict",
        Endpoint::ImageGenerations => "generateContent",
        Endpoint::CountTokens => "countTokens",
        Endpoint::EmbedContent => "embedContent",
        Endpoint::BatchEmbedContents | Endpoint::Embeddings => "batchEmbedContents",
        Endpoint::Videos => "predictLongRunning",
        // Never a Gemini operation (`serves` gives none): its nearest method keeps this total.
        Endpoint::Completions
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations => "generateContent",
    };
    format!("models/{}:{method}", escape(model))
}

/// A model name as one path segment: characters outside the unreserved set and `.` `-` `_`
/// `~` are percent-encoded (no `/`, `?`, `#` or `:` from a client reaches the path).
fn escape(model: &str) -> String {
    let mut out = String::with_capacity(model.len());
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request for `op` on `model`, its body in Gemini's format, under `root` (the base URL,
/// or Vertex AI's publisher root), with `auth` as its credential header.
pub(crate) fn at(
    target: &Target<'_>,
    root: &str,
    op: Endpoint,
    model: &str,
    stream: bool,
    auth: Option<(HeaderName, HeaderValue)>,
    body: Bytes,
) -> UpstreamRequest {
    let mut headers = json_headers(target.extra_headers);
    if let Some((name, value)) = auth {
        headers.insert(name, value);
    }
    UpstreamRequest {
        method: Method::POST,
        url: join(root, &model_path(op, model, stream)),
        headers,
        body: body.into(),
    }
}

/// The Gemini API request: the channel's key in `x-goog-api-key`.
pub(crate) fn build(
    target: &Target<'_>,
    op: Endpoint,
    model: &str,
    stream: bool,
    body: Bytes,
) -> UpstreamRequest {
    let auth = HeaderValue::from_str(target.key.expose())
        .ok()
        .map(|v| (API_KEY, v));
    at(target, target.base_url, op, model, stream, auth, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_escaped_models() {
        assert_eq!(
            model_path(Endpoint::GenerateContent, "gemini-2.5-flash", true),
            "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            model_path(Endpoint::CountTokens, "m", false),
            "models/m:countTokens"
        );
        assert_eq!(
            model_path(Endpoint::EmbedContent, "../x?y:z", false),
            "models/..%2Fx%3Fy%3Az:embedContent"
        );
        assert_eq!(
            model_path(Endpoint::ImageGenerations, "imagen-4.0-generate-001", false),
            "models/imagen-4.0-generate-001:predict"
        );
        assert_eq!(
            model_path(Endpoint::ImageGenerations, "gemini-2.5-flash-image", false),
            "models/gemini-2.5-flash-image:generateContent"
        );
        assert_eq!(
            model_path(Endpoint::Speech, "gemini-2.5-flash-preview-tts", false),
            "models/gemini-2.5-flash-preview-tts:generateContent"
        );
    }
}
