//! The admin API for channels: `GET /api/channels` (states), `POST /api/channels/{name}/enable`
//! and `.../disable`.
//!
//! Owns: who may call it: loopback peers, or anyone with `Authorization: Bearer <admin_token>`
//! (the top-level key, or `monitor.admin_token`).
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

/// Loopback peers, or the top-level `admin_token` (or the monitor's `monitor.admin_token`, so one
/// token opens both admin surfaces) as a bearer token.
fn allowed(state: &AppState, req: &Request) -> bool {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| *p);
    if crate::monitor::authorized(peer, req.headers(), &state.config.monitor) {
        return true;
    }
    let Some(admin) = &state.config.admin_token else {
        return false;
    };
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), admin.expose().as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
