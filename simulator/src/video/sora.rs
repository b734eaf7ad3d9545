//! OpenAI's video API (Sora) under `/openai`: `POST /v1/videos` (JSON or multipart with an
//! `input_reference` file), `GET /v1/videos/{id}` (with `openai-poll-after-ms` while live),
//! `GET /v1/videos` (paged: `after`, `limit` 0-100, `order`), `DELETE /v1/videos/{id}`,
//! `POST /v1/videos/{id}/remix`, `GET /v1/videos/{id}/content?variant=video|thumbnail|
//! spritesheet` (`video/mp4`, `image/webp`, `image/jpeg`; `Range` answered 206). Bearer
//! `sk-…`; OpenAI's error envelope and validation words.
//! Owns Sora's words and shapes; must never apply request-level faults.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::common::{self, respond};
use super::task::{NewTask, Phase, Route, Task};
use super::{content, files, Outcome};
use crate::errors::{media, ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::openai::common::check_auth;
use crate::openai::media::form;
use crate::state::Ctx;
use crate::Provider;

const SECONDS: [&str; 3] = ["4", "8", "12"];
const SIZES: [&str; 4] = ["720x1280", "1280x720", "1024x1792", "1792x1024"];
const MODELS: &str =
    "'sora-2', 'sora-2-pro', 'sora-2-2025-10-06', 'sora-2-pro-2025-10-06' and 'sora-2-2025-12-08'";
/// How long a completed video's content stays downloadable (`expires_at`).
const KEEP_SECS: u64 = 3600;

/// Sora's routes, relative to `/openai`.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/v1/videos", post(create).get(list))
        .route("/v1/videos/{id}", get(retrieve).delete(delete))
        .route("/v1/videos/{id}/remix", post(remix))
        .route("/v1/videos/{id}/content", get(content_of))
        .with_state(ctx)
}

/// The fields of a create or remix, from JSON or a form.
#[derive(Default)]
struct Fields {
    prompt: Option<String>,
    model: Option<String>,
    seconds: Option<Value>,
    size: Option<String>,
}

fn is_multipart(headers: &HeaderMap) -> bool {
    crate::faults::upload::is_multipart(headers)
}

async fn read_fields(headers: &HeaderMap, body: Body) -> Result<Fields, ApiError> {
    if is_multipart(headers) {
        let f = form::read(headers, body, form::IMAGE_LIMIT).await?;
        let text = |n: &str| f.text(n).map(str::to_owned);
        return Ok(Fields {
            prompt: text("prompt"),
            model: text("model"),
            seconds: text("seconds").map(Value::String),
            size: text("size"),
        });
    }
    let bytes = axum::body::to_bytes(body, 32 << 20)
        .await
        .map_err(|_| ApiError::invalid("We could not read the body of your request."))?;
    let v: Value = crate::openai::common::parse(&bytes)?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(r) = v.get("input_reference") {
        if !(r.get("image_url").is_some() || r.get("file_id").is_some()) {
            let mut e = ApiError::invalid(
                "Invalid 'input_reference': expected an object with 'image_url' or 'file_id'.",
            );
            e.param = Some("input_reference");
            return Err(e);
        }
    }
    Ok(Fields {
        prompt: s("prompt"),
        model: s("model"),
        seconds: v.get("seconds").cloned(),
        size: s("size"),
    })
}

fn missing(param: &'static str) -> ApiError {
    let mut e = ApiError::invalid(format!("Missing required parameter: '{param}'."));
    e.param = Some(param);
    e.with_code("missing_required_parameter")
}

fn seconds_of(v: Option<&Value>) -> Result<u32, ApiError> {
    let kind = match v {
        None | Some(Value::Null) => return Ok(4),
        Some(Value::String(s)) if SECONDS.contains(&s.as_str()) => {
            return Ok(s.parse().unwrap_or(4))
        }
        Some(Value::String(s)) => {
            return Err(media::invalid_value("seconds", s, "'4', '8', and '12'"))
        }
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "an integer",
        Some(Value::Number(_)) => "a decimal",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    };
    let mut e = ApiError::invalid(format!(
        "Invalid type for 'seconds': expected one of '4', '8', or '12', but got {kind} instead."
    ));
    e.param = Some("seconds");
    Err(e.with_code("invalid_type"))
}

