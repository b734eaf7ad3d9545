//! Zhipu CogVideoX under `/zhipu`: `POST /api/paas/v4/videos/generations` → `{id,
//! request_id, model, task_status: "PROCESSING"}`; `GET /api/paas/v4/async-result/{id}` →
//! `{model, request_id, task_status: PROCESSING|SUCCESS|FAIL, video_result: [{url,
//! cover_image_url}]}` (queued and running both read PROCESSING). Bearer `id.secret`;
//! errors `{"error":{code, message}}` (1001 no key, 1002 bad key, 1211 unknown model, 1214
//! bad parameter, 404 "1214" for an unknown task id: the last unconfirmed).
//! Owns Zhipu's words and shapes; must never apply request-level faults.

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
use crate::state::Ctx;
use crate::Provider;

/// Zhipu's routes, relative to `/zhipu`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/api/paas/v4/videos/generations", post(create))
        .route("/api/paas/v4/async-result/{id}", get(retrieve))
}

fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    match common::bearer(headers) {
        Some(k) if Provider::Zhipu.accepts_key(k) => Ok(()),
        Some(_) => {
            Err(ApiError::bad_key(Provider::Zhipu, "令牌已过期或验证不正确").with_code("1002"))
        }
        None => Err(ApiError::bad_key(
            Provider::Zhipu,
            "Header中未收到Authorization参数，无法进行身份验证",
        )
        .with_code("1001")),
    }
}

fn result_json(ctx: &Ctx, id: &str, task: &Task, request_id: &str) -> Value {
    let phase = task.phase(Instant::now());
    let status = match phase {
        Phase::Queued | Phase::Running { .. } => "PROCESSING",
        Phase::Succeeded => "SUCCESS",
        Phase::Failed | Phase::Cancelled => "FAIL",
    };
    let mut v =
        json!({"id": id, "model": &*task.model, "request_id": request_id, "task_status": status});
    if phase == Phase::Succeeded {
        v["video_result"] = json!([{"url": common::file_url(ctx, id),
            "cover_image_url": common::cover_url(ctx, id)}]);
    }
    v
}

fn read(body: &[u8]) -> Result<(String, String, u32, String, Option<String>), ApiError> {
    let bad = |m: String| ApiError::invalid(m).with_code("1214");
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("请求体不是合法的 JSON".into()))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let model = s("model").ok_or_else(|| bad("model 不能为空".into()))?;
    if !Provider::Zhipu.knows_model(&model) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequest,
            "模型不存在，请检查模型代码。",
        )
        .with_code("1211"));
    }
    let prompt = s("prompt").unwrap_or_default();
    if prompt.trim().is_empty() && s("image_url").is_none() {
        return Err(bad("prompt 与 image_url 不能同时为空".into()));
    }
    let seconds = match v.get("duration") {
        None | Some(Value::Null) => 5,
        Some(d) => match d.as_u64() {
            Some(n @ (5 | 10)) => u32::try_from(n).unwrap_or(5),
            _ => return Err(bad(format!("duration 取值无效: {d}"))),
        },
    };
    let size = s("size").unwrap_or_else(|| "1920x1080".to_owned());
    Ok((model, prompt, seconds, size, s("request_id")))
}

async fn create(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        check(&parts.headers)?;
        let body = axum::body::to_bytes(body, 32 << 20)
            .await
            .map_err(|_| ApiError::invalid("body").with_code("1214"))?;
        let (model, prompt, seconds, size, request_id) = read(&body)?;
        let faults = common::task_faults(common::chosen(&parts.extensions), &[&prompt])?;
        let new = NewTask {
            provider: Provider::Zhipu,
            route: Route::Text,
            model: model.clone(),
            prompt,
            seconds,
            size,
            origin: None,
            callback: None,
            faults,
        };
        let (id, _) = common::create(&ctx, new)?;
        let request_id = request_id.unwrap_or_else(|| ctx.shared.ids.next(""));
        Ok(SimReply::json(
            StatusCode::OK,
            &json!({"id": &*id, "request_id": request_id,
            "model": model, "task_status": "PROCESSING"}),
        ))
    }
    .await;
    respond(&ctx, result)
}

async fn retrieve(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = check(&headers).and_then(|()| {
        let task = common::poll(&ctx, &id).ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, "任务不存在")
                .with_code("1214")
        })?;
        let request_id = ctx.shared.ids.next("");
        let reply = SimReply::json(StatusCode::OK, &result_json(&ctx, &id, &task, &request_id));
        Ok(common::maybe_malformed(&task, reply))
    });
    respond(&ctx, result)
}
