//! `GET /v1/models`: the models this token may use and an enabled channel serves, in OpenAI's
//! shape, Anthropic's when the client sends `anthropic-version` (Anthropic SDKs do), or
//! Google's when it sends its key as Google's clients do (`x-goog-api-key`, `?key=`); the
//! Gemini routes' `/v1beta/models` always in Google's.
//!
//! Owns: the model listing. Must never: list a model the token may not use, or one that only
//! disabled channels serve (a client would be refused it).

use super::gemini_routes;
use crate::error::RelayError;
use crate::state::AppState;
use crate::wire::WireFormat;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

fn format_of(headers: &HeaderMap) -> WireFormat {
    if headers.contains_key("anthropic-version") {
        WireFormat::Anthropic
    } else if gemini_routes::speaks_google(headers) {
        WireFormat::Gemini
    } else {
        WireFormat::OpenAi
    }
}

/// Model name -> owner (the first enabled channel's provider, as the config names it), for the
/// models the token may use.
async fn visible(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, &'static str>, RelayError> {
    // The store's tokens too (created at run time, on any instance), not only the file's.
    let token = crate::relay::authenticate(state, headers).await?;
    if let crate::relay::Caller::Store(e) = &token {
        e.check_usable(crate::store::now_ms())?;
    }
    let mut out = BTreeMap::new();
    for ch in state.routes.channels().iter().filter(|c| c.is_enabled()) {
        for m in ch.models().filter(|m| token.allows_model(m)) {
            out.entry(m.to_owned()).or_insert(ch.kind.as_str());
        }
    }
    Ok(out)
}

fn entry(format: WireFormat, id: &str, owner: &str) -> Value {
    match format {
        WireFormat::OpenAi => json!({"id": id, "object": "model", "created": 0, "owned_by": owner}),
        WireFormat::Anthropic => json!({
            "type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"
        }),
        WireFormat::Gemini => json!({
            "name": format!("models/{id}"),
            "version": "001",
            "displayName": id,
            "description": format!("{id}, served by {owner} through sluice"),
            "supportedGenerationMethods": [
                "generateContent", "streamGenerateContent", "countTokens", "embedContent",
                "batchEmbedContents",
            ],
        }),
    }
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    mut headers: HeaderMap,
) -> Response {
    gemini_routes::key_from_query(&mut headers, &uri);
    let format = format_of(&headers);
    list_as(&state, &headers, format).await
}

/// `GET /v1beta/models` (and `/v1alpha`): Google's shape whatever the client sends.
pub(super) async fn list_gemini(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    mut headers: HeaderMap,
) -> Response {
    gemini_routes::key_from_query(&mut headers, &uri);
    list_as(&state, &headers, WireFormat::Gemini).await
}

async fn list_as(state: &AppState, headers: &HeaderMap, format: WireFormat) -> Response {
    let _in_flight = state
        .monitor
        .ledger()
        .in_flight(crate::wire::Family::Models);
    match visible(state, headers).await {
        Err(e) => e.into_response_for(format),
        Ok(models) => {
            let data: Vec<Value> = models.iter().map(|(id, o)| entry(format, id, o)).collect();
            let body = match format {
                WireFormat::OpenAi => json!({"object": "list", "data": data}),
                WireFormat::Anthropic => json!({
                    "data": data,
                    "has_more": false,
                    "first_id": models.keys().next(),
                    "last_id": models.keys().next_back(),
                }),
                WireFormat::Gemini => json!({"models": data}),
            };
            Json(body).into_response()
        }
    }
}

pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    uri: Uri,
    mut headers: HeaderMap,
) -> Response {
    gemini_routes::key_from_query(&mut headers, &uri);
    let format = format_of(&headers);
    one_as(&state, &id, &headers, format).await
}

/// `GET /v1beta/models/{model}` (and `/v1alpha`): Google's shape whatever the client sends.
pub(super) async fn one_gemini(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    uri: Uri,
    mut headers: HeaderMap,
) -> Response {
    gemini_routes::key_from_query(&mut headers, &uri);
    one_as(&state, &id, &headers, WireFormat::Gemini).await
}

async fn one_as(state: &AppState, id: &str, headers: &HeaderMap, format: WireFormat) -> Response {
    // Google's clients may name it `models/{id}`.
    let id = match format {
        WireFormat::Gemini => id.strip_prefix("models/").unwrap_or(id),
        WireFormat::OpenAi | WireFormat::Anthropic => id,
    };
    let _in_flight = state
        .monitor
        .ledger()
        .in_flight(crate::wire::Family::Models);
    match visible(state, headers).await {
        Err(e) => e.into_response_for(format),
        Ok(models) => match models.get(id) {
            Some(owner) => Json(entry(format, id, owner)).into_response(),
            None => RelayError::ModelNotFound(id.to_owned()).into_response_for(format),
        },
    }
}
