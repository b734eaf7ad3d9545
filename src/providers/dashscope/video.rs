//! DashScope Wan as a [`VideoApi`]: `POST /api/v1/services/aigc/video-generation/
//! video-synthesis` (with `X-DashScope-Async: enable`), `GET /api/v1/tasks/{task_id}` and
//! `POST /api/v1/tasks/{task_id}/cancel` under the host root, Bearer key.
//!
//! Owns: the submit body `{model, input:{prompt, img_url?}, parameters:{...}}` (text to video:
//! `size` as `W*H`; image to video: `resolution` as `720P` from the size's short side;
//! `duration` rounded to the 5 or 10 s Wan offers; the client's `extra` merged over
//! `parameters`, its `input` object over `input`), the status words (`PENDING` queued,
//! `RUNNING` in progress, `SUCCEEDED` completed with `output.video_url` and `usage.duration`,
//! `FAILED` failed with `output.code`/`message`, `CANCELED` cancelled, `UNKNOWN`: the task is
//! gone upstream, failed as `task_unknown`) and the result's fetch (a CDN link: sent with no
//! key and no channel headers).
//! Must never: let `extra` replace the mapped `model`, send the key anywhere but the channel's
//! host, or put an upstream string into a [`TaskFailure`] unredacted. DashScope offers no
//! remix and no thumbnail variant.

use super::super::shared::{join, json_headers};
use super::super::video::{
    Content, ImageInput, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError,
    VideoResult, VideoSpec,
};
use super::super::video_common::{result_fetch, segment, with_bearer};
use super::super::Target;
use super::errors;
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};

const SUBMIT: &str = "api/v1/services/aigc/video-generation/video-synthesis";
const TASKS: &str = "api/v1/tasks";
const ASYNC: HeaderName = HeaderName::from_static("x-dashscope-async");

/// DashScope's video API.
pub(crate) struct Dashscope;

pub(crate) static DASHSCOPE: Dashscope = Dashscope;

impl VideoApi for Dashscope {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        let body = body(spec)?;
        let mut headers = with_bearer(json_headers(target.extra_headers), target);
        headers.insert(ASYNC, HeaderValue::from_static("enable"));
        Ok(UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, SUBMIT),
            headers,
            body: Bytes::from(body.to_string()).into(),
        })
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let output = output_of(body, redactor)?;
        let id = output
            .get("task_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| VideoError::Invalid("DashScope's task has no `task_id`".to_owned()))?;
        let report = match output.get("task_status") {
            Some(_) => Some(report(&output, None, redactor)?),
            None => None,
        };
        Ok(Submitted {
            upstream_id: id.to_owned(),
            upstream_ref: None,
            report,
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::GET,
            url: join(
                target.base_url,
                &format!("{TASKS}/{}", segment(task.upstream_id)),
            ),
            headers: with_bearer(target.extra_headers.clone(), target),
            body: Bytes::new().into(),
        }
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        let v = json_of(body, redactor)?;
        let output = v
            .get("output")
            .filter(|o| o.is_object())
            .ok_or_else(|| VideoError::Invalid("DashScope's answer has no `output`".to_owned()))?;
        report(output, v.get("usage"), redactor)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        // A signed CDN link: neither the key nor the channel's headers go to its host.
        result_fetch("DashScope", task, variant)
    }

    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        let path = format!("{TASKS}/{}/cancel", segment(task.upstream_id));
        Some(UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, &path),
            headers: with_bearer(target.extra_headers.clone(), target),
            body: Bytes::new().into(),
        })
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        errors::read(status, headers, body, redactor)
    }
}

