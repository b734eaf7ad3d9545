//! Viggle (API v2, `apis.viggle.ai`): a character animated from a reference image and a
//! driving video (or a stored character and scene), as render jobs, Bearer auth.
//!
//! Owns: Viggle's [`VideoApi`]: multipart `POST /api/render`, `GET` and `DELETE
//! /api/render/{job_id}` under the host root; the form and the job object (`render`), its
//! errors (`errors`). The legacy
//! `Access-Token` API, remix and callbacks are not offered. Viggle takes no prompt: what to
//! render comes from `extra` (new-api's `metadata`).
//! Must never: do I/O, send credentials to a result URL, or let a word of Viggle's out
//! unredacted.

mod errors;
mod render;

use super::shared::join;
use super::video::{
    Content, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError, VideoSpec,
};
use super::video_common::result_fetch;
use super::Target;
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::time::Duration;

const RENDER: &str = "api/render";

pub(crate) struct Viggle;

pub(crate) static VIGGLE: Viggle = Viggle;

fn headers(target: &Target<'_>) -> HeaderMap {
    let mut h = target.extra_headers.clone();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
        h.insert(http::header::AUTHORIZATION, v);
    }
    h
}

fn job(target: &Target<'_>, method: Method, task: &TaskRef<'_>) -> UpstreamRequest {
    UpstreamRequest {
        method,
        url: join(target.base_url, &format!("{RENDER}/{}", task.upstream_id)),
        headers: headers(target),
        body: Bytes::new().into(),
    }
}

impl VideoApi for Viggle {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        if spec.remix_of.is_some() {
            return Err(VideoError::Unsupported(
                "Viggle offers no remix of a video".to_owned(),
            ));
        }
        let (ct, body) = render::form(spec)?;
        let mut headers = headers(target);
        headers.insert(http::header::CONTENT_TYPE, ct);
        Ok(UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, RENDER),
            headers,
            body: body.into(),
        })
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let (upstream_id, report) = render::report(body, redactor)?;
        Ok(Submitted {
            upstream_id,
            upstream_ref: None,
            report: Some(report),
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        job(target, Method::GET, task)
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        Ok(render::report(body, redactor)?.1)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        result_fetch("Viggle", task, variant)
    }

    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        Some(job(target, Method::DELETE, task))
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
        // Viggle suggests polling every 3-5 s.
        Duration::from_secs(3)
    }
}

#[cfg(test)]
mod tests;
