//! Runway's own API as clients written against it see it through the relay
//! (`/runway/v1/image_to_video`, `/runway/v1/text_to_video`, `GET /runway/v1/tasks/{id}`): the
//! spec of a create body, `{"id"}` for a create, and the task object for a poll, naming the
//! relay's task id and content URL.
//!
//! Owns: those shapes (a relay-ended task with no reason: `failureCode` `INTERNAL.EXPIRED` or
//! `INTERNAL.CANCELLED`). Must never: show the upstream's id or result URL.

use super::super::video::{ImageInput, NativeShapes, NativeTask, VideoError, VideoSpec};
use super::task::{IMAGE_TO_VIDEO, TEXT_TO_VIDEO};
use crate::tasks::TaskState;
use serde_json::{json, Map, Value};
use std::time::{Duration, UNIX_EPOCH};

pub(super) struct RunwayNative;

pub(super) static NATIVE: RunwayNative = RunwayNative;

/// Members the spec reads itself (the rest go to `extra`, as they came).
const READ: [&str; 5] = ["model", "promptText", "promptImage", "ratio", "duration"];

fn unsupported(m: &str) -> VideoError {
    VideoError::Unsupported(m.to_owned())
}

/// `promptImage`: a URL (or data URI), or `[{uri, position}]` (the `first` frame, else the
/// first one listed).
fn image_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(frames) => frames
            .iter()
            .find(|f| f.get("position").and_then(Value::as_str) == Some("first"))
            .or_else(|| frames.first())
            .and_then(|f| f.get("uri"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn status_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "PENDING",
        TaskState::InProgress => "RUNNING",
        TaskState::Completed => "SUCCEEDED",
        TaskState::Failed | TaskState::Expired => "FAILED",
        TaskState::Cancelled => "CANCELLED",
    }
}

fn iso(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

impl NativeShapes for RunwayNative {
    fn spec_of(&self, action: &str, body: &Value) -> Result<VideoSpec, VideoError> {
        let with_image = match action.trim_matches('/') {
            IMAGE_TO_VIDEO => true,
            TEXT_TO_VIDEO => false,
            _ => return Err(unsupported("Runway has no such video route")),
        };
        let obj = body
            .as_object()
            .ok_or_else(|| unsupported("the body is not a JSON object"))?;
        let model = obj
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| unsupported("`model` is required"))?;
        let image = match (with_image, obj.get("promptImage").and_then(image_of)) {
            (true, Some(uri)) => Some(ImageInput::Url(uri)),
            (true, None) => return Err(unsupported("image_to_video needs a `promptImage`")),
            (false, _) => None,
        };
        let prompt = obj.get("promptText").and_then(Value::as_str).unwrap_or("");
        if !with_image && prompt.is_empty() {
            return Err(unsupported("text_to_video needs a `promptText`"));
        }
        let size = match obj.get("ratio") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.replacen(':', "x", 1)),
            Some(_) => return Err(unsupported("`ratio` is not like \"1280:720\"")),
        };
        let seconds = match obj.get("duration") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                d.as_u64()
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(|| unsupported("`duration` is not a whole number"))?,
            ),
        };
        let extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !READ.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(VideoSpec {
            model: model.to_owned(),
            prompt: prompt.to_owned(),
            seconds,
            size,
            image,
            remix_of: None,
            callback_url: None,
            extra,
        })
    }

    fn created(&self, public_id: &str, _task: &NativeTask<'_>) -> Value {
        json!({ "id": public_id })
    }

    fn polled(&self, public_id: &str, task: &NativeTask<'_>) -> Value {
        let mut v = json!({
            "id": public_id,
            "createdAt": iso(task.created_at_ms),
            "status": status_word(task.state),
        });
        match task.state {
            TaskState::InProgress => {
                v["progress"] = json!(f64::from(task.progress.min(100)) / 100.0);
            }
            TaskState::Completed => {
                v["output"] = json!(task.content_url.into_iter().collect::<Vec<_>>());
            }
            TaskState::Failed | TaskState::Expired => {
                let (code, message) = match (task.failure, task.state) {
                    (Some(f), _) => (f.code.clone(), f.message.clone()),
                    (None, TaskState::Expired) => (
                        "INTERNAL.EXPIRED".to_owned(),
                        "the task passed its deadline".to_owned(),
                    ),
                    (None, _) => (
                        "INTERNAL".to_owned(),
                        "the video generation failed".to_owned(),
                    ),
                };
                v["failure"] = json!(message);
                v["failureCode"] = json!(code);
            }
            TaskState::Queued | TaskState::Cancelled => {}
        }
        v
    }
}
