//! The HTTP front: router, tower layers, and thin handlers per endpoint family.
//!
//! Owns: `app(state) -> Router` (tests call it without a socket) and the layer stack, read top
//! to bottom: request id, panic catch, then routes (relay endpoints behind the overload
//! shedder, the channels' admin API, then the monitor's `/api/monitor/health` and `/metrics`).
//! Must never: contain relay logic (handlers call `relay`).

mod admin;
mod handlers;
mod health;
mod models;
mod run;
pub mod store_api;
mod write_deadline;

pub use run::{serve, Server};

use crate::monitor::health::{HEALTH_PATH, METRICS_PATH};
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use http::HeaderName;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn app(state: Arc<AppState>) -> Router {
    // Relay endpoints are shed under overload; monitoring and admin stay reachable.
    let relay = Router::new()
        .route("/v1/chat/completions", post(handlers::chat))
        .route("/v1/completions", post(handlers::completions))
        .route("/v1/embeddings", post(handlers::embeddings))
        .route("/v1/messages", post(handlers::messages))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::overload::shed,
        ));
    Router::new()
        .merge(relay)
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::one))
        .route("/api/channels", get(admin::list))
        .route("/api/channels/{name}/enable", post(admin::enable))
        .route("/api/channels/{name}/disable", post(admin::disable))
        .route(HEALTH_PATH, get(health::health))
        .route(METRICS_PATH, get(health::metrics))
        .fallback(handlers::not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(handlers::panic_response)),
        )
}
