//! The OpenAI-shaped providers (OpenAI itself and xAI): routes and handlers.
//! Owns the `/v1/...` surface under `/openai` and `/xai`; must never apply faults.

mod answer;
mod chat;
mod chat_out;
mod common;
mod completions;
mod embeddings;
mod models;

use axum::routing::{get, post};
use axum::Router;

use crate::state::Ctx;
use crate::Provider;

/// The routes of an OpenAI-shaped provider (`OpenAi` or `Xai`), relative to its prefix.
pub(crate) fn router(ctx: Ctx) -> Router {
    let mut r = Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/completions", post(completions::handle))
        .route("/v1/models", get(models::list));
    if ctx.provider == Provider::OpenAi {
        r = r
            .route("/v1/embeddings", post(embeddings::handle))
            .route("/v1/models/{id}", get(models::get_one));
    }
    r.with_state(ctx)
}
