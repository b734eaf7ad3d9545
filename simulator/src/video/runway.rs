//! Runway under `/runway`: `POST /v1/image_to_video` | `/v1/text_to_video` → `{"id"}`;
//! `GET /v1/tasks/{id}` → `{id, createdAt, status: PENDING|RUNNING|SUCCEEDED|FAILED|
//! CANCELLED, progress (0-1, RUNNING only), output[] (SUCCEEDED), failure, failureCode
//! (FAILED)}`; `DELETE /v1/tasks/{id}` (204: a live task is cancelled, an ended one
//! deleted). Bearer `key_…`; `X-Runway-Version: 2024-11-06` required; errors `{"error"}`.
//! THROTTLED is never shown (the simulator has no account concurrency).
//! Owns Runway's words and shapes; must never apply request-level faults.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
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

const VERSION: &str = "2024-11-06";

/// Runway's routes, relative to `/runway`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/v1/image_to_video", post(image_to_video))
        .route("/v1/text_to_video", post(text_to_video))
        .route("/v1/tasks/{id}", get(retrieve).delete(delete))
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("x-runway-version")
        .and_then(|v| v.to_str().ok())
    {
        None => {
            return Err(ApiError::invalid(
                "You must provide the X-Runway-Version header with a valid API version.",
            ))
        }
        Some(v) if v != VERSION => {
            return Err(ApiError::invalid(format!(
                "The API version {v} is not valid. Expected one of: {VERSION}."
            )))
        }
        Some(_) => {}
    }
    match common::bearer(headers) {
        Some(k) if Provider::Runway.accepts_key(k) => Ok(()),
        Some(_) => Err(ApiError::bad_key(
            Provider::Runway,
            "Incorrect API key provided.",
        )),
        None => Err(ApiError::bad_key(Provider::Runway, "No API key provided.")),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        "Task not found.",
    )
}

/// The task object of `id` now.
fn task_json(ctx: &Ctx, id: &str, task: &Task) -> Value {
    let phase = task.phase(Instant::now());
    let status = match phase {
        Phase::Queued => "PENDING",
        Phase::Running { .. } => "RUNNING",
        Phase::Succeeded => "SUCCEEDED",
        Phase::Failed => "FAILED",
        Phase::Cancelled => "CANCELLED",
    };
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("createdAt".into(), common::iso_ms(task.created_ms).into());
    m.insert("status".into(), status.into());
    match phase {
        Phase::Running { .. } => {
            m.insert("progress".into(), json!(f64::from(phase.percent()) / 100.0));
        }
        Phase::Succeeded => {
            m.insert("output".into(), json!([common::file_url(ctx, id)]));
        }
        Phase::Failed => {
            m.insert(
                "failure".into(),
                "The input did not pass our content moderation (simulated).".into(),
            );
            m.insert("failureCode".into(), "SAFETY.INPUT.TEXT".into());
        }
        Phase::Queued | Phase::Cancelled => {}
    }
    Value::Object(m)
}

fn read(body: &[u8], route: Route) -> Result<(String, String, u32, String), ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid("Validation of body failed: not JSON."))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let model = s("model")
        .ok_or_else(|| ApiError::invalid("Validation of body failed: model is required."))?;
    if !Provider::Runway.knows_model(&model) {
        return Err(ApiError::invalid(format!(
            "Validation of body failed: model '{model}' is not supported."
        )));
    }
    let prompt = s("promptText").unwrap_or_default();
    match route {
        Route::Image => match v.get("promptImage") {
            Some(Value::String(u)) if !u.is_empty() => {}
            Some(Value::Array(items)) if !items.is_empty() => {}
            _ => {
                return Err(ApiError::invalid(
                    "Validation of body failed: promptImage is required.",
                ))
            }
        },
        Route::Text if prompt.trim().is_empty() => {
            return Err(ApiError::invalid(
                "Validation of body failed: promptText is required.",
            ))
        }
        Route::Text => {}
    }
    let seconds = match v.get("duration") {
        None | Some(Value::Null) => 5,
        Some(d) => match d.as_u64() {
            Some(n @ 2..=10) => u32::try_from(n).unwrap_or(5),
            _ => {
                return Err(ApiError::invalid(
                    "Validation of body failed: duration must be an integer from 2 to 10.",
                ))
            }
        },
    };
    let ratio = s("ratio").unwrap_or_else(|| "1280:720".to_owned());
    if ratio
        .split_once(':')
        .is_none_or(|(w, h)| w.parse::<u32>().is_err() || h.parse::<u32>().is_err())
    {
        return Err(ApiError::invalid(format!(
            "Validation of body failed: ratio '{ratio}' is invalid."
        )));
    }
    Ok((model, prompt, seconds, ratio))
}

async fn create(ctx: Ctx, req: Request, route: Route) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check(&parts.headers)?;
        let body = axum::body::to_bytes(body, 32 << 20)
            .await
            .map_err(|_| ApiError::invalid("Body could not be read."))?;
        let (model, prompt, seconds, size) = read(&body, route)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::Runway,
            route,
            model,
            prompt,
            seconds,
            size,
            origin: None,
            callback: None,
            faults,
        };
        let (id, _) = common::create(&ctx, new)?;
        Ok(SimReply::json(StatusCode::OK, &json!({"id": &*id})))
    }
    .await;
    respond(&ctx, result)
}

async fn image_to_video(State(ctx): State<Ctx>, req: Request) -> Response {
    create(ctx, req, Route::Image).await
}

async fn text_to_video(State(ctx): State<Ctx>, req: Request) -> Response {
    create(ctx, req, Route::Text).await
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).and_then(|()| {
        let task = common::poll(&ctx, &id).ok_or_else(not_found)?;
        let reply = SimReply::json(StatusCode::OK, &task_json(&ctx, &id, &task));
        Ok(common::maybe_malformed(&task, reply))
    });
    respond(&ctx, result)
}

async fn delete(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(e) = check(&headers) {
        return respond(&ctx, Err(e));
    }
    let book = &ctx.shared.video.book;
    let Some(task) = book.get(Provider::Runway, &id) else {
        return respond(&ctx, Err(not_found()));
    };
    if task.phase(Instant::now()).is_terminal() {
        book.remove(Provider::Runway, &id);
    } else {
        book.cancel(Provider::Runway, &id);
    }
    StatusCode::NO_CONTENT.into_response()
}
