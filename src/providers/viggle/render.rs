//! Viggle's render (API v2): the multipart create form and the job object read into a report.
//!
//! Owns: the form (`model`, `prompt` when given, then the client's `extra` fields as they came: `ref_image_url`,
//! `driving_video_url`, `character_id`, `scene_id`, `background_mode`, `bg_color`, `fast`,
//! `character_mapping`...; an image given as a URL is `ref_image_url`, as bytes the file
//! `ref_image`), the status words (`queued`, `processing`, `complete`, `failed`,
//! `cancelled`), `progress_pct`, `cdn_url`, `error_code` and `error_message`.
//! Must never: keep an upstream string unredacted, or accept a job id that is not one plain
//! path segment.

use super::super::video::{ImageInput, PollReport, VideoError, VideoResult, VideoSpec};
use super::super::video_common::plain_id;
use super::super::video_form::{image_name, Form};
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::Redactor;
use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

/// The create form: its content type and body.
pub(super) fn form(spec: &VideoSpec) -> Result<(HeaderValue, Bytes), VideoError> {
    let mut f = Form::new();
    if !spec.model.is_empty() {
        f.text("model", &spec.model)?;
    }
    // Viggle reads no prompt (an unknown form field); sent so a prompt's words reach the
    // upstream as the client wrote them (the simulator reads its `[sim:...]` markers there).
    if !spec.prompt.is_empty() && !spec.extra.contains_key("prompt") {
        f.text("prompt", &spec.prompt)?;
    }
    for (k, v) in &spec.extra {
        if k != "model" {
            f.value(k, v)?;
        }
    }
    match &spec.image {
        Some(ImageInput::Url(url)) if !spec.extra.contains_key("ref_image_url") => {
            f.text("ref_image_url", url)?;
        }
        Some(ImageInput::Bytes { mime, data }) => {
            f.file("ref_image", image_name(mime), mime, data)?;
        }
        Some(ImageInput::Url(_)) | None => {}
    }
    Ok(f.finish())
}

/// A job object's id and report.
pub(super) fn report(body: &[u8], r: &Redactor) -> Result<(String, PollReport), VideoError> {
    let invalid = |what: &str| VideoError::Invalid(format!("Viggle's job has {what}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not Viggle's job (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let id = v
        .get("job_id")
        .and_then(Value::as_str)
        .filter(|id| plain_id(id))
        .ok_or_else(|| invalid("no plain job_id"))?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no status"))?;
    let mut rep = match status {
        "queued" => PollReport::of(TaskState::Queued),
        "processing" => PollReport::of(TaskState::InProgress),
        "complete" => PollReport::of(TaskState::Completed),
        "failed" => PollReport::of(TaskState::Failed),
        "cancelled" => PollReport::of(TaskState::Cancelled),
        _ => return Err(invalid("a status word that is not Viggle's")),
    };
    let told = v
        .get("progress_pct")
        .and_then(Value::as_f64)
        .map(|p| p.clamp(0.0, 100.0).round() as u8);
    rep.progress = match rep.state {
        TaskState::Queued => Some(told.unwrap_or(0)),
        TaskState::Completed => Some(100),
        TaskState::InProgress | TaskState::Failed | TaskState::Cancelled | TaskState::Expired => {
            told
        }
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| r.redact(s).into_owned())
    };
    match rep.state {
        TaskState::Completed => {
            let url = v
                .get("cdn_url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("completed with no cdn_url"))?;
            rep.result = Some(VideoResult::Url(url.to_owned()));
        }
        TaskState::Failed => {
            rep.failure = Some(TaskFailure::new(
                text("error_code").unwrap_or_else(|| "render_failed".to_owned()),
                text("error_message").unwrap_or_else(|| "the render failed".to_owned()),
            ));
        }
        TaskState::Queued | TaskState::InProgress | TaskState::Cancelled | TaskState::Expired => {}
    }
    Ok((id.to_owned(), rep))
}
