//! Veo on Vertex AI as a [`VideoApi`]: the Gemini API's Veo body under the project's publisher
//! path, with the access token as a bearer.
//!
//! Owns: the requests (`POST {root}/models/{veo}:predictLongRunning`, and the poll
//! `POST {root}/models/{veo}:fetchPredictOperation` with `{"operationName": name}`, `{root}`
//! being `{base}/projects/{p}/locations/{l}/publishers/google`), a first frame given as a
//! `gs://` URL (`image:{gcsUri, mimeType}`), and Vertex's `response`: `videos[0]` with
//! `bytesBase64Encoded` is completed as [`VideoResult::Upstream`] (its content re-reads the
//! operation and decodes the bytes: [`Content::Decode`]), with `gcsUri` completed as that URI
//! (whose content is refused: the relay holds no Cloud Storage credentials), no videos with
//! `raiMediaFilteredCount > 0` failed as `content_filtered`. The operation's words otherwise
//! are Gemini's (`gemini/video.rs`), its errors Vertex's text side's.
//! Must never: send a request without the token it was given (no token: it goes without, and
//! Vertex refuses it), or decode the bytes while polling (a poll only sees that they are
//! there; the poll's body limit must allow for them). No remix, cancel or thumbnail variant.

use super::super::gemini::{request, video as veo};
use super::super::shared::{join, json_headers};
use super::super::video::{
    Content, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError, VideoResult, VideoSpec,
};
use super::super::{Provider, Target};
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::{Endpoint, UpstreamFault};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

/// Veo on Vertex AI.
pub(crate) struct VertexVeo;

pub(crate) static VERTEX_VEO: VertexVeo = VertexVeo;

impl VideoApi for VertexVeo {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        let body = veo::body(spec, gcs_image)?;
        Ok(request::at(
            target,
            &root(target),
            Endpoint::Videos,
            &spec.model,
            false,
            auth(target),
            Bytes::from(body.to_string()),
        ))
    }

    fn read_submit(&self, body: &[u8], _redactor: &Redactor) -> Result<Submitted, VideoError> {
        veo::submitted(body)
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let root = root(target);
        let name = match task.upstream_ref {
            Some(name) => name.to_owned(),
            None => format!(
                "{}/models/{}/operations/{}",
                root_path(target),
                task.model,
                task.upstream_id
            ),
        };
        let mut headers = json_headers(target.extra_headers);
        if let Some((n, v)) = auth(target) {
            headers.insert(n, v);
        }
        let path = format!("models/{}:fetchPredictOperation", veo::escape(task.model));
        UpstreamRequest {
            method: Method::POST,
            url: join(&root, &path),
            headers,
            body: Bytes::from(json!({ "operationName": name }).to_string()).into(),
        }
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        veo::operation(body, redactor, |response| {
            let result = match response.pointer("/videos/0") {
                Some(v) => Some(result_of(v)?),
                None => None,
            };
            Ok((result, response))
        })
    }

    fn content(
        &self,
        target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        veo::only_video(variant)?;
        match task.result_url {
            None => Ok(Content::Decode {
                request: self.poll(target, task),
                decode: decode_video,
            }),
            Some(uri) if uri.starts_with("gs://") => Err(VideoError::Unsupported(
                "the video is in Cloud Storage (a gs:// URI, from parameters.storageUri): the \
                 relay has no Cloud Storage credentials to fetch it"
                    .to_owned(),
            )),
            Some(_) => Err(VideoError::Unsupported(
                "Vertex AI's video is not at a URI the relay can fetch".to_owned(),
            )),
        }
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
        super::Vertex.fault(status, headers, body, redactor)
    }
}

/// `projects/{p}/locations/{l}/publishers/google`, each segment cleaned.
fn root_path(target: &Target<'_>) -> String {
    let c = target.channel;
    format!(
        "projects/{}/locations/{}/publishers/google",
        super::segment(c.project.as_deref().unwrap_or("")),
        super::segment(c.location.as_deref().unwrap_or("")),
    )
}

/// The publisher root under the channel's base.
fn root(target: &Target<'_>) -> String {
    join(target.base_url, &root_path(target))
}

/// The access token as a bearer, when there is one.
fn auth(target: &Target<'_>) -> Option<(http::HeaderName, HeaderValue)> {
    target
        .access
        .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        .map(|v| (http::header::AUTHORIZATION, v))
}

/// A first frame given as a URL: Vertex AI reads `gs://` ones itself.
fn gcs_image(url: &str) -> Result<Value, VideoError> {
    if !url.starts_with("gs://") {
        return Err(VideoError::Unsupported(
            "Veo on Vertex AI takes a first frame as bytes or a gs:// URI".to_owned(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let mime = if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else {
        "image/png"
    };
    Ok(json!({"gcsUri": url, "mimeType": mime}))
}

/// A video of `response.videos[]`: its bytes inline, or a Cloud Storage URI.
fn result_of(video: &Value) -> Result<VideoResult, VideoError> {
    match (
        video.get("bytesBase64Encoded").and_then(Value::as_str),
        video.get("gcsUri").and_then(Value::as_str),
    ) {
        (Some(b), _) if !b.is_empty() => Ok(VideoResult::Upstream),
        (_, Some(uri)) if !uri.is_empty() => Ok(VideoResult::Url(uri.to_owned())),
        _ => Err(VideoError::Invalid(
            "Vertex AI's video has neither its bytes nor a gcsUri".to_owned(),
        )),
    }
}

/// A fetched operation's first video as `(content type, bytes)`.
fn decode_video(body: &[u8]) -> Result<(String, Bytes), VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("Vertex AI's operation is not JSON".to_owned()))?;
    let video = v.pointer("/response/videos/0").unwrap_or(&Value::Null);
    let b64 = video
        .get("bytesBase64Encoded")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            VideoError::Invalid("Vertex AI's operation holds no video bytes".to_owned())
        })?;
    veo::decode_b64(b64, video.get("mimeType").and_then(Value::as_str))
}

#[cfg(test)]
mod tests;
