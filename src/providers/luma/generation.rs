//! Luma's create body and its Generation object read into a report.
//!
//! Owns: the body (`prompt`, `model`, `aspect_ratio` and `resolution` from `size`, `duration`
//! `"5s"` or `"9s"`, the image as `keyframes.frame0`, `callback_url`), the states (`queued`,
//! `dreaming`, `completed`, `failed`), `assets.video` and `failure_reason`.
//! Must never: keep an upstream string unredacted, or accept an id that is not one plain path
//! segment.

use super::super::video::{ImageInput, PollReport, VideoError, VideoResult, VideoSpec};
use super::super::video_common::{dimensions, plain_id};
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::Redactor;
use serde_json::{json, Map, Value};

/// Luma's aspect ratios, as width over height.
const RATIOS: [(&str, f64); 7] = [
    ("1:1", 1.0),
    ("16:9", 16.0 / 9.0),
    ("9:16", 9.0 / 16.0),
    ("4:3", 4.0 / 3.0),
    ("3:4", 3.0 / 4.0),
    ("21:9", 21.0 / 9.0),
    ("9:21", 9.0 / 21.0),
];

/// The nearest of Luma's ratios.
pub(super) fn aspect_ratio(w: u32, h: u32) -> &'static str {
    let r = f64::from(w) / f64::from(h.max(1));
    let mut best = RATIOS[0];
    for c in RATIOS {
        if (c.1.ln() - r.ln()).abs() < (best.1.ln() - r.ln()).abs() {
            best = c;
        }
    }
    best.0
}

/// The resolution whose short side the size's reaches.
pub(super) fn resolution(w: u32, h: u32) -> &'static str {
    match w.min(h) {
        0..=599 => "540p",
        600..=899 => "720p",
        900..=1599 => "1080p",
        _ => "4k",
    }
}

/// Luma's two lengths: up to 7 seconds is 5, more is 9.
pub(super) fn duration(seconds: u32) -> &'static str {
    if seconds <= 7 {
        "5s"
    } else {
        "9s"
    }
}

/// The create body; `extra` merged over it. Luma takes images as URLs only.
pub(super) fn body(spec: &VideoSpec) -> Result<Map<String, Value>, VideoError> {
    let mut m = Map::new();
    m.insert("prompt".into(), Value::String(spec.prompt.clone()));
    m.insert("model".into(), Value::String(spec.model.clone()));
    if let Some((w, h)) = spec.size.as_deref().and_then(dimensions) {
        m.insert("aspect_ratio".into(), json!(aspect_ratio(w, h)));
        m.insert("resolution".into(), json!(resolution(w, h)));
    }
    if let Some(s) = spec.seconds {
        m.insert("duration".into(), json!(duration(s)));
    }
    match &spec.image {
        Some(ImageInput::Url(url)) => {
            m.insert(
                "keyframes".into(),
                json!({"frame0": {"type": "image", "url": url}}),
            );
        }
        Some(ImageInput::Bytes { .. }) => {
            return Err(VideoError::Unsupported(
                "Luma takes an image as a URL only".to_owned(),
            ))
        }
        None => {}
    }
    if let Some(url) = &spec.callback_url {
        m.insert("callback_url".into(), Value::String(url.clone()));
    }
    for (k, v) in &spec.extra {
        m.insert(k.clone(), v.clone());
    }
    Ok(m)
}

/// A Generation's id and report.
pub(super) fn report(body: &[u8], r: &Redactor) -> Result<(String, PollReport), VideoError> {
    let invalid = |what: &str| VideoError::Invalid(format!("Luma's generation has {what}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not Luma's generation (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| plain_id(id))
        .ok_or_else(|| invalid("no plain id"))?;
    let state = v
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no state"))?;
    let mut rep = match state {
        "queued" => PollReport::of(TaskState::Queued),
        "dreaming" => PollReport::of(TaskState::InProgress),
        "completed" => PollReport::of(TaskState::Completed),
        "failed" => PollReport::of(TaskState::Failed),
        _ => return Err(invalid("a state that is not Luma's")),
    };
    rep.seconds = v
        .pointer("/request/duration")
        .and_then(Value::as_str)
        .and_then(|d| d.trim_end_matches('s').parse().ok());
    match rep.state {
        TaskState::Queued => rep.progress = Some(0),
        TaskState::Completed => {
            let url = v
                .pointer("/assets/video")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("completed with no video"))?;
            rep.progress = Some(100);
            rep.result = Some(VideoResult::Url(url.to_owned()));
        }
        TaskState::Failed => {
            let message = v
                .get("failure_reason")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map_or_else(
                    || "the video generation failed".to_owned(),
                    |m| r.redact(m).into_owned(),
                );
            rep.failure = Some(TaskFailure::new("generation_failed", message));
        }
        TaskState::InProgress | TaskState::Cancelled | TaskState::Expired => {}
    }
    Ok((id.to_owned(), rep))
}
