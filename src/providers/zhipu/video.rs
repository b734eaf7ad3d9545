//! Zhipu CogVideoX as a [`VideoApi`]: `POST /api/paas/v4/videos/generations` and
//! `GET /api/paas/v4/async-result/{id}` under the host root, Bearer key.
//!
//! Owns: the submit body (`model`, `prompt`, `image_url` as a URL or a `data:` URL of the bytes,
//! `size` as `WIDTHxHEIGHT`, `duration` rounded to the 5 or 10 s Zhipu offers, and the client's
//! `extra` merged over them: `quality`, `with_audio`, `fps`...), the status words
//! (`PROCESSING` in progress, `SUCCESS` completed with `video_result[0].url`, `FAIL` failed),
//! and the result's fetch (a CDN link: sent with no key and no channel headers).
//! Must never: let `extra` replace the mapped `model`, send the key anywhere but the channel's
//! host, or put an upstream string into a [`TaskFailure`] unredacted. Zhipu offers no cancel,
//! no remix and no thumbnail variant.

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
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};

const SUBMIT: &str = "api/paas/v4/videos/generations";
const RESULT: &str = "api/paas/v4/async-result";

/// Zhipu's video API.
pub(crate) struct Zhipu;

pub(crate) static ZHIPU: Zhipu = Zhipu;

impl VideoApi for Zhipu {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        let body = body(spec)?;
        Ok(UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, SUBMIT),
            headers: with_bearer(json_headers(target.extra_headers), target),
            body: Bytes::from(body.to_string()).into(),
        })
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let v = json_of(body, redactor)?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| VideoError::Invalid("Zhipu's task has no `id`".to_owned()))?;
        let report = match v.get("task_status") {
            Some(_) => Some(report(&v, redactor)?),
            None => None,
        };
        Ok(Submitted {
            upstream_id: id.to_owned(),
            upstream_ref: None,
            report,
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let path = format!("{RESULT}/{}", segment(task.upstream_id));
        UpstreamRequest {
            method: Method::GET,
            url: join(target.base_url, &path),
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
        report(&json_of(body, redactor)?, redactor)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        // A signed CDN link: neither the key nor the channel's headers go to its host.
        result_fetch("Zhipu", task, variant)
    }

    fn cancel(&self, _target: &Target<'_>, _task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        None
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
            "Zhipu CogVideoX cannot remix a video".to_owned(),
        ));
    }
    let mut b = Map::new();
    b.insert("model".into(), json!(spec.model));
    b.insert("prompt".into(), json!(spec.prompt));
    if let Some(size) = &spec.size {
        b.insert("size".into(), json!(size));
    }
    if let Some(s) = spec.seconds {
        b.insert("duration".into(), json!(if s <= 5 { 5 } else { 10 }));
    }
    match &spec.image {
        Some(ImageInput::Url(url)) => {
            b.insert("image_url".into(), json!(url));
        }
        Some(ImageInput::Bytes { mime, data }) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            b.insert(
                "image_url".into(),
                json!(format!("data:{mime};base64,{b64}")),
            );
        }
        None => {}
    }
    for (k, v) in &spec.extra {
        if k != "model" {
            b.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(b))
}

/// What a task's body says (a submit's or a poll's).
fn report(v: &Value, r: &Redactor) -> Result<PollReport, VideoError> {
    let word = v
        .get("task_status")
        .and_then(Value::as_str)
        .ok_or_else(|| VideoError::Invalid("Zhipu's task has no `task_status`".to_owned()))?;
    match word {
        "PROCESSING" => Ok(PollReport::of(TaskState::InProgress)),
        "SUCCESS" => {
            let url = v
                .pointer("/video_result/0/url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    VideoError::Invalid("Zhipu's task succeeded without a video URL".to_owned())
                })?;
            Ok(PollReport {
                progress: Some(100),
                result: Some(VideoResult::Url(url.to_owned())),
                ..PollReport::of(TaskState::Completed)
            })
        }
        "FAIL" => {
            // Zhipu documents no reason for a failed task; an `error` envelope is read if there.
            let (code, message) = errors::parts(v);
            let failure = TaskFailure::new(
                code.map_or_else(
                    || "generation_failed".to_owned(),
                    |c| r.redact(&c).into_owned(),
                ),
                errors::said(None, message.as_deref(), r)
                    .unwrap_or_else(|| "Zhipu's video task failed".to_owned()),
            );
            Ok(PollReport {
                failure: Some(failure),
                ..PollReport::of(TaskState::Failed)
            })
        }
        _ => Err(VideoError::Invalid(
            "Zhipu's task has an unknown `task_status`".to_owned(),
        )),
    }
}

/// A 2xx body as JSON; an error envelope in it is a refusal.
fn json_of(body: &[u8], r: &Redactor) -> Result<Value, VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("Zhipu's answer is not JSON".to_owned()))?;
    if !v.is_object() {
        return Err(VideoError::Invalid(
            "Zhipu's answer is not a JSON object".to_owned(),
        ));
    }
    // A failed task may carry its reason in the same envelope: only a body that is no task
    // is a refusal.
    if v.get("error").is_some_and(Value::is_object) && v.get("task_status").is_none() {
        let fault = errors::read(StatusCode::OK, &HeaderMap::new(), body, r);
        return Err(VideoError::Refused(Box::new(fault)));
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
