//! Kling's video requests and answers: the create body of `text2video` and `image2video`, and
//! the task object (`data`) of its envelope read into a report.
//!
//! Owns: which action a spec calls (an image given: `image2video`), `model_name`, `duration`
//! (`"5"` or `"10"`, the seconds rounded to the nearer), `mode` (`pro` from 1080p up) and
//! `aspect_ratio` (from `size`), the image as a URL or raw base64, `callback_url`, an
//! `external_task_id` that names the action (read back from the answer's `task_info`); the status
//! words (`submitted`, `processing`, `succeed`, `failed`), progress derived when not told, the
//! result URL and its duration.
//! Must never: keep an upstream string unredacted, or accept a task id that is not one plain
//! path segment.

use super::super::shared::scalar;
use super::super::video::{ImageInput, PollReport, VideoError, VideoResult, VideoSpec};
use super::super::video_common::{dimensions, plain_id};
use super::errors::{code_of, refused};
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::Redactor;
use base64::Engine;
use serde_json::{Map, Value};

pub(super) const TEXT2VIDEO: &str = "text2video";
pub(super) const IMAGE2VIDEO: &str = "image2video";

/// The action a spec is made by.
pub(super) fn action_of(spec: &VideoSpec) -> &'static str {
    match spec.image {
        Some(_) => IMAGE2VIDEO,
        None => TEXT2VIDEO,
    }
}

/// A stored action, or text2video for a task stored without one.
pub(super) fn stored_action(upstream_ref: Option<&str>) -> &'static str {
    match upstream_ref {
        Some(IMAGE2VIDEO) => IMAGE2VIDEO,
        Some(_) | None => TEXT2VIDEO,
    }
}

/// Kling's two lengths: up to 7 seconds is 5, more is 10.
pub(super) fn duration(seconds: u32) -> &'static str {
    if seconds <= 7 {
        "5"
    } else {
        "10"
    }
}

fn aspect_ratio(w: u32, h: u32) -> &'static str {
    match w.cmp(&h) {
        std::cmp::Ordering::Greater => "16:9",
        std::cmp::Ordering::Less => "9:16",
        std::cmp::Ordering::Equal => "1:1",
    }
}

/// `pro` renders 1080p, `std` 720p.
fn mode(w: u32, h: u32) -> &'static str {
    if w.min(h) >= 1080 {
        "pro"
    } else {
        "std"
    }
}

/// The create body; `extra` merged over it.
pub(super) fn body(spec: &VideoSpec) -> Map<String, Value> {
    let mut m = Map::new();
    let s = |v: &str| Value::String(v.to_owned());
    m.insert("model_name".into(), s(&spec.model));
    if !spec.prompt.is_empty() {
        m.insert("prompt".into(), s(&spec.prompt));
    }
    if let Some(secs) = spec.seconds {
        m.insert("duration".into(), s(duration(secs)));
    }
    if let Some((w, h)) = spec.size.as_deref().and_then(dimensions) {
        m.insert("mode".into(), s(mode(w, h)));
        if spec.image.is_none() {
            m.insert("aspect_ratio".into(), s(aspect_ratio(w, h)));
        }
    }
    match &spec.image {
        Some(ImageInput::Url(url)) => {
            m.insert("image".into(), s(url));
        }
        Some(ImageInput::Bytes { data, .. }) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            m.insert("image".into(), Value::String(b64));
        }
        None => {}
    }
    if let Some(url) = &spec.callback_url {
        m.insert("callback_url".into(), s(url));
    }
    for (k, v) in &spec.extra {
        m.insert(k.clone(), v.clone());
    }
    if !m.contains_key("external_task_id") {
        let marker = format!("{}-{}", action_of(spec), uuid::Uuid::now_v7().simple());
        m.insert("external_task_id".into(), Value::String(marker));
    }
    m
}

/// The action a create's answer names through the `external_task_id` [`body`] gave it (Kling
/// echoes it in `task_info`): the answer says nothing else of the route that made the task,
/// and a task is found only under that route. `None` when the client chose its own id.
pub(super) fn action_in(data: &Value) -> Option<&'static str> {
    let marker = data.pointer("/task_info/external_task_id")?.as_str()?;
    match marker.split_once('-')?.0 {
        TEXT2VIDEO => Some(TEXT2VIDEO),
        IMAGE2VIDEO => Some(IMAGE2VIDEO),
        _ => None,
    }
}

/// The `data` of a 2xx envelope, or the refusal its `code` says.
pub(super) fn data_of(body: &[u8], r: &Redactor) -> Result<Value, VideoError> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not Kling's envelope (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match code_of(&v) {
        Some(0) => {}
        Some(_) => return Err(refused(&v, r)),
        None => {
            return Err(VideoError::Invalid(
                "Kling's envelope has no code".to_owned(),
            ))
        }
    }
    match v.get_mut("data").map(Value::take) {
        Some(d @ Value::Object(_)) => Ok(d),
        _ => Err(VideoError::Invalid(
            "Kling's envelope has no task".to_owned(),
        )),
    }
}

/// A task object's id and report.
pub(super) fn report(task: &Value, r: &Redactor) -> Result<(String, PollReport), VideoError> {
    let invalid = |what: &str| VideoError::Invalid(format!("Kling's task has {what}"));
    let id = scalar(task.get("task_id"))
        .filter(|id| plain_id(id))
        .ok_or_else(|| invalid("no plain task_id"))?;
    let status = task
        .get("task_status")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no task_status"))?;
    let told = task
        .get("progress")
        .and_then(Value::as_f64)
        .map(|p| p.clamp(0.0, 100.0).round() as u8);
    let mut rep = match status {
        "submitted" => PollReport::of(TaskState::Queued),
        "processing" => PollReport::of(TaskState::InProgress),
        "succeed" => PollReport::of(TaskState::Completed),
        "failed" => PollReport::of(TaskState::Failed),
        _ => return Err(invalid("a status word that is not Kling's")),
    };
    rep.progress = match rep.state {
        TaskState::Queued => Some(told.unwrap_or(0)),
        TaskState::InProgress => Some(told.unwrap_or(50)),
        TaskState::Completed => Some(100),
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => told,
    };
    match rep.state {
        TaskState::Completed => {
            let video = task
                .pointer("/task_result/videos/0")
                .ok_or_else(|| invalid("succeeded with no video"))?;
            let url = video
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("a video with no url"))?;
            rep.result = Some(VideoResult::Url(url.to_owned()));
            rep.seconds = scalar(video.get("duration")).and_then(|d| d.parse().ok());
        }
        TaskState::Failed => {
            let message = task
                .get("task_status_msg")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map_or_else(
                    || "the video generation failed".to_owned(),
                    |m| r.redact(m).into_owned(),
                );
            rep.failure = Some(TaskFailure::new("generation_failed", message));
        }
        TaskState::Queued | TaskState::InProgress | TaskState::Cancelled | TaskState::Expired => {}
    }
    Ok((id, rep))
}
