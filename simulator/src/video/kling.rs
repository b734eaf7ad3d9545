//! Kling under `/kling`: `POST /v1/videos/text2video` | `/v1/videos/image2video`, `GET
//! /v1/videos/{text2video|image2video}/{task_id}` (a task is found only under the route that
//! made it). One envelope `{code: 0, message: "SUCCEED", request_id, data}`; `data` is
//! `{task_id, task_status: submitted|processing|succeed|failed, task_status_msg, task_info,
//! created_at, updated_at (ms), task_result: {videos: [{id, url, duration}]}}`. JWT auth
//! (`kling_auth.rs`). With `callback_url`, `data` is POSTed there on each change of state.
//! Owns Kling's words and shapes; must never apply request-level faults.

use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::common::{self, respond};
use super::kling_auth;
use super::task::{NewTask, Phase, Route, Task};
use crate::errors::{ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::Provider;

/// Kling's routes, relative to `/kling`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/v1/videos/text2video", post(text2video))
        .route("/v1/videos/image2video", post(image2video))
        .route("/v1/videos/text2video/{id}", get(poll_text))
        .route("/v1/videos/image2video/{id}", get(poll_image))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).with_code("1201")
}

/// The `data` object of task `id` as it is `at` after submit (a poll's, a callback's).
pub(crate) fn data(ctx: &Ctx, id: &str, task: &Task, at: Duration) -> Value {
    let phase = task.phase_at(at);
    let (status, msg) = match phase {
        Phase::Queued => ("submitted", ""),
        Phase::Running { .. } => ("processing", ""),
        Phase::Succeeded => ("succeed", ""),
        Phase::Failed => (
            "failed",
            "Failure to pass the risk control system (simulated)",
        ),
        Phase::Cancelled => ("failed", "Task cancelled"),
    };
    let mut d = json!({
        "task_id": id,
        "task_status": status,
        "task_status_msg": msg,
        "task_info": match task.origin.as_deref() {
            Some(ext) => json!({"external_task_id": ext}),
            None => json!({}),
        },
        "created_at": task.created_ms,
        "updated_at": task.changed_ms(at),
    });
    if phase == Phase::Succeeded {
        d["task_result"] = json!({"videos": [{
            "id": format!("{id}-v1"),
            "url": common::file_url(ctx, id),
            "duration": task.seconds.to_string(),
        }]});
    }
    d
}

fn envelope(ctx: &Ctx, data: Value) -> SimReply {
    let request_id = ctx.shared.ids.next("");
    SimReply::json(
        StatusCode::OK,
        &json!({"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}),
    )
}

/// A create's model, prompt, seconds, ratio, callback URL and external task id.
type Ask = (String, String, u32, String, Option<String>, Option<String>);

fn read(body: &[u8], route: Route) -> Result<Ask, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad("Request body is not valid JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let model = s("model_name")
        .or_else(|| s("model"))
        .unwrap_or_else(|| "kling-v1".to_owned());
    if !Provider::Kling.knows_model(&model) {
        return Err(bad(format!("model_name value '{model}' is invalid")));
    }
    let prompt = s("prompt").unwrap_or_default();
    match route {
        Route::Text if prompt.trim().is_empty() => return Err(bad("prompt is required")),
        Route::Image if s("image").is_none_or(|i| i.is_empty()) => {
            return Err(bad("image is required"))
        }
        Route::Text | Route::Image => {}
    }
    if prompt.chars().count() > 2500 {
        return Err(bad("prompt must not exceed 2500 characters"));
    }
    let seconds = match v.get("duration") {
        None | Some(Value::Null) => 5,
        Some(Value::String(d)) if d == "5" || d == "10" => d.parse().unwrap_or(5),
        Some(Value::Number(n)) if n.as_u64() == Some(5) || n.as_u64() == Some(10) => {
            u32::try_from(n.as_u64().unwrap_or(5)).unwrap_or(5)
        }
        Some(other) => return Err(bad(format!("duration value '{other}' is invalid"))),
    };
    if let Some(mode) = s("mode") {
        if mode != "std" && mode != "pro" {
            return Err(bad(format!("mode value '{mode}' is invalid")));
        }
    }
    let ratio = s("aspect_ratio").unwrap_or_else(|| "16:9".to_owned());
    if !["16:9", "9:16", "1:1"].contains(&ratio.as_str()) {
        return Err(bad(format!("aspect_ratio value '{ratio}' is invalid")));
    }
    Ok((
        model,
        prompt,
        seconds,
        ratio,
        s("callback_url"),
        s("external_task_id"),
    ))
}

async fn create(ctx: Ctx, req: Request, route: Route) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        kling_auth::check(&parts.headers)?;
        let body = axum::body::to_bytes(body, 32 << 20)
            .await
            .map_err(|_| bad("Request body could not be read"))?;
        let (model, prompt, seconds, size, callback, external) = read(&body, route)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::Kling,
            route,
            model,
            prompt,
            seconds,
            size,
            origin: external,
            callback,
            faults,
        };
        let (id, task) = common::create(&ctx, new)?;
        Ok(envelope(&ctx, data(&ctx, &id, &task, Duration::ZERO)))
    }
    .await;
    respond(&ctx, result)
}

async fn text2video(State(ctx): State<Ctx>, req: Request) -> Response {
    create(ctx, req, Route::Text).await
}

async fn image2video(State(ctx): State<Ctx>, req: Request) -> Response {
    create(ctx, req, Route::Image).await
}

fn poll(ctx: &Ctx, id: &str, route: Route, headers: &http::HeaderMap) -> Response {
    let result = kling_auth::check(headers).and_then(|_| {
        let task = common::poll(ctx, id)
            .filter(|t| t.route == route)
            .ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, "task not found")
                    .with_code("1203")
            })?;
        let at = task.elapsed(Instant::now());
        Ok(common::maybe_malformed(
            &task,
            envelope(ctx, data(ctx, id, &task, at)),
        ))
    });
    respond(ctx, result)
}

async fn poll_text(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    poll(&ctx, &id, Route::Text, &headers)
}

async fn poll_image(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    poll(&ctx, &id, Route::Image, &headers)
}
