//! Veo on the Gemini API: `POST /{version}/models/{veo}:predictLongRunning` (`{instances:
//! [{prompt, image?}], parameters: {durationSeconds, aspectRatio, resolution, ...}}`) →
//! `{"name": "models/{veo}/operations/{op}"}`; `GET /{version}/models/{veo}/operations/{op}`
//! → `{name, done}` and when done `response.generateVideoResponse.generatedSamples[].video.
//! uri` (a failed task: no samples, `raiMediaFilteredCount: 1` and its reasons); `GET
//! /{version}/files/{op}:download?alt=media` serves the video (the key required; an expired
//! one 403 PERMISSION_DENIED). An `AIza` key, as for the rest of the Gemini API.
//! Owns Veo's Gemini API shapes; must never apply request-level faults.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{Extensions, HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::auth;
use crate::errors::{ApiError, ErrorKind};
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::video::common::{self, respond};
use crate::video::task::{NewTask, Phase, Route, Task};
use crate::video::{content, Outcome};

/// The `@type` of a finished operation's response.
const RESPONSE_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse";

fn pretty(v: &Value) -> SimReply {
    SimReply::json_pretty(StatusCode::OK, v)
}

/// A Veo model name.
pub(crate) fn is_veo(model: &str) -> bool {
    model.starts_with("veo-")
}

/// Reads a Veo create body (shared with Vertex AI): prompt, seconds, aspect ratio, and
/// `parameters.storageUri` if set.
pub(crate) fn read(body: &[u8]) -> Result<(String, u32, String, Option<String>), ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?;
    let instance = v
        .get("instances")
        .and_then(Value::as_array)
        .and_then(|i| i.first())
        .ok_or_else(|| ApiError::invalid("* instances: field is required"))?;
    let prompt = instance
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if prompt.trim().is_empty() && instance.get("image").is_none() {
        return Err(ApiError::invalid(
            "* instances[0].prompt: field is required",
        ));
    }
    let p = v.get("parameters");
    let seconds = match p.and_then(|p| p.get("durationSeconds")) {
        None | Some(Value::Null) => 8,
        Some(d) => match d.as_u64().or_else(|| d.as_str().and_then(|s| s.parse().ok())) {
            Some(n @ 4..=8) => u32::try_from(n).unwrap_or(8),
            _ => {
                return Err(ApiError::invalid(format!(
                    "The number value for `durationSeconds` is out of bound. Please provide a value between 4 and 8, inclusive. Got {d}."
                )))
            }
        },
    };
    let ratio = p
        .and_then(|p| p.get("aspectRatio"))
        .and_then(Value::as_str)
        .unwrap_or("16:9")
        .to_owned();
    if ratio != "16:9" && ratio != "9:16" {
        return Err(ApiError::invalid(format!(
            "Aspect ratio {ratio} is not supported."
        )));
    }
    if let Some(r) = p.and_then(|p| p.get("resolution")).and_then(Value::as_str) {
        if r != "720p" && r != "1080p" {
            return Err(ApiError::invalid(format!(
                "Resolution {r} is not supported."
            )));
        }
    }
    let storage = p
        .and_then(|p| p.get("storageUri"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((prompt, seconds, ratio, storage))
}

/// The reasons a filtered (failed) Veo task gives.
pub(crate) fn filtered_reasons() -> Value {
    json!(["The video could not be generated because it may violate our policies (simulated)."])
}

/// Creates a Veo task for `provider` (Gemini or Vertex) from a create body.
pub(crate) fn create_task(
    ctx: &Ctx,
    model: &str,
    body: &[u8],
    extensions: &Extensions,
) -> Result<(std::sync::Arc<str>, Task), ApiError> {
    let (prompt, seconds, ratio, storage) = read(body)?;
    let faults = common::task_faults(common::chosen(extensions), &[&prompt])?;
    let new = NewTask {
        provider: ctx.provider,
        route: Route::Text,
        model: model.to_owned(),
        prompt,
        seconds,
        size: ratio,
        origin: storage,
        callback: None,
        faults,
    };
    common::create(ctx, new)
}

/// `models/{veo}:predictLongRunning`.
pub(crate) fn create(
    ctx: &Ctx,
    model: &str,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    extensions: &Extensions,
) -> Result<SimReply, ApiError> {
    auth::check(headers, uri.query())?;
    if !is_veo(model) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("models/{model} is not found for API version v1beta, or is not supported for predictLongRunning."),
        ));
    }
    let (id, _) = create_task(ctx, model, body, extensions)?;
    Ok(pretty(
        &json!({"name": format!("models/{model}/operations/{id}")}),
    ))
}

