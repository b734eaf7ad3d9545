//! Alibaba DashScope (Wan) under `/dashscope`: `POST /api/v1/services/aigc/video-generation/
//! video-synthesis` (and `/aigc/image2video/video-synthesis`) with `X-DashScope-Async:
//! enable` (without it 403 `AccessDenied`) → `{output: {task_id, task_status: "PENDING"},
//! request_id}`; `GET /api/v1/tasks/{task_id}` → `{request_id, output: {task_id,
//! task_status: PENDING|RUNNING|SUCCEEDED|FAILED|CANCELED|UNKNOWN, submit_time,
//! scheduled_time, end_time, video_url, code, message}, usage: {duration, video_count}}`
//! (an unknown id polls as 200 UNKNOWN, as DashScope's expired tasks do); `POST
//! /api/v1/tasks/{task_id}/cancel` (PENDING only). Bearer `sk-…`; errors `{request_id,
//! code, message}`.
//! Owns DashScope's words and shapes; must never apply request-level faults.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::common::{self, respond};
use super::task::{NewTask, Phase, Route, Task};
use crate::errors::{ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::Provider;

/// DashScope's routes, relative to `/dashscope`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route(
            "/api/v1/services/aigc/video-generation/video-synthesis",
            post(create),
        )
        .route(
            "/api/v1/services/aigc/image2video/video-synthesis",
            post(create),
        )
        .route("/api/v1/tasks/{id}", get(retrieve))
        .route("/api/v1/tasks/{id}/cancel", post(cancel))
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    match common::bearer(headers) {
        Some(k) if Provider::Dashscope.accepts_key(k) => Ok(()),
        Some(_) | None => Err(
            ApiError::bad_key(Provider::Dashscope, "Invalid API-key provided.")
                .with_code("InvalidApiKey"),
        ),
    }
}

/// `2025-01-08 16:43:49.123` (UTC; DashScope writes Beijing time, unconfirmed).
fn time(ms: u64) -> String {
    common::iso_ms(ms)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

fn output(ctx: &Ctx, id: &str, task: &Task) -> (Value, Option<Value>) {
    let at = task.elapsed(Instant::now());
    let phase = task.phase_at(at);
    let status = match phase {
        Phase::Queued => "PENDING",
        Phase::Running { .. } => "RUNNING",
        Phase::Succeeded => "SUCCEEDED",
        Phase::Failed => "FAILED",
        Phase::Cancelled => "CANCELED",
    };
    let mut m = Map::new();
    m.insert("task_id".into(), id.into());
    m.insert("task_status".into(), status.into());
    m.insert("submit_time".into(), time(task.created_ms).into());
    if at >= task.queue && phase != Phase::Cancelled {
        let started = task.created_ms + u64::try_from(task.queue.as_millis()).unwrap_or(0);
        m.insert("scheduled_time".into(), time(started).into());
    }
    if let Some(end) = task.ended_ms(at) {
        m.insert("end_time".into(), time(end).into());
    }
    let mut usage = None;
    match phase {
        Phase::Succeeded => {
            m.insert("video_url".into(), common::file_url(ctx, id).into());
            m.insert("orig_prompt".into(), (&*task.prompt).into());
            usage = Some(json!({"duration": task.seconds, "video_count": 1}));
        }
        Phase::Failed => {
            m.insert("code".into(), "DataInspectionFailed".into());
            m.insert(
                "message".into(),
                "Output data may contain inappropriate content. (simulated)".into(),
            );
        }
        Phase::Queued | Phase::Running { .. } | Phase::Cancelled => {}
    }
    (Value::Object(m), usage)
}

fn read(body: &[u8]) -> Result<(String, String, u32, String), ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::invalid("The request body is not valid JSON.").with_code("InvalidParameter")
    })?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if model.is_empty() {
        return Err(ApiError::invalid("Model not found (empty)").with_code("BadRequest.EmptyModel"));
    }
    if !Provider::Dashscope.knows_model(&model) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequest,
            "Model not exist.",
        )
        .with_code("InvalidParameter"));
    }
    let Some(input) = v.get("input").filter(|i| i.is_object()) else {
        return Err(ApiError::invalid(
            "Required body invalid, please check the request body format.",
        )
        .with_code("BadRequest.EmptyInput"));
    };
    let prompt = input
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let image = input
        .get("img_url")
        .or_else(|| input.get("first_frame_url"));
    if prompt.trim().is_empty() && image.is_none() {
        return Err(ApiError::invalid("Field required: input.prompt").with_code("InvalidParameter"));
    }
    let p = v.get("parameters");
    let seconds = match p.and_then(|p| p.get("duration")) {
        None | Some(Value::Null) => 5,
        Some(d) => match d.as_u64() {
            Some(n @ 1..=15) => u32::try_from(n).unwrap_or(5),
            _ => {
                return Err(ApiError::invalid(format!("The duration {d} is invalid."))
                    .with_code("InvalidParameter"))
            }
        },
    };
    let size = p
        .and_then(|p| p.get("size").or_else(|| p.get("resolution")))
        .and_then(Value::as_str)
        .unwrap_or("1280*720")
        .to_owned();
    Ok((model, prompt, seconds, size))
}

async fn create(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check(&parts.headers)?;
        let asynchronous = parts
            .headers
            .get("x-dashscope-async")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("enable"));
        if !asynchronous {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorKind::Permission,
                "current user api does not support synchronous calls",
            )
            .with_code("AccessDenied"));
        }
        let body = axum::body::to_bytes(body, 32 << 20)
            .await
            .map_err(|_| ApiError::invalid("body").with_code("InvalidParameter"))?;
        let (model, prompt, seconds, size) = read(&body)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::Dashscope,
            route: Route::Text,
            model,
            prompt,
            seconds,
            size,
            origin: None,
            callback: None,
            faults,
        };
        let (id, _) = common::create(&ctx, new)?;
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({
                "output": {"task_id": &*id, "task_status": "PENDING"},
                "request_id": ctx.shared.ids.next(""),
            }),
        ))
    }
    .await;
    respond(&ctx, result)
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).map(|()| {
        let request_id = ctx.shared.ids.next("");
        let Some(task) = common::poll(&ctx, &id) else {
            return SimReply::json(
                StatusCode::OK,
                &json!({"request_id": request_id,
                "output": {"task_id": id, "task_status": "UNKNOWN"}}),
            );
        };
        let (out, usage) = output(&ctx, &id, &task);
        let mut v = json!({"request_id": request_id, "output": out});
        if let Some(u) = usage {
            v["usage"] = u;
        }
        common::maybe_malformed(&task, SimReply::json(StatusCode::OK, &v))
    });
    respond(&ctx, result)
}

async fn cancel(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).and_then(|()| {
        let book = &ctx.shared.video.book;
        let task = book.get(Provider::Dashscope, &id).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                "The task does not exist.",
            )
            .with_code("InvalidParameter")
        })?;
        if task.phase(Instant::now()) != Phase::Queued {
            return Err(ApiError::invalid("Only PENDING tasks can be canceled.")
                .with_code("UnsupportedOperation"));
        }
        book.cancel(Provider::Dashscope, &id);
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({"request_id": ctx.shared.ids.next("")}),
        ))
    });
    respond(&ctx, result)
}
