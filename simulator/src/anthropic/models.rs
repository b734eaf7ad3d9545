//! `GET /v1/models` and `POST /v1/messages/count_tokens` of the Anthropic API.
//! Owns the model catalogue and token counting replies; must never generate answers.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{auth, request};
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::state::Ctx;

const MODELS: [(&str, &str); 4] = [
    ("claude-opus-4-20250514", "Claude Opus 4"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4"),
    ("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5"),
];

pub(crate) async fn list(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let result = auth::check(&headers).map(|()| {
        let data: Vec<Value> = MODELS
            .iter()
            .map(|(id, name)| {
                json!({"type": "model", "id": id, "display_name": name,
                    "created_at": "2025-05-14T00:00:00Z"})
            })
            .collect();
        let body = json!({"data": data, "has_more": false,
            "first_id": MODELS[0].0, "last_id": MODELS[MODELS.len() - 1].0});
        SimReply::json(StatusCode::OK, &body)
    });
    respond(ctx.provider, &ctx.shared.ids, started, result)
}

pub(crate) async fn count_tokens(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let result = auth::check(&headers).and_then(|()| {
        let (req, _model) = request::parse(&body)?;
        let tokens = req.prompt().tokens;
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({"input_tokens": tokens}),
        ))
    });
    respond(ctx.provider, &ctx.shared.ids, started, result)
}