fn operation(ctx: &Ctx, model: &str, id: &str, task: &Task, at: Duration) -> Value {
    let name = format!("models/{model}/operations/{id}");
    let video = match task.phase_at(at) {
        Phase::Queued | Phase::Running { .. } => return json!({"name": name, "done": false}),
        Phase::Succeeded => json!({"generatedSamples": [{"video": {"uri": format!(
            "{}/gemini/v1beta/files/{id}:download?alt=media", ctx.shared.video.base)}}]}),
        Phase::Failed | Phase::Cancelled => json!({"raiMediaFilteredCount": 1,
            "raiMediaFilteredReasons": filtered_reasons()}),
    };
    json!({"name": name, "done": true,
        "response": {"@type": RESPONSE_TYPE, "generateVideoResponse": video}})
}

fn op_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!("Operation {id} not found."),
    )
}

/// `GET /{version}/models/{veo}/operations/{op}`.
pub(crate) async fn get_operation(
    State(ctx): State<Ctx>,
    Path((version, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let result = super::path::check_version(ctx.provider, &version, uri.path())
        .and_then(|()| auth::check(&headers, uri.query()))
        .and_then(|()| {
            let task = common::poll(&ctx, &id)
                .filter(|t| t.model.as_ref() == model.as_str())
                .ok_or_else(|| op_not_found(&id))?;
            let at = task.elapsed(Instant::now());
            Ok(common::maybe_malformed(
                &task,
                pretty(&operation(&ctx, &model, &id, &task, at)),
            ))
        });
    respond(&ctx, result)
}

/// `GET /{version}/files/{op}:download?alt=media`.
pub(crate) async fn download(
    State(ctx): State<Ctx>,
    Path((version, file)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let checked = super::path::check_version(ctx.provider, &version, uri.path())
        .and_then(|()| auth::check(&headers, uri.query()));
    if let Err(e) = checked {
        return respond(&ctx, Err(e));
    }
    let Some(id) = file.strip_suffix(":download") else {
        return respond(&ctx, Err(super::path::no_such_path(uri.path())));
    };
    let denied = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            format!("You do not have permission to access the File {id} or it may not exist."),
        )
    };
    match crate::video::result_of(&ctx, id) {
        Outcome::Ready(task) => {
            common::downloaded(&ctx);
            content::serve(
                crate::video::video_bytes(&task),
                "video/mp4",
                &headers,
                task.faults.content_cut,
            )
        }
        Outcome::Expired | Outcome::Missing | Outcome::NotReady(_) => respond(&ctx, Err(denied())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bodies() {
        let b = br#"{"instances":[{"prompt":"a cat"}],"parameters":{"durationSeconds":6,"aspectRatio":"9:16","storageUri":"gs://b/p"}}"#;
        let (p, s, r, st) = read(b).unwrap();
        assert_eq!(
            (p.as_str(), s, r.as_str(), st.as_deref()),
            ("a cat", 6, "9:16", Some("gs://b/p"))
        );
        assert!(read(br#"{"instances":[]}"#).is_err());
        assert!(
            read(br#"{"instances":[{"prompt":"x"}],"parameters":{"durationSeconds":30}}"#).is_err()
        );
        assert!(
            read(br#"{"instances":[{"prompt":"x"}],"parameters":{"aspectRatio":"1:1"}}"#).is_err()
        );
    }
}
