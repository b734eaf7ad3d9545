//! Runway's create bodies (`text_to_video`, `image_to_video`) and its task object read into a
//! report.
//!
//! Owns: the camelCase body (`model`, `promptText`, `promptImage` as a URL or data URI,
//! `ratio` `"1280:720"` from `size`, `duration` held to Runway's 2-10 s), the status words
//! (`PENDING`, `THROTTLED`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED`), progress 0-1
//! scaled to 0-100, `output[0]`, and `failure` with its dot-separated `failureCode`.
//! Must never: keep an upstream string unredacted, or accept a task id that is not one plain
//! path segment.

use super::super::video::{ImageInput, PollReport, VideoError, VideoResult, VideoSpec};
use super::super::video_common::{dimensions, plain_id};
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::Redactor;
use base64::Engine;
use serde_json::{Map, Value};

pub(super) const TEXT_TO_VIDEO: &str = "text_to_video";
pub(super) const IMAGE_TO_VIDEO: &str = "image_to_video";

pub(super) fn action_of(spec: &VideoSpec) -> &'static str {
    match spec.image {
        Some(_) => IMAGE_TO_VIDEO,
        None => TEXT_TO_VIDEO,
    }
}

/// The create body; `extra` merged over it.
pub(super) fn body(spec: &VideoSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("model".into(), Value::String(spec.model.clone()));
    if !spec.prompt.is_empty() {
        m.insert("promptText".into(), Value::String(spec.prompt.clone()));
    }
    match &spec.image {
        Some(ImageInput::Url(url)) => {
            m.insert("promptImage".into(), Value::String(url.clone()));
        }
        Some(ImageInput::Bytes { mime, data }) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            m.insert(
                "promptImage".into(),
                Value::String(format!("data:{mime};base64,{b64}")),
            );
        }
        None => {}
    }
    if let Some((w, h)) = spec.size.as_deref().and_then(dimensions) {
        m.insert("ratio".into(), Value::String(format!("{w}:{h}")));
    }
    if let Some(s) = spec.seconds {
        m.insert("duration".into(), Value::from(s.clamp(2, 10)));
    }
    for (k, v) in &spec.extra {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// The id of a create's answer (`{"id": uuid}`).
pub(super) fn created_id(body: &[u8]) -> Result<String, VideoError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not Runway's task (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    v.get("id")
        .and_then(Value::as_str)
        .filter(|id| plain_id(id))
        .map(str::to_owned)
        .ok_or_else(|| VideoError::Invalid("Runway's answer has no plain id".to_owned()))
}

fn text(v: &Value, r: &Redactor) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .map(|s| r.redact(s).into_owned())
}

/// A task object's report.
pub(super) fn report(body: &[u8], r: &Redactor) -> Result<PollReport, VideoError> {
    let invalid = |what: &str| VideoError::Invalid(format!("Runway's task has {what}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not Runway's task (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no status"))?;
    let mut rep = match status {
        "PENDING" | "THROTTLED" => PollReport::of(TaskState::Queued),
        "RUNNING" => PollReport::of(TaskState::InProgress),
        "SUCCEEDED" => PollReport::of(TaskState::Completed),
        "FAILED" => PollReport::of(TaskState::Failed),
        "CANCELLED" => PollReport::of(TaskState::Cancelled),
        _ => return Err(invalid("a status word that is not Runway's")),
    };
    let scaled = v
        .get("progress")
        .and_then(Value::as_f64)
        .map(|p| (p.clamp(0.0, 1.0) * 100.0).round() as u8);
    rep.progress = match rep.state {
        TaskState::Queued => Some(0),
        TaskState::InProgress => scaled,
        TaskState::Completed => Some(100),
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => None,
    };
    match rep.state {
        TaskState::Completed => {
            let url = v
                .pointer("/output/0")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("succeeded with no output"))?;
            rep.result = Some(VideoResult::Url(url.to_owned()));
        }
        TaskState::Failed => {
            let code = v.get("failureCode").and_then(|c| text(c, r));
            let message = v.get("failure").and_then(|m| text(m, r));
            rep.failure = Some(TaskFailure::new(
                code.unwrap_or_else(|| "generation_failed".to_owned()),
                message.unwrap_or_else(|| "the video generation failed".to_owned()),
            ));
        }
        TaskState::Queued | TaskState::InProgress | TaskState::Cancelled | TaskState::Expired => {}
    }
    Ok(rep)
}
