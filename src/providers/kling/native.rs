//! Kling's own API as clients written against it see it through the relay
//! (`/kling/v1/videos/{text2video|image2video}` and their polls): the spec of a create body,
//! and the created and polled answers in Kling's envelope, naming the relay's task id and the
//! relay's content URL.
//!
//! Owns: those shapes. Must never: show the upstream's task id or result URL, or take a
//! client's `callback_url` (the relay gives each task its own).

use super::super::video::{ImageInput, NativeShapes, NativeTask, VideoError, VideoSpec};
use super::video::{IMAGE2VIDEO, TEXT2VIDEO};
use crate::tasks::TaskState;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

pub(super) struct KlingNative;

pub(super) static NATIVE: KlingNative = KlingNative;

/// Kling's default model, when a create names none.
const DEFAULT_MODEL: &str = "kling-v1";

/// Members the spec reads itself (the rest go to `extra`, as they came).
const READ: [&str; 6] = [
    "model_name",
    "prompt",
    "duration",
    "aspect_ratio",
    "image",
    "callback_url",
];

fn unsupported(m: &str) -> VideoError {
    VideoError::Unsupported(m.to_owned())
}

/// The size Kling renders for a ratio and mode (`pro` is 1080p).
fn size_of(ratio: &str, pro: bool) -> Option<&'static str> {
    Some(match (ratio, pro) {
        ("16:9", false) => "1280x720",
        ("9:16", false) => "720x1280",
        ("1:1", false) => "720x720",
        ("16:9", true) => "1920x1080",
        ("9:16", true) => "1080x1920",
        ("1:1", true) => "1080x1080",
        _ => return None,
    })
}

fn image_of(v: &str) -> Result<ImageInput, VideoError> {
    if v.starts_with("http://") || v.starts_with("https://") {
        return Ok(ImageInput::Url(v.to_owned()));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| unsupported("`image` is neither a URL nor base64"))?;
    Ok(ImageInput::Bytes {
        mime: "image/png".to_owned(),
        data: Bytes::from(data),
    })
}

/// Kling's word for a state: its own four; cancelled and expired tasks show as failed.
fn status_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "submitted",
        TaskState::InProgress => "processing",
        TaskState::Completed => "succeed",
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => "failed",
    }
}

fn status_msg(task: &NativeTask<'_>) -> String {
    match (task.state, task.failure) {
        (_, Some(f)) => f.message.clone(),
        (TaskState::Cancelled, None) => "the task was cancelled".to_owned(),
        (TaskState::Expired, None) => "the task passed its deadline".to_owned(),
        (TaskState::Failed, None) => "the video generation failed".to_owned(),
        (TaskState::Queued | TaskState::InProgress | TaskState::Completed, None) => String::new(),
    }
}

fn envelope(public_id: &str, data: Value) -> Value {
    json!({"code": 0, "message": "SUCCEED", "request_id": public_id, "data": data})
}

impl NativeShapes for KlingNative {
    fn spec_of(&self, action: &str, body: &Value) -> Result<VideoSpec, VideoError> {
        let with_image = match action.trim_matches('/') {
            a if a == format!("videos/{TEXT2VIDEO}") => false,
            a if a == format!("videos/{IMAGE2VIDEO}") => true,
            _ => return Err(unsupported("Kling has no such video route")),
        };
        let obj = body
            .as_object()
            .ok_or_else(|| unsupported("the body is not a JSON object"))?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let seconds = match obj.get("duration") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().parse::<u32>()),
            Some(Value::Number(n)) => Some(n.to_string().parse::<u32>()),
            Some(_) => return Err(unsupported("`duration` is not \"5\" or \"10\"")),
        }
        .transpose()
        .map_err(|_| unsupported("`duration` is not \"5\" or \"10\""))?;
        let pro = text("mode") == Some("pro");
        let size = text("aspect_ratio")
            .or((!with_image).then_some("16:9"))
            .and_then(|r| size_of(r, pro))
            .map(str::to_owned);
        let image = match (with_image, text("image")) {
            (true, Some(v)) => Some(image_of(v)?),
            (true, None) if text("image_tail").is_none() => {
                return Err(unsupported("image2video needs an `image`"))
            }
            (true, None) | (false, _) => None,
        };
        let extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !READ.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(VideoSpec {
            model: text("model_name").unwrap_or(DEFAULT_MODEL).to_owned(),
            prompt: text("prompt").unwrap_or_default().to_owned(),
            seconds,
            size,
            image,
            remix_of: None,
            callback_url: None,
            extra,
        })
    }

    fn created(&self, public_id: &str, task: &NativeTask<'_>) -> Value {
        envelope(
            public_id,
            json!({
                "task_id": public_id,
                "task_status": status_word(task.state),
                "created_at": task.created_at_ms,
                "updated_at": task.updated_at_ms,
            }),
        )
    }

    fn polled(&self, public_id: &str, task: &NativeTask<'_>) -> Value {
        let mut data = json!({
            "task_id": public_id,
            "task_status": status_word(task.state),
            "task_status_msg": status_msg(task),
            "created_at": task.created_at_ms,
            "updated_at": task.updated_at_ms,
        });
        if let (TaskState::Completed, Some(url)) = (task.state, task.content_url) {
            let duration = task.seconds.map(|s| s.to_string()).unwrap_or_default();
            data["task_result"] = json!({"videos": [
                {"id": public_id, "url": url, "duration": duration}
            ]});
        }
        envelope(public_id, data)
    }
}
