//! The admin API for channels: `GET /api/channels` (states), `POST /api/channels/{name}/enable`
//! and `.../disable`.
//!
//! Owns: the channel switches (a stored channel's persisted through the store, a config-file
//! channel's in memory) and the listing. Who may call them is `server::access` (every
//! route here sits behind its guard).
//! Must never: show a key's value (snapshots carry hints).

use crate::client_text::{clip, MAX_LOGGED};
use crate::error::RelayError;
use crate::state::AppState;
use crate::wire::WireFormat;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Response {
    let routes = state.routes.snapshot();
    Json(json!({
        "channels": routes.channels,
        "retry_budget": routes.retry_budget,
        "overload": state.overload.snapshot(),
    }))
    .into_response()
}

pub(super) async fn enable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Response {
    switch(&state, &name, true).await
}

pub(super) async fn disable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Response {
    switch(&state, &name, false).await
}

async fn switch(state: &AppState, name: &str, on: bool) -> Response {
    // A stored channel is switched in the store (persisted; the routes refresher applies it
    // here and on every instance); a config-file channel in memory, until restart.
    if let Some(m) = &state.metered {
        if !m.api.file_channels.contains(name) {
            return match m.api.set_channel_enabled(name, on).await {
                Ok(resp) => resp,
                Err(e) => e.into_response(),
            };
        }
    }
    let found = if on {
        state.routes.enable(name)
    } else {
        state.routes.disable(name)
    };
    if !found {
        return RelayError::NotFound(format!("no channel named `{}`", clip(name, MAX_LOGGED)))
            .into_response_for(WireFormat::OpenAi);
    }
    tracing::warn!(
        channel = name,
        enabled = on,
        "channel switched by the admin API"
    );
    match state.routes.channel_snapshot(name) {
        Some(snap) => Json(snap).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}
