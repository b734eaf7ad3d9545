//! Luma Dream Machine under `/luma`: `POST /dream-machine/v1/generations` (and
//! `/generations/video`) → 201 Generation `{id, generation_type: "video", state:
//! queued|dreaming|completed|failed, failure_reason, created_at, assets: {video, image,
//! progress_video} (null until completed), model, request}`; `GET` and `DELETE` (204)
//! `/dream-machine/v1/generations/{id}`. Bearer `luma-…`; errors `{"detail"}`. With
//! `callback_url`, the Generation is POSTed there on each change of state.
//! Owns Luma's words and shapes; must never apply request-level faults.

use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::common::{self, respond};
use super::task::{NewTask, Phase, Route, Task};
use crate::errors::{ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::Provider;

const RATIOS: [&str; 7] = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"];

/// Luma's routes, relative to `/luma`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/dream-machine/v1/generations", post(create))
        .route("/dream-machine/v1/generations/video", post(create))
        .route(
            "/dream-machine/v1/generations/{id}",
            get(retrieve).delete(delete),
        )
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    match common::bearer(headers) {
        Some(k) if Provider::Luma.accepts_key(k) => Ok(()),
        Some(_) => Err(ApiError::bad_key(Provider::Luma, "Invalid API key")),
        None => Err(ApiError::bad_key(Provider::Luma, "Not authenticated")),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        "Generation not found",
    )
}

/// The Generation `id` as it is `at` after submit (a poll's, a callback's).
pub(crate) fn generation(ctx: &Ctx, id: &str, task: &Task, at: Duration) -> Value {
    let phase = task.phase_at(at);
    let (state, failure) = match phase {
        Phase::Queued => ("queued", None),
        Phase::Running { .. } => ("dreaming", None),
        Phase::Succeeded => ("completed", None),
        Phase::Failed => (
            "failed",
            Some("Prompt not allowed because it violates our policies (simulated)"),
        ),
        Phase::Cancelled => ("failed", Some("Generation cancelled")),
    };
    let assets = match phase {
        Phase::Succeeded => json!({"video": common::file_url(ctx, id),
            "image": common::cover_url(ctx, id), "progress_video": null}),
        Phase::Queued | Phase::Running { .. } | Phase::Failed | Phase::Cancelled => Value::Null,
    };
    json!({
        "id": id,
        "generation_type": "video",
        "state": state,
        "failure_reason": failure,
        "created_at": common::iso_ms(task.created_ms),
        "assets": assets,
        "model": &*task.model,
        "request": {
            "generation_type": "video",
            "prompt": &*task.prompt,
            "aspect_ratio": &*task.size,
            "model": &*task.model,
            "duration": format!("{}s", task.seconds),
            "callback_url": task.callback.as_deref(),
        },
    })
}

fn read(body: &[u8]) -> Result<(String, String, u32, String, Option<String>), ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("Invalid JSON body"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let model = s("model").unwrap_or_else(|| "ray-2".to_owned());
    if !Provider::Luma.knows_model(&model) {
        return Err(ApiError::invalid(format!("Invalid model: {model}")));
    }
    let prompt = s("prompt").unwrap_or_default();
    if prompt.trim().is_empty() && v.get("keyframes").is_none() {
        return Err(ApiError::invalid("prompt is required"));
    }
    let seconds = match s("duration").as_deref() {
        None | Some("5s") => 5,
        Some("9s") => 9,
        Some(other) => return Err(ApiError::invalid(format!("Invalid duration: {other}"))),
    };
    let ratio = s("aspect_ratio").unwrap_or_else(|| "16:9".to_owned());
    if !RATIOS.contains(&ratio.as_str()) {
        return Err(ApiError::invalid(format!("Invalid aspect_ratio: {ratio}")));
    }
    Ok((model, prompt, seconds, ratio, s("callback_url")))
}

async fn create(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check(&parts.headers)?;
        let body = axum::body::to_bytes(body, 32 << 20)
            .await
            .map_err(|_| ApiError::invalid("Body could not be read"))?;
        let (model, prompt, seconds, size, callback) = read(&body)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::Luma,
            route: Route::Text,
            model,
            prompt,
            seconds,
            size,
            origin: None,
            callback,
            faults,
        };
        let (id, task) = common::create(&ctx, new)?;
        Ok(SimReply::json(
            StatusCode::CREATED,
            &generation(&ctx, &id, &task, Duration::ZERO),
        ))
    }
    .await;
    respond(&ctx, result)
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).and_then(|()| {
        let task = common::poll(&ctx, &id).ok_or_else(not_found)?;
        let at = task.elapsed(Instant::now());
        let reply = SimReply::json(StatusCode::OK, &generation(&ctx, &id, &task, at));
        Ok(common::maybe_malformed(&task, reply))
    });
    respond(&ctx, result)
}

async fn delete(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(e) = check(&headers) {
        return respond(&ctx, Err(e));
    }
    match ctx.shared.video.book.remove(Provider::Luma, &id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => respond(&ctx, Err(not_found())),
    }
}
