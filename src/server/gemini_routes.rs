//! Google's native routes, for the Gemini API's clients (Google's SDKs): `POST
//! /{version}/models/{model}:{method}` (`generateContent`, `streamGenerateContent`,
//! `countTokens`, `embedContent`, `batchEmbedContents`) and the model list
//! `GET /{version}/models`, `GET /{version}/models/{model}`, for the versions `v1beta`, `v1`
//! and `v1alpha`.
//!
//! Owns: reading the model and the method from the path (the `{model}` segment holds
//! `:method`), the stream from the method (`streamGenerateContent` with `alt=sse`: Google's
//! SDKs always ask for SSE; a streamed JSON array is not served), and moving a `?key=` query
//! parameter into `x-goog-api-key` for `auth` (the query is never logged). Under `/v1`, `GET
//! /v1/models` stays OpenAI's unless the client speaks Google (`models.rs` decides); only the
//! `POST` with a method is Gemini's, so neither clashes.
//! Must never: relay (handlers do), or keep the key in anything but the header it moves to.

use super::{handlers, models};
use crate::error::RelayError;
use crate::relay::FromPath;
use crate::state::AppState;
use crate::wire::{Endpoint, WireFormat};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The header Google's clients send their key in, and `auth` reads.
const API_KEY: &str = "x-goog-api-key";

/// The API versions Google's clients call.
const VERSIONS: [&str; 3] = ["v1beta", "v1", "v1alpha"];

/// The routes, for every version; `/v1/models` and `GET /v1/models/{id}` are `models.rs`'s own
/// (OpenAI's shape unless the client speaks Google).
pub(super) fn routes(routes: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    let mut routes = routes;
    for version in VERSIONS {
        let list = format!("/{version}/models");
        let one = format!("/{version}/models/{{model}}");
        routes = if version == "v1" {
            routes
                .route(&list, get(models::list))
                .route(&one, get(models::one).post(call))
        } else {
            routes
                .route(&list, get(models::list_gemini))
                .route(&one, get(models::one_gemini).post(call))
        };
    }
    routes
}

/// A `?key=` query parameter (when no header names a key) as `x-goog-api-key`.
pub(super) fn key_from_query(headers: &mut HeaderMap, uri: &Uri) {
    let has_key = ["authorization", "x-api-key", API_KEY]
        .iter()
        .any(|h| headers.contains_key(*h));
    if has_key {
        return;
    }
    let key = query(uri, "key");
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(&k).ok()) {
        headers.insert(API_KEY, v);
    }
}

/// Whether a request speaks Google: its key in `x-goog-api-key` or `?key=`.
pub(super) fn speaks_google(headers: &HeaderMap) -> bool {
    headers.contains_key(API_KEY)
}

/// A method of the path's `{model}:{method}` segment: its endpoint, and whether it streams.
fn method(name: &str) -> Option<(Endpoint, bool)> {
    Some(match name {
        "generateContent" => (Endpoint::GenerateContent, false),
        "streamGenerateContent" => (Endpoint::GenerateContent, true),
        "countTokens" => (Endpoint::CountTokens, false),
        "embedContent" => (Endpoint::EmbedContent, false),
        "batchEmbedContents" => (Endpoint::BatchEmbedContents, false),
        _ => return None,
    })
}

/// The first value of a query parameter, decoded.
fn query(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether the query asks for SSE (`alt=sse`).
fn wants_sse(uri: &Uri) -> bool {
    query(uri, "alt").as_deref() == Some("sse")
}

/// `POST /{version}/models/{model}:{method}`.
async fn call(
    State(state): State<Arc<AppState>>,
    Path(segment): Path<String>,
    peer: handlers::Peer,
    uri: Uri,
    mut headers: HeaderMap,
    body: Body,
) -> Response {
    key_from_query(&mut headers, &uri);
    let parsed = segment
        .rsplit_once(':')
        .filter(|(model, _)| !model.is_empty())
        .and_then(|(model, name)| Some((model, method(name)?)));
    let Some((model, (endpoint, stream))) = parsed else {
        let path = crate::client_text::clip(uri.path(), crate::client_text::MAX_LOGGED);
        return RelayError::NotFound(format!(
            "unknown path {path}: expected models/{{model}}:generateContent, \
             :streamGenerateContent, :countTokens, :embedContent or :batchEmbedContents"
        ))
        .into_response_for(WireFormat::Gemini);
    };
    if stream && !wants_sse(&uri) {
        return RelayError::BadRequest(
            "streamGenerateContent is served as server-sent events only: add alt=sse".to_owned(),
        )
        .into_response_for(WireFormat::Gemini);
    }
    let path = FromPath {
        model: model.to_owned(),
        stream,
    };
    handlers::handle(&state, endpoint, Some(path), peer, headers, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_query_keys() {
        assert_eq!(
            method("streamGenerateContent"),
            Some((Endpoint::GenerateContent, true))
        );
        assert_eq!(method("predict"), None);
        let uri: Uri = "/v1beta/models/m:generateContent?alt=sse&key=sk-x%2By"
            .parse()
            .unwrap();
        assert!(wants_sse(&uri));
        let mut h = HeaderMap::new();
        key_from_query(&mut h, &uri);
        assert_eq!(h[API_KEY], "sk-x+y");
        assert!(speaks_google(&h));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer sk-a"));
        key_from_query(&mut h, &uri);
        assert!(!h.contains_key(API_KEY), "a header's key wins");
    }
}
