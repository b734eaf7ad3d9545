//! Viggle (the official v2 API) under `/viggle`: `POST /api/render` (multipart, or JSON with
//! the same fields: `ref_image`|`ref_image_url` + `driving_video`|`driving_video_url`, or
//! `character_id` + `scene_id`; `model` `V4_Preview`|`V3_Preview`, `background_mode`,
//! `bg_color`, `fast`) → `{job_id: "job_…", status: "queued", mode, enqueued_at}`; `GET
//! /api/render/{job_id}` (no auth) → `{job_id, status: queued|processing|complete|failed|
//! cancelled, mode, checkpoint, progress_pct, cdn_url, mask_cdn_url, error_code,
//! error_message, created_at, completed_at}`; `DELETE /api/render/{job_id}` cancels. Bearer
//! key of 8 characters or more; errors `{"detail": {error_code, message, action}}`.
//! Simulation shortcut: a create with none of the inputs is accepted when `model` is set
//! (so a prompt-only front can drive it); a `prompt` text field is read for `[sim:...]`
//! markers only. The output length is `duration` seconds (default 5; simulator-only field).
//! Owns Viggle's words and shapes; must never apply request-level faults.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::common::{self, respond};
use super::task::{NewTask, Phase, Route, Task};
use crate::errors::{ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::openai::media::form;
use crate::state::Ctx;
use crate::Provider;

/// Viggle's routes, relative to `/viggle`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/api/render", post(create))
        .route("/api/render/{id}", get(retrieve).delete(cancel))
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    match common::bearer(headers) {
        Some(k) if Provider::Viggle.accepts_key(k) => Ok(()),
        Some(_) => {
            Err(ApiError::bad_key(Provider::Viggle, "Invalid API key.").with_code("CS-ORAU-002"))
        }
        None => {
            Err(ApiError::bad_key(Provider::Viggle, "Missing API key.").with_code("CS-ORAU-001"))
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, "Job not found.")
        .with_code("CS-ORJB-001")
}

fn job(ctx: &Ctx, id: &str, task: &Task) -> Value {
    let at = task.elapsed(Instant::now());
    let phase = task.phase_at(at);
    let (status, checkpoint) = match phase {
        Phase::Queued => ("queued", "queued"),
        Phase::Running { .. } => ("processing", "rendering"),
        Phase::Succeeded => ("complete", "done"),
        Phase::Failed => ("failed", "rendering"),
        Phase::Cancelled => ("cancelled", "cancelled"),
    };
    let done = phase == Phase::Succeeded;
    let failed = phase == Phase::Failed;
    json!({
        "job_id": id,
        "status": status,
        "mode": "full_pipeline",
        "checkpoint": checkpoint,
        "progress_pct": phase.percent(),
        "cdn_url": done.then(|| common::file_url(ctx, id)),
        "mask_cdn_url": Value::Null,
        "error_code": failed.then_some("CS-ORRD-001"),
        "error_message": failed.then_some("Render failed (simulated)."),
        "created_at": common::iso_ms(task.created_ms),
        "completed_at": task.ended_ms(at).map(common::iso_ms),
    })
}

/// The create's text fields, from a form or JSON.
async fn fields(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |m: &str| ApiError::invalid(m).with_code("CS-ORIV-001");
    if crate::faults::upload::is_multipart(headers) {
        let f = form::read(headers, body, form::IMAGE_LIMIT).await?;
        let mut out = f.fields.clone();
        for file in &f.files {
            out.push((file.name.clone(), format!("<file {} bytes>", file.size)));
        }
        return Ok(out);
    }
    let bytes = axum::body::to_bytes(body, 32 << 20)
        .await
        .map_err(|_| bad("Body could not be read."))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("Body is neither a form nor JSON."))?;
    let Value::Object(m) = v else {
        return Err(bad("Body must be an object."));
    };
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect())
}

async fn create(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check(&parts.headers)?;
        let f = fields(&parts.headers, body).await?;
        let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let model = get("model").map(str::to_owned);
        let image = get("ref_image").or(get("ref_image_url")).is_some();
        let video = get("driving_video").or(get("driving_video_url")).is_some();
        let pair = get("character_id").is_some() && get("scene_id").is_some();
        if !(pair || (image && video) || (!image && !video && model.is_some())) {
            let message = if image {
                "A driving video is required."
            } else {
                "A reference image is required."
            };
            return Err(ApiError::invalid(message).with_code("CS-ORIV-001"));
        }
        let model = model.unwrap_or_else(|| "V4_Preview".to_owned());
        if !Provider::Viggle.knows_model(&model) {
            return Err(
                ApiError::invalid(format!("Unknown model {model}.")).with_code("CS-ORIV-003")
            );
        }
        let fast = get("fast").is_some_and(|v| v == "true" || v == "1");
        if fast && model == "V3_Preview" {
            return Err(
                ApiError::invalid("Fast mode is not available for this model.")
                    .with_code("CS-UORC01-001"),
            );
        }
        let seconds = get("duration")
            .and_then(|d| d.parse::<u32>().ok())
            .unwrap_or(5)
            .clamp(1, 300);
        let texts: Vec<&str> = f.iter().map(|(_, v)| v.as_str()).collect();
        let faults = common::task_faults(common::chosen(&parts.extensions), &texts)?;
        let new = NewTask {
            provider: Provider::Viggle,
            route: Route::Text,
            model,
            prompt: get("prompt").unwrap_or_default().to_owned(),
            seconds,
            size: get("background_mode").unwrap_or("original").to_owned(),
            origin: None,
            callback: None,
            faults,
        };
        let (id, task) = common::create(&ctx, new)?;
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({"job_id": &*id, "status": "queued",
            "mode": "full_pipeline", "enqueued_at": common::iso_ms(task.created_ms)}),
        ))
    }
    .await;
    respond(&ctx, result)
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let result = common::poll(&ctx, &id).ok_or_else(not_found).map(|task| {
        common::maybe_malformed(
            &task,
            SimReply::json(StatusCode::OK, &job(&ctx, &id, &task)),
        )
    });
    respond(&ctx, result)
}

async fn cancel(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).and_then(|()| {
        let task = ctx
            .shared
            .video
            .book
            .cancel(Provider::Viggle, &id)
            .ok_or_else(not_found)?;
        Ok(SimReply::json(StatusCode::OK, &job(&ctx, &id, &task)))
    });
    respond(&ctx, result)
}