/// Checks a create's fields; the prompt, model, seconds and size.
fn check(f: &Fields) -> Result<(String, String, u32, String), ApiError> {
    let prompt = f
        .prompt
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| missing("prompt"))?;
    if prompt.chars().count() > 32_000 {
        let mut e = ApiError::invalid(
            "Invalid 'prompt': string too long. Expected a string with maximum length 32000.",
        );
        e.param = Some("prompt");
        return Err(e.with_code("string_above_max_length"));
    }
    let model = f.model.clone().unwrap_or_else(|| "sora-2".to_owned());
    if !model.starts_with("sora-2") {
        return Err(media::invalid_value("model", &model, MODELS));
    }
    let seconds = seconds_of(f.seconds.as_ref())?;
    let size = f.size.clone().unwrap_or_else(|| "720x1280".to_owned());
    if !SIZES.contains(&size.as_str()) {
        return Err(media::invalid_value(
            "size",
            &size,
            "'720x1280', '1280x720', '1024x1792', and '1792x1024'",
        ));
    }
    Ok((prompt, model, seconds, size))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!("Video with id '{id}' not found."),
    )
    .with_code("video_not_found")
}

/// The Video object of task `id` as it is `at` after submit.
pub(crate) fn video(id: &str, task: &Task, at: std::time::Duration) -> Value {
    let phase = task.phase_at(at);
    let status = match phase {
        Phase::Queued => "queued",
        Phase::Running { .. } => "in_progress",
        Phase::Succeeded => "completed",
        Phase::Failed | Phase::Cancelled => "failed",
    };
    let completed = task.ended_ms(at).map(|ms| ms / 1000);
    let expires = match phase {
        Phase::Succeeded if task.faults.expire => completed,
        Phase::Succeeded => completed.map(|c| c + KEEP_SECS),
        Phase::Queued | Phase::Running { .. } | Phase::Failed | Phase::Cancelled => None,
    };
    let error = match phase {
        Phase::Failed => json!({"code": "video_generation_failed",
            "message": "Video generation failed (simulated)."}),
        Phase::Cancelled => {
            json!({"code": "cancelled", "message": "Video generation was cancelled."})
        }
        Phase::Queued | Phase::Running { .. } | Phase::Succeeded => Value::Null,
    };
    json!({
        "id": id,
        "object": "video",
        "model": &*task.model,
        "status": status,
        "progress": phase.percent(),
        "created_at": task.created_ms / 1000,
        "completed_at": completed,
        "expires_at": expires,
        "prompt": &*task.prompt,
        "size": &*task.size,
        "seconds": task.seconds.to_string(),
        "remixed_from_video_id": task.origin.as_deref(),
        "error": error,
    })
}

fn reply_video(id: &str, task: &Task) -> SimReply {
    SimReply::json(
        StatusCode::OK,
        &video(id, task, task.elapsed(Instant::now())),
    )
}

async fn create(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check_auth(Provider::OpenAi, &parts.headers)?;
        let fields = read_fields(&parts.headers, body).await?;
        let (prompt, model, seconds, size) = check(&fields)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::OpenAi,
            route: Route::Text,
            model,
            prompt,
            seconds,
            size,
            origin: None,
            callback: None,
            faults,
        };
        let (id, task) = common::create(&ctx, new)?;
        Ok(reply_video(&id, &task))
    }
    .await;
    respond(&ctx, result)
}

async fn remix(State(ctx): State<Ctx>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check_auth(Provider::OpenAi, &parts.headers)?;
        let fields = read_fields(&parts.headers, body).await?;
        let prompt = fields
            .prompt
            .filter(|p| !p.is_empty())
            .ok_or_else(|| missing("prompt"))?;
        let source = ctx
            .shared
            .video
            .book
            .get(Provider::OpenAi, &id)
            .ok_or_else(|| not_found(&id))?;
        if source.phase(Instant::now()) != Phase::Succeeded {
            return Err(ApiError::invalid(format!(
                "Video '{id}' is not completed; only completed videos can be remixed."
            )));
        }
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::OpenAi,
            route: Route::Text,
            model: source.model.to_string(),
            prompt,
            seconds: source.seconds,
            size: source.size.to_string(),
            origin: Some(id.clone()),
            callback: None,
            faults,
        };
        let (new_id, task) = common::create(&ctx, new)?;
        Ok(reply_video(&new_id, &task))
    }
    .await;
    respond(&ctx, result)
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check_auth(Provider::OpenAi, &headers).and_then(|()| {
        let task = common::poll(&ctx, &id).ok_or_else(|| not_found(&id))?;
        let mut reply = common::maybe_malformed(&task, reply_video(&id, &task));
        if !task.phase(Instant::now()).is_terminal() {
            let ms = task.poll_after().as_millis().to_string();
            if let Ok(v) = HeaderValue::from_str(&ms) {
                reply.headers.insert("openai-poll-after-ms", v);
            }
        }
        Ok(reply)
    });
    respond(&ctx, result)
}

