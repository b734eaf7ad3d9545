//! The HTTP front: router, tower layers, and thin handlers per endpoint family.
//!
//! Owns: `app(state) -> Router` (tests call it without a socket) and the layer stack, read top
//! to bottom: request id, panic catch, then routes (relay endpoints, then the monitor's
//! `/api/monitor/health` and `/metrics`).
//! Must never: contain relay logic (handlers call `relay`).

mod handlers;
mod models;
mod run;
mod write_deadline;

pub use run::{serve, Server};

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
    Router::new()
        .route("/v1/chat/completions", post(handlers::chat))
        .route("/v1/completions", post(handlers::completions))
        .route("/v1/embeddings", post(handlers::embeddings))
        .route("/v1/messages", post(handlers::messages))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::one))
        .fallback(handlers::not_found)
        .with_state(state.clone())
        .merge(crate::monitor::router(state.monitor.clone()))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(handlers::panic_response)),
        )
}
