//! The monitor's HTTP answers: `GET /api/monitor/health` (the JSON snapshot, or only its status)
//! and `GET /metrics` (Prometheus text).
//!
//! Owns: the health verdict a load balancer acts on (`ok`, `warn`, `critical`, and `draining`
//! once shutdown has begun) and its status code (200 for ok and warn, 503 for critical and
//! draining); the status-only body served to callers who are not authorised; the metrics'
//! content type.
//! Must never: decide who may read what (that is `server::access`), or put more than the status
//! in the status-only body.

use super::{Monitor, Status};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

pub const HEALTH_PATH: &str = "/api/monitor/health";
pub const METRICS_PATH: &str = "/metrics";

/// What the health endpoint says about the relay as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Critical,
    /// Shutdown has begun: in-flight requests finish, new ones belong elsewhere.
    Draining,
}

impl Verdict {
    pub fn of(status: Status, draining: bool) -> Self {
        match (draining, status) {
            (true, _) => Self::Draining,
            (false, Status::Ok) => Self::Ok,
            (false, Status::Warn) => Self::Warn,
            (false, Status::Critical) => Self::Critical,
        }
    }

    /// 200 while the relay should get traffic, 503 when it should not.
    pub fn code(self) -> StatusCode {
        match self {
            Self::Ok | Self::Warn => StatusCode::OK,
            Self::Critical | Self::Draining => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The full snapshot as JSON, its `status` set to the verdict, with the verdict's code.
pub fn health_response(monitor: &Monitor, draining: bool) -> (StatusCode, Value) {
    let snapshot = monitor.snapshot();
    let verdict = Verdict::of(snapshot.status, draining);
    let mut body = serde_json::to_value(&snapshot).unwrap_or_else(|_| json!({}));
    body["status"] = json!(verdict);
    (verdict.code(), body)
}

/// `{"status": ...}` and nothing else: what a load balancer needs, all an unknown caller gets.
pub fn status_only(monitor: &Monitor, draining: bool) -> Response {
    let verdict = Verdict::of(monitor.snapshot().status, draining);
    (verdict.code(), Json(json!({ "status": verdict }))).into_response()
}

/// Prometheus text with its content type.
pub fn metrics_response(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
