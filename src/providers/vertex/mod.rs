//! Vertex AI: Gemini models on Google Cloud, the Gemini API's bodies under a project's
//! publisher path, with a service account's OAuth access token.
//!
//! Owns: the Vertex provider: requests under `{base}/projects/{project}/locations/{location}/
//! publishers/google/` (the base names the version, `v1` or `v1beta1`; the channel gives the
//! project and location) with `Authorization: Bearer <access token>`; the token of each key
//! (`account`: the key file and its signed assertion, `token`: the exchange and its cache,
//! `credentials`: every key's token and the one job that refreshes them); and the token
//! endpoint's errors (`{"error":"invalid_grant","error_description":...}`: a refused or expired
//! credential is a refused key); image generations as their own operation (Imagen's
//! `:predict` is served here, not by the Gemini API). Everything else is Gemini's (`gemini/`:
//! operations, streams, usage, `google.rpc.Status` errors, which Vertex may wrap in an array).
//! Must never: know a body's words beyond Gemini's modules, or send a request without the
//! token it was given (no token: the request goes without, and Vertex refuses it).
//!
//! Unconfirmed (providers.md section 4): the `global` location's host (`aiplatform.googleapis
//! .com`, without a region prefix) is the operator's to give in `base_url`.

mod account;
pub mod credentials;
mod token;
pub(crate) mod video;

pub use credentials::{Credentials, REFRESHER};

use super::gemini::{errors, request, Gemini};
use super::shared::retry_after;
use super::{PassOptions, Provider, Target};
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{bounded, Endpoint, FaultKind, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

/// The Vertex AI provider (`vertex` channels).
pub(crate) struct Vertex;

impl Provider for Vertex {
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
        let c = target.channel;
        let root = format!(
            "{}/projects/{}/locations/{}/publishers/google",
            target.base_url.trim_end_matches('/'),
            segment(c.project.as_deref().unwrap_or("")),
            segment(c.location.as_deref().unwrap_or("")),
        );
        let auth = target
            .access
            .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
            .map(|v| (http::header::AUTHORIZATION, v));
        request::at(target, &root, op, model, stream, auth, body)
    }

    fn stream_usage(&self, op: Endpoint, client_asked: bool) -> Option<fn(&mut Value)> {
        Gemini.stream_usage(op, client_asked)
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        token_endpoint_fault(status, headers, body, redactor)
            .unwrap_or_else(|| errors::read(Some(status), headers, body, redactor))
    }

    fn pass_stream(&self, options: PassOptions) -> Box<dyn Transform> {
        Gemini.pass_stream(options)
    }

    fn usage_of(&self, body: &[u8]) -> Result<Option<Usage>, UpstreamError> {
        Gemini.usage_of(body)
    }

    /// Vertex's answers and their error bodies are Gemini's.
    fn replay(
        &self,
        op: Endpoint,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<Bytes, UpstreamError> {
        Gemini.replay(op, body, redactor)
    }
}

/// Vertex AI's operation for a client endpoint: the Gemini API's, except that image generations
/// are their own operation here, `generateContent` or Imagen's `:predict` by the model
/// (`gemini::request::model_path`).
fn serves(endpoint: Endpoint) -> Option<Endpoint> {
    match endpoint {
        Endpoint::ImageGenerations => Some(Endpoint::ImageGenerations),
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
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => Gemini.serves(endpoint),
    }
}

/// A project or location as one path segment (anything outside `[A-Za-z0-9._-]` dropped).
fn segment(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

/// The token endpoint's error (`{"error":"<word>","error_description":"..."}`, RFC 6749
/// §5.2): the credential refused (`invalid_grant`, `invalid_client`, `unauthorized_client`,
/// `invalid_scope`, `access_denied`) is a refused key; other words mean what their status does.
fn token_endpoint_fault(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> Option<UpstreamFault> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let word = v.get("error")?.as_str()?;
    let kind = match word {
        "invalid_grant"
        | "invalid_client"
        | "unauthorized_client"
        | "invalid_scope"
        | "access_denied" => FaultKind::KeyRefused,
        _ => FaultKind::of_status(status),
    };
    let said = v
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or(word);
    let message = bounded(format!(
        "the Vertex AI token endpoint answered {word}: {}",
        r.redact(said)
    ));
    Some(UpstreamFault {
        wire: WireFormat::Gemini,
        status: Some(status),
        kind,
        message: Some(message),
        retry_after: retry_after(headers),
        documented: None,
    })
}

#[cfg(test)]
mod tests;
