//! Kling (`api.klingai.com`): videos from text or an image, as async tasks, behind a JWT
//! signed from the channel's access and secret key (`key = "AK:SK"`).
//!
//! Owns: Kling's [`VideoApi`]: `POST /v1/videos/{text2video|image2video}` and
//! `GET /v1/videos/{action}/{task_id}` under the host root (`video`), the `{code, message,
//! data}` envelope and its code table (`errors`), the token and its cache (`jwt`), callbacks
//! (the task object posted to `callback_url`), and the native routes' shapes (`native`).
//! Kling offers no cancel and no remix.
//! Must never: do I/O, send a token to a result URL, or let a word of Kling's out unredacted.

mod errors;
mod jwt;
mod native;
mod video;

use super::shared::{join, json_headers};
use super::video::{
    Content, NativeShapes, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError, VideoSpec,
};
use super::video_common::result_fetch;
use super::Target;
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// Kling's video API, with the tokens it signed.
pub(crate) struct Kling {
    tokens: jwt::Tokens,
}

pub(crate) static KLING: Kling = Kling {
    tokens: jwt::Tokens::new(),
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Kling {
    /// The channel's headers with the JWT; none when the key is not `"AK:SK"` (Kling then
    /// answers 401 code 1001, a refused key).
    fn headers(&self, target: &Target<'_>, json: bool) -> HeaderMap {
        let mut h = if json {
            json_headers(target.extra_headers)
        } else {
            target.extra_headers.clone()
        };
        let token = self.tokens.bearer(target.key.expose(), now());
        if let Some(v) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
            h.insert(http::header::AUTHORIZATION, v);
        }
        h
    }
}

impl VideoApi for Kling {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        if spec.remix_of.is_some() {
            return Err(VideoError::Unsupported(
                "Kling offers no remix of a video".to_owned(),
            ));
        }
        let path = format!("v1/videos/{}", video::action_of(spec));
        let body = Value::Object(video::body(spec)).to_string();
        Ok(UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, &path),
            headers: self.headers(target, true),
            body: Bytes::from(body).into(),
        })
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let data = video::data_of(body, redactor)?;
        let (upstream_id, report) = video::report(&data, redactor)?;
        Ok(Submitted {
            upstream_id,
            // The route that made the task, which its polls must name.
            upstream_ref: video::action_in(&data).map(str::to_owned),
            report: Some(report),
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let action = video::stored_action(task.upstream_ref);
        let path = format!("v1/videos/{action}/{}", task.upstream_id);
        UpstreamRequest {
            method: Method::GET,
            url: join(target.base_url, &path),
            headers: self.headers(target, false),
            body: Bytes::new().into(),
        }
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        let data = video::data_of(body, redactor)?;
        Ok(video::report(&data, redactor)?.1)
    }

    fn content(
        &self,
        _target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        result_fetch("Kling", task, variant)
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
        errors::answer(status, headers, body, redactor)
    }

    fn takes_callback(&self) -> bool {
        true
    }

    /// The task object as a poll shows it (also accepted inside its envelope).
    fn read_callback(
        &self,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<(String, PollReport), VideoError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            VideoError::Invalid(format!(
                "not a Kling callback (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if v.get("task_id").is_some() {
            return video::report(&v, redactor);
        }
        let data = video::data_of(body, redactor)?;
        video::report(&data, redactor)
    }

    fn native(&self) -> Option<&dyn NativeShapes> {
        Some(&native::NATIVE)
    }
}

#[cfg(test)]
mod tests;
