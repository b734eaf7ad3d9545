//! The OpenAI-shaped providers (OpenAI itself, xAI, and the OpenAI-compatible dialects): routes
//! and handlers.
//! Owns the `/v1/...` surface under `/openai`, `/xai` and `/compat/{dialect}`; must never apply
//! faults.

mod answer;
mod chat;
mod chat_out;
pub(crate) mod common;
mod completions;
pub(crate) mod dialects;
mod embeddings;
pub(crate) mod media;
mod models;
mod spacing;
pub(crate) mod style;

use axum::routing::{get, post};
use axum::Router;

use crate::errors::ApiError;
use crate::state::Ctx;
use crate::Provider;
use style::Style;

/// Router state of an OpenAI-shaped route: the provider (its errors, headers and faults) and
/// the style its answers are written in.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) ctx: Ctx,
    pub(crate) style: &'static Style,
}

impl Api {
    /// The request's model: present, and served here (any name on a server of its own models,
    /// the provider's model prefixes otherwise).
    pub(crate) fn model(&self, model: Option<String>) -> Result<String, ApiError> {
        if self.style.any_model {
            model
                .filter(|m| !m.is_empty())
                .ok_or_else(|| common::missing("model"))
        } else {
            common::model(self.ctx.provider, model)
        }
    }
}

/// The routes of an OpenAI-shaped provider (`OpenAi` or `Xai`, or OpenAI in a dialect's
/// `style`), relative to its prefix.
pub(crate) fn router(ctx: Ctx, style: &'static Style) -> Router {
    let provider = ctx.provider;
    let mut r = Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/completions", post(completions::handle))
        .route("/v1/models", get(models::list));
    if provider == Provider::OpenAi {
        r = r
            .route("/v1/embeddings", post(embeddings::handle))
            .route("/v1/models/{id}", get(models::get_one))
            .route("/v1/images/edits", post(media::edits::edit))
            .route("/v1/images/variations", post(media::edits::variation))
            .route("/v1/audio/speech", post(media::speech::handle))
            .route(
                "/v1/audio/transcriptions",
                post(media::transcribe::transcriptions),
            )
            .route(
                "/v1/audio/translations",
                post(media::transcribe::translations),
            )
            .route("/v1/moderations", post(media::moderations::handle));
    }
    // xAI generates images too (its own rules, `media/xai.rs`); both serve the files.
    r = r
        .route("/v1/images/generations", post(media::images::handle))
        .route("/sim-files/{file}", get(media::files::get));
    r.with_state(Api { ctx, style })
}
