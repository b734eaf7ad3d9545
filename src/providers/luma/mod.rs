//! Luma Dream Machine (`api.lumalabs.ai`): videos as Generations, Bearer auth, callbacks.
//!
//! Owns: Luma's [`VideoApi`]: `POST /dream-machine/v1/generations` (201 with the Generation),
//! `GET` and `DELETE /dream-machine/v1/generations/{id}` under the host root; the body and the
//! Generation (`generation`), its errors (`errors`); `callback_url`, where Luma posts the
//! Generation on each state change. Luma offers no remix and no native routes here.
//! Must never: do I/O, send credentials to a result URL, or let a word of Luma's out
//! unredacted.

mod errors;
mod generation;

use super::shared::{join, json_headers};
use super::video::{
    Content, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError, VideoSpec,
};
use super::video_common::result_fetch;
use super::Target;
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

const GENERATIONS: &str = "dream-machine/v1/generations";

pub(crate) struct Luma;

pub(crate) static LUMA: Luma = Luma;

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
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    UpstreamRequest {
        method,
        url: join(target.base_url, path),
        headers,
        body: body.into(),
    }
}

impl VideoApi for Luma {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        if spec.remix_of.is_some() {
            return Err(VideoError::Unsupported(
                "Luma offers no remix of a video".to_owned(),
            ));
        }
        let body = Value::Object(generation::body(spec)?);
        Ok(request(target, Method::POST, GENERATIONS, Some(body)))
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let (upstream_id, report) = generation::report(body, redactor)?;
        Ok(Submitted {
            upstream_id,
            upstream_ref: None,
            report: Some(report),
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let path = format!("{GENERATIONS}/{}", task.upstream_id);
        request(target, Method::GET, &path, None)
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        Ok(generation::report(body, redactor)?.1)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        result_fetch("Luma", task, variant)
    }

    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        let path = format!("{GENERATIONS}/{}", task.upstream_id);
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

    fn takes_callback(&self) -> bool {
        true
    }

    fn read_callback(
        &self,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<(String, PollReport), VideoError> {
        generation::report(body, redactor)
    }
}

#[cfg(test)]
mod tests;