/// The submit body.
fn body(spec: &VideoSpec) -> Result<Value, VideoError> {
    if spec.remix_of.is_some() {
        return Err(VideoError::Unsupported(
            "DashScope Wan cannot remix a video".to_owned(),
        ));
    }
    let mut input = Map::new();
    input.insert("prompt".into(), json!(spec.prompt));
    let mut parameters = Map::new();
    match &spec.image {
        Some(image) => {
            let url = match image {
                ImageInput::Url(url) => url.clone(),
                ImageInput::Bytes { mime, data } => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
                    format!("data:{mime};base64,{b64}")
                }
            };
            input.insert("img_url".into(), json!(url));
            if let Some(short) = spec.size.as_deref().and_then(short_side) {
                parameters.insert("resolution".into(), json!(format!("{short}P")));
            }
        }
        None => {
            if let Some(size) = &spec.size {
                parameters.insert("size".into(), json!(size.replace(['x', 'X'], "*")));
            }
        }
    }
    if let Some(s) = spec.seconds {
        parameters.insert("duration".into(), json!(if s <= 5 { 5 } else { 10 }));
    }
    for (k, v) in &spec.extra {
        match (k.as_str(), v) {
            ("model", _) => {}
            ("input", Value::Object(more)) => {
                input.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {
                parameters.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(json!({
        "model": spec.model,
        "input": input,
        "parameters": parameters,
    }))
}

/// The short side of `WIDTHxHEIGHT` (`1280x720` → 720).
fn short_side(size: &str) -> Option<u32> {
    let (w, h) = size.split_once(['x', 'X', '*'])?;
    Some(w.trim().parse::<u32>().ok()?.min(h.trim().parse().ok()?))
}

/// What a task's `output` (and the poll's `usage`) say.
fn report(output: &Value, usage: Option<&Value>, r: &Redactor) -> Result<PollReport, VideoError> {
    let word = output
        .get("task_status")
        .and_then(Value::as_str)
        .ok_or_else(|| VideoError::Invalid("DashScope's task has no `task_status`".to_owned()))?;
    let failed = |code: String, message: String| PollReport {
        failure: Some(TaskFailure::new(code, message)),
        ..PollReport::of(TaskState::Failed)
    };
    Ok(match word {
        "PENDING" => PollReport::of(TaskState::Queued),
        "RUNNING" => PollReport::of(TaskState::InProgress),
        "SUCCEEDED" => {
            let url = output
                .get("video_url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    VideoError::Invalid("DashScope's task succeeded without a `video_url`".into())
                })?;
            PollReport {
                progress: Some(100),
                result: Some(VideoResult::Url(url.to_owned())),
                seconds: usage.and_then(|u| seconds(u.get("duration"))),
                ..PollReport::of(TaskState::Completed)
            }
        }
        "FAILED" => {
            let (code, message) = errors::parts(output);
            failed(
                code.map_or_else(
                    || "generation_failed".to_owned(),
                    |c| r.redact(&c).into_owned(),
                ),
                errors::said(None, message.as_deref(), r)
                    .unwrap_or_else(|| "DashScope's video task failed".to_owned()),
            )
        }
        "CANCELED" => PollReport::of(TaskState::Cancelled),
        "UNKNOWN" => failed(
            "task_unknown".to_owned(),
            "DashScope no longer knows the task (it expired upstream)".to_owned(),
        ),
        _ => {
            return Err(VideoError::Invalid(
                "DashScope's task has an unknown `task_status`".to_owned(),
            ))
        }
    })
}

/// `usage.duration`: seconds as a number or a numeric string.
fn seconds(v: Option<&Value>) -> Option<f64> {
    let s = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (s.is_finite() && s >= 0.0).then_some(s)
}

/// A 2xx body as a JSON object; an error body (a `code` and no `output`) is a refusal.
fn json_of(body: &[u8], r: &Redactor) -> Result<Value, VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("DashScope's answer is not JSON".to_owned()))?;
    if !v.is_object() {
        return Err(VideoError::Invalid(
            "DashScope's answer is not a JSON object".to_owned(),
        ));
    }
    if v.get("output").is_none() && v.get("code").is_some_and(Value::is_string) {
        let fault = errors::read(StatusCode::OK, &HeaderMap::new(), body, r);
        return Err(VideoError::Refused(Box::new(fault)));
    }
    Ok(v)
}

/// The `output` of a 2xx body.
fn output_of(body: &[u8], r: &Redactor) -> Result<Value, VideoError> {
    match json_of(body, r)?.get_mut("output").map(Value::take) {
        Some(o @ Value::Object(_)) => Ok(o),
        _ => Err(VideoError::Invalid(
            "DashScope's answer has no `output`".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests;
