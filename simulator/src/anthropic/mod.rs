//! The Anthropic Messages API: routes and handlers under `/anthropic`.
//! Owns `/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`; must never apply faults.

mod auth;
mod messages;
mod models;
mod request;
mod stream;

use axum::routing::{get, post};
use axum::Router;

use crate::state::Ctx;

/// Anthropic's routes, relative to `/anthropic`.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/v1/messages", post(messages::handle))
        .route("/v1/messages/count_tokens", post(models::count_tokens))
        .route("/v1/models", get(models::list))
        .with_state(ctx)
}
