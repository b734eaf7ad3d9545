//! The monitor's HTTP face: `GET /api/monitor/health` (JSON snapshot) and `GET /metrics`
//! (Prometheus text), and who may read them.
//!
//! Owns: the access rule (loopback peers are served; anyone else needs
//! `Authorization: Bearer <monitor.admin_token>`), the status code (200 for ok and warn, 503 for
//! critical, so a load balancer can act on it), and a ready [`router`].
//! Must never: serve a non-loopback peer without the admin token, or compare the token in a
//! way whose timing depends on how much of it matched.

use super::{Monitor, Snapshot, Status};
use crate::config::MonitorConfig;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;

pub const HEALTH_PATH: &str = "/api/monitor/health";
pub const METRICS_PATH: &str = "/metrics";

/// Whether a request may read the monitor: loopback peers always; others only with the admin
/// token. An unknown peer (`None`) is treated as remote.
pub fn authorized(peer: Option<SocketAddr>, headers: &HeaderMap, config: &MonitorConfig) -> bool {
    if peer.is_some_and(|p| p.ip().is_loopback() || is_mapped_loopback(p)) {
        return true;
    }
    let Some(token) = &config.admin_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.expose().as_bytes()))
}

/// `::ffff:127.0.0.1` from a dual-stack listener.
fn is_mapped_loopback(p: SocketAddr) -> bool {
    match p.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The snapshot and its status code: 200 for ok and warn, 503 for critical.
pub fn health_response(monitor: &Monitor) -> (StatusCode, Json<Snapshot>) {
    let snapshot = monitor.snapshot();
    let code = match snapshot.status {
        Status::Ok | Status::Warn => StatusCode::OK,
        Status::Critical => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(snapshot))
}

/// The Prometheus text with its content type.
pub fn metrics_response(monitor: &Monitor) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        monitor.render_prometheus(),
    )
        .into_response()
}

/// 401 (with `WWW-Authenticate`) when a token could help, 403 when none is configured.
pub fn refused(config: &MonitorConfig) -> Response {
    match config.admin_token {
        Some(_) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "the monitor needs Authorization: Bearer <monitor.admin_token>\n",
        )
            .into_response(),
        None => (
            StatusCode::FORBIDDEN,
            "the monitor is served to loopback peers only (set monitor.admin_token to open it)\n",
        )
            .into_response(),
    }
}

/// `GET /api/monitor/health` and `GET /metrics`, with the access rule applied. The peer address
/// comes from a `ConnectInfo<SocketAddr>` request extension (set by the accept loop); without
/// it every request is treated as remote.
pub fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(METRICS_PATH, get(metrics))
        .with_state(monitor)
}

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

async fn health(State(m): State<Arc<Monitor>>, peer: Peer, headers: HeaderMap) -> Response {
    if !authorized(peer.map(|p| p.0 .0), &headers, m.config()) {
        return refused(m.config());
    }
    health_response(&m).into_response()
}

async fn metrics(State(m): State<Arc<Monitor>>, peer: Peer, headers: HeaderMap) -> Response {
    if !authorized(peer.map(|p| p.0 .0), &headers, m.config()) {
        return refused(m.config());
    }
    metrics_response(&m)
}

#[cfg(test)]
mod tests;
