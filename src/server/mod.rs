//! The HTTP front: one router per listener, tower layers, and thin handlers per endpoint family.
//!
//! Owns: `app(state)` (the public listener's router) and `admin_app(state)` (the admin
//! listener's); tests call both without a socket. The layer stack, read top to bottom: request
//! id (the client's when safe, else a generated one), panic catch, the listener's name, then
//! routes: on the public listener the relay
//! endpoints (Google's native ones in `gemini_routes`) and the model list; on both the health
//! endpoint; the admin surfaces (channels API, the store's API when a store is configured,
//! `/metrics`) behind `access::guard` wherever `access::placement` serves them, and a 404 saying
//! where they are everywhere else.
//! Must never: contain relay logic (handlers call `relay`), or serve an admin surface outside
//! the guard.

mod access;
mod admin;
mod client_deadlines;
mod conn;
mod gemini_routes;
mod handlers;
mod health;
mod held;
mod models;
mod run;
pub mod store_api;
mod video_routes;
mod write_deadline;

pub use access::Listener;
pub(crate) use run::HTTP1_MAX_BUF;
pub use run::{bind, serve, Listeners, Server};

use crate::monitor::health::{HEALTH_PATH, METRICS_PATH};
use crate::state::AppState;
use crate::wire::{Endpoint, WireFormat};
use access::Placement;
use axum::http::Uri;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use http::HeaderName;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// OpenAI's media endpoints, each served at its own path.
const MEDIA: [Endpoint; 7] = [
    Endpoint::ImageGenerations,
    Endpoint::ImageEdits,
    Endpoint::ImageVariations,
    Endpoint::Speech,
    Endpoint::Transcriptions,
    Endpoint::Translations,
    Endpoint::Moderations,
];

/// The public listener's router: the relay's clients.
pub fn app(state: Arc<AppState>) -> Router {
    router(state, Listener::Public)
}

/// The admin listener's router: health in full, the channels API, `/metrics`.
pub fn admin_app(state: Arc<AppState>) -> Router {
    router(state, Listener::Admin)
}

fn router(state: Arc<AppState>, listener: Listener) -> Router {
    let mut routes = Router::new();
    if listener == Listener::Public {
        routes = routes
            .route("/v1/chat/completions", post(handlers::chat))
            .route("/v1/completions", post(handlers::completions))
            .route("/v1/embeddings", post(handlers::embeddings))
            .route("/v1/messages", post(handlers::messages));
        for endpoint in MEDIA {
            routes = routes.route(
                endpoint.path(),
                post(move |s, p, h, b| handlers::media(endpoint, s, p, h, b)),
            );
        }
        // `/v1/models` and `/v1/models/{id}` (GET) with Google's `POST .../{model}:{method}`.
        routes = gemini_routes::routes(routes);
        // OpenAI's video API, `/v1/video/generations`, native video routes, callbacks.
        routes = video_routes::routes(routes);
    }
    routes = routes.route(HEALTH_PATH, get(health::health));
    routes = match access::placement(&state.config, listener) {
        Placement::Here => routes.merge(admin_routes(state.clone())),
        elsewhere => {
            let refuse = any(move |uri: Uri| async move {
                access::not_here(elsewhere, &uri).into_response_for(WireFormat::OpenAi)
            });
            routes
                .route("/api/{*rest}", refuse.clone())
                .route(METRICS_PATH, refuse)
        }
    };
    routes
        .fallback(handlers::not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .map_request(drop_unsafe_request_id)
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(handlers::panic_response))
                .layer(Extension(listener)),
        )
}

/// A client's `x-request-id` is kept only if short and plain (`client_text::safe_request_id`);
/// otherwise it is removed here and the next layer generates one, which the response echoes.
fn drop_unsafe_request_id<B>(mut req: http::Request<B>) -> http::Request<B> {
    let unsafe_id = req
        .headers()
        .get_all(&REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !crate::client_text::safe_request_id(v.as_bytes()));
    if unsafe_id {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// Every admin surface, each behind the guard.
fn admin_routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let store = match &state.metered {
        Some(m) => store_api::router(m.api.clone()),
        None => Router::new(),
    };
    store
        .route("/api/channels", get(admin::list))
        .route("/api/channels/{name}/enable", post(admin::enable))
        .route("/api/channels/{name}/disable", post(admin::disable))
        .route(METRICS_PATH, get(health::metrics))
        .route_layer(axum::middleware::from_fn_with_state(state, access::guard))
}