async fn delete(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check_auth(Provider::OpenAi, &headers).and_then(|()| {
        ctx.shared
            .video
            .book
            .remove(Provider::OpenAi, &id)
            .ok_or_else(|| not_found(&id))?;
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({"id": id, "object": "video.deleted", "deleted": true}),
        ))
    });
    respond(&ctx, result)
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    after: Option<String>,
    limit: Option<String>,
    order: Option<String>,
}

fn page(ctx: &Ctx, q: &ListQuery) -> Result<Value, ApiError> {
    let limit = match q.limit.as_deref() {
        None => 20,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n <= 100 => n,
            _ => {
                let mut e = ApiError::invalid(format!(
                    "Invalid 'limit': integer must be between 0 and 100, got {l}."
                ));
                e.param = Some("limit");
                return Err(e.with_code("integer_out_of_range"));
            }
        },
    };
    let mut all = ctx.shared.video.book.list(Provider::OpenAi);
    match q.order.as_deref() {
        None | Some("desc") => all.reverse(),
        Some("asc") => {}
        Some(other) => return Err(media::invalid_value("order", other, "'asc' and 'desc'")),
    }
    let start = match q.after.as_deref() {
        None => 0,
        Some(after) => all
            .iter()
            .position(|(id, _)| &**id == after)
            .map_or(all.len(), |i| i + 1),
    };
    let now = Instant::now();
    let rest: Vec<&(Arc<str>, Task)> = all.iter().skip(start).collect();
    let data: Vec<Value> = rest
        .iter()
        .take(limit)
        .map(|(id, t)| video(id, t, t.elapsed(now)))
        .collect();
    let first = data
        .first()
        .and_then(|v| v["id"].as_str())
        .map(str::to_owned);
    let last = data
        .last()
        .and_then(|v| v["id"].as_str())
        .map(str::to_owned);
    Ok(
        json!({"object": "list", "data": data, "first_id": first, "last_id": last,
        "has_more": rest.len() > limit}),
    )
}

async fn list(State(ctx): State<Ctx>, headers: HeaderMap, uri: Uri) -> Response {
    let q: ListQuery = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let result = check_auth(Provider::OpenAi, &headers)
        .and_then(|()| page(&ctx, &q))
        .map(|v| SimReply::json(StatusCode::OK, &v));
    respond(&ctx, result)
}

#[derive(serde::Deserialize, Default)]
struct ContentQuery {
    variant: Option<String>,
}

async fn content_of(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(e) = check_auth(Provider::OpenAi, &headers) {
        return respond(&ctx, Err(e));
    }
    let q: ContentQuery = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let variant = q.variant.unwrap_or_else(|| "video".to_owned());
    if !["video", "thumbnail", "spritesheet"].contains(&variant.as_str()) {
        let e = media::invalid_value(
            "variant",
            &variant,
            "'video', 'thumbnail', and 'spritesheet'",
        );
        return respond(&ctx, Err(e));
    }
    let task = match super::result_of(&ctx, &id) {
        Outcome::Ready(task) => task,
        Outcome::Missing => return respond(&ctx, Err(not_found(&id))),
        Outcome::Expired => {
            let e = ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                format!("Video content for '{id}' has expired."),
            )
            .with_code("video_expired");
            return respond(&ctx, Err(e));
        }
        Outcome::NotReady(phase) => {
            let status = match phase {
                Phase::Failed | Phase::Cancelled => "failed",
                Phase::Queued => "queued",
                Phase::Running { .. } | Phase::Succeeded => "in_progress",
            };
            let e = ApiError::invalid(format!(
                "Video '{id}' has no content to download: its status is {status}."
            ));
            return respond(&ctx, Err(e));
        }
    };
    common::downloaded(&ctx);
    let cut = task.faults.content_cut;
    match variant.as_str() {
        "thumbnail" => content::serve(files::WEBP.into(), "image/webp", &headers, cut),
        "spritesheet" => content::serve(files::jpeg(8, 2).into(), "image/jpeg", &headers, cut),
        _ => content::serve(super::video_bytes(&task), "video/mp4", &headers, cut),
    }
}
