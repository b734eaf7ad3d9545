//! The admin API for channels: `GET /api/channels` (states), `POST /api/channels/{name}/enable`
//! and `.../disable`.
//!
//! Owns: who may call it: loopback peers, or anyone with `Authorization: Bearer <admin_token>`
//! (the top-level key, shared with the monitor endpoints).
//! Must never: show a key's value (snapshots carry hints), or answer without that check.

use crate::error::RelayError;
use crate::providers::WireFormat;
use crate::state::AppState;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// Loopback peers, or the top-level `admin_token` as a bearer token (the monitor's rule: one
/// token opens every admin surface).
fn allowed(state: &AppState, req: &Request) -> bool {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| *p);
    crate::monitor::authorized(peer, req.headers(), state.monitor.config())
}

fn forbidden() -> Response {
    let mut resp = RelayError::Unauthorized.into_response_for(WireFormat::OpenAi);
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp
}

pub async fn list(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if !allowed(&state, &req) {
        return forbidden();
    }
    let routes = state.routes.snapshot();
    Json(json!({
        "channels": routes.channels,
        "retry_budget": routes.retry_budget,
        "overload": state.overload.snapshot(),
    }))
    .into_response()
}

pub async fn enable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    switch(&state, &name, &req, true)
}

pub async fn disable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    switch(&state, &name, &req, false)
}

fn switch(state: &AppState, name: &str, req: &Request, on: bool) -> Response {
    if !allowed(state, req) {
        return forbidden();
    }
    let found = if on {
        state.routes.enable(name)
    } else {
        state.routes.disable(name)
    };
    if !found {
        let mut resp = RelayError::BadRequest(format!("no channel named `{name}`"))
            .into_response_for(WireFormat::OpenAi);
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
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
