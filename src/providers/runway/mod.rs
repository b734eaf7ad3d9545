//! Runway (`api.dev.runwayml.com`): videos from text or an image as async tasks, Bearer auth
//! with the required `X-Runway-Version: 2024-11-06`.
//!
//! Owns: Runway's [`VideoApi`]: `POST /v1/{text_to_video|image_to_video}`,
//! `GET /v1/tasks/{id}`, `DELETE /v1/tasks/{id}` under the host root; the bodies and the task
//! object (`task`), its errors (`errors`) and the native routes' shapes (`native`). Runway
//! offers no remix and sends no callbacks.
//! Must never: do I/O, send credentials to a result URL, or let a word of Runway's out
//! unredacted.

mod errors;
mod native;
mod task;

use super::shared::{join, json_headers};
use super::video::{
    Content, NativeShapes, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError, VideoSpec,
};
use super::video_common::result_fetch;
use super::Target;
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// The API version every request names.
pub(super) const VERSION: &str = "2024-11-06";

pub(crate) struct Runway;

pub(crate) static RUNWAY: Runway = Runway;

fn request(
    target: &Target<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> UpstreamRequest {
    let mut headers = match body {
        Some(_) => json_headers(target.extra_headers),
        None => target.extra_headers.clone(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    headers.insert(
        HeaderName::from_static("x-runway-version"),
        HeaderValue::from_static(VERSION),
    );
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    UpstreamRequest {
        method,
        url: join(target.base_url, path),
        headers,
        body: body.into(),
    }
}

impl VideoApi for Runway {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        if spec.remix_of.is_some() {
            return Err(VideoError::Unsupported(
                "Runway offers no remix of a video".to_owned(),
            ));
        }
        let path = format!("v1/{}", task::action_of(spec));
        let body = Value::Object(task::body(spec));
        Ok(request(target, Method::POST, &path, Some(body)))
    }

    fn read_submit(&self, body: &[u8], _redactor: &Redactor) -> Result<Submitted, VideoError> {
        Ok(Submitted {
            upstream_id: task::created_id(body)?,
            upstream_ref: None,
            report: None,
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let path = format!("v1/tasks/{}", task.upstream_id);
        request(target, Method::GET, &path, None)
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        task::report(body, redactor)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        result_fetch("Runway", task, variant)
    }

    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        let path = format!("v1/tasks/{}", task.upstream_id);
        Some(request(target, Method::DELETE, &path, None))
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        errors::answer(status, headers, body, redactor)
    }

    fn min_poll_interval(&self) -> Duration {
        // Runway asks for polls at least 5 s apart.
        Duration::from_secs(5)
    }

    fn native(&self) -> Option<&dyn NativeShapes> {
        Some(&native::NATIVE)
    }
}

#[cfg(test)]
mod tests;
