//! Providers' own APIs, for clients written against them (`/kling/v1/videos/...`,
//! `/runway/v1/...`): the relay's auth, channel choice, deadlines, task tracking and billing,
//! the provider's shapes.
//!
//! Owns: reading a native create through the provider's [`NativeShapes`], answering creates
//! and polls in the provider's shape with the relay's task id, and errors in the provider's
//! envelope. Must never: answer a poll from the upstream (the store answers), or show the
//! upstream's id.

use super::create::{self, video_error, Making};
use super::request::Create;
use super::{object, Ctx};
use crate::config::ProviderKind;
use crate::error::RelayError;
use crate::providers::video::{video_api_for, NativeShapes, NativeTask};
use crate::relay::{Caller, Record};
use crate::tasks::{Front, Task};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn shapes(kind: ProviderKind) -> Result<&'static dyn NativeShapes, RelayError> {
    video_api_for(kind)
        .and_then(|a| a.native())
        .ok_or_else(|| RelayError::NotFound(format!("no native {kind} routes here")))
}

fn view<'a>(task: &'a Task, url: Option<&'a str>) -> NativeTask<'a> {
    NativeTask {
        state: task.state,
        progress: task.progress,
        created_at_ms: task.created_at,
        updated_at_ms: task.updated_at,
        content_url: url,
        failure: task.failure.as_ref(),
        model: &task.model,
        seconds: task.spec.seconds,
    }
}

/// A native create: the body read by the provider's shapes, sent as the provider takes it.
pub(crate) async fn create(
    cx: &Ctx<'_>,
    caller: &Caller,
    record: &mut Record,
    kind: ProviderKind,
    action: &str,
    body: &[u8],
) -> Result<Value, RelayError> {
    let shapes = shapes(kind)?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| RelayError::BadRequest(format!("invalid JSON body: {e}")))?;
    let spec = shapes.spec_of(action, &v).map_err(video_error)?;
    let serves = cx
        .state
        .routes
        .channels()
        .iter()
        .any(|c| c.kind == kind && c.serves(&spec.model));
    if !serves {
        return Err(RelayError::ModelNotFound(spec.model));
    }
    let mut extra = match v {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    // The model is the channel's to map; callbacks are the relay's.
    for own in ["model", "model_name", "callback_url"] {
        extra.remove(own);
    }
    extra.insert("__action".to_owned(), Value::from(action));
    let c = Create {
        model: spec.model,
        prompt: spec.prompt,
        seconds: spec.seconds,
        size: spec.size,
        image: spec.image,
        extra,
    };
    let task = create::create(cx, caller, record, Front::Native, Making::New(c)).await?;
    let url = object::content_url(cx.state.config.video.callback_base_url.as_deref(), &task.id);
    Ok(shapes.created(&task.id, &view(&task, Some(&url))))
}

/// A native poll, answered from the store.
pub(crate) fn polled(cx: &Ctx<'_>, kind: ProviderKind, task: &Task) -> Result<Value, RelayError> {
    if task.provider != kind {
        return Err(RelayError::NotFound(format!(
            "Task '{}' not found.",
            task.id
        )));
    }
    let shapes = shapes(kind)?;
    let url = (task.state == crate::tasks::TaskState::Completed)
        .then(|| object::content_url(cx.state.config.video.callback_base_url.as_deref(), &task.id));
    Ok(shapes.polled(&task.id, &view(task, url.as_deref())))
}

/// An error in the provider's envelope: Kling's `{code, message, request_id}` (its code for
/// the status), Runway's `{"error": ...}`.
pub(crate) fn error(kind: ProviderKind, record: &mut Record, e: RelayError) -> Response {
    record.fail(&e);
    let status = e.status();
    let message = e.to_string();
    let body = match kind {
        ProviderKind::Kling => {
            let code = match status.as_u16() {
                401 => 1000,
                403 => 1103,
                404 => 1203,
                429 => 1302,
                400..=499 => 1200,
                503 => 5001,
                504 => 5002,
                _ => 5000,
            };
            json!({"code": code, "message": message, "request_id": record.request_id})
        }
        ProviderKind::Runway
        | ProviderKind::Openai
        | ProviderKind::Anthropic
        | ProviderKind::Xai
        | ProviderKind::OpenaiCompatible
        | ProviderKind::Gemini
        | ProviderKind::Vertex
        | ProviderKind::Luma
        | ProviderKind::Zhipu
        | ProviderKind::Dashscope
        | ProviderKind::Viggle => json!({"error": message}),
    };
    (status, Json(body)).into_response()
}
