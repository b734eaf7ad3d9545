//! Veo on the Gemini API as a [`VideoApi`], and the Veo words Vertex AI shares
//! (`vertex/video.rs`).
//!
//! Owns: the `predictLongRunning` body (`instances:[{prompt, image?:{bytesBase64Encoded,
//! mimeType}}]`, `parameters:{durationSeconds, aspectRatio, resolution}` from the neutral spec:
//! seconds clamped to Veo's 4-8, `16:9` or `9:16` by the size's orientation, `1080p` when its
//! short side is 1080 or more, else `720p`; the client's `extra` merged over `parameters`), the
//! operation's name (`models/{veo}/operations/{id}`: the id is the task's upstream id, the whole
//! name its `upstream_ref`), polled with `GET {base}/{name}`, and the operation's reading:
//! not `done` is in progress (Veo says no progress), an `error` failed, `generatedSamples[0]
//! .video.uri` completed, no samples with `raiMediaFilteredCount > 0` failed as
//! `content_filtered` with the filter's reasons.
//! The result: the sample's `uri` is kept as the task's result URL ([`VideoResult::Url`]), and
//! [`VideoApi::content`] fetches it with the key (`x-goog-api-key`) when it is on the channel's
//! own origin, as Google serves it (`{base}/files/{id}:download?alt=media`), and without the
//! key (or any channel header) anywhere else. A sample with the bytes inline (`encodedVideo`)
//! is [`VideoResult::Upstream`]: its content re-reads the operation and decodes them.
//! Must never: send the key to another origin than the channel's, put an upstream string into
//! a [`TaskFailure`] unredacted, or let a stored operation name reach another path (each
//! segment is escaped, dot segments dropped). Veo offers no remix, no cancel and no thumbnail
//! variant here; a first frame must be bytes (the Gemini API fetches no image URL).

use super::super::shared::{join, scalar};
use super::super::video::{
    Content, ImageInput, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError,
    VideoResult, VideoSpec,
};
use super::super::Target;
use super::errors;
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::{bounded, UpstreamFault};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};

const API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// Veo on the Gemini API.
pub(crate) struct GeminiVeo;

pub(crate) static GEMINI_VEO: GeminiVeo = GeminiVeo;

impl VideoApi for GeminiVeo {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        let body = body(spec, |_| {
            Err(VideoError::Unsupported(
                "Veo on the Gemini API takes the first frame as bytes, not a URL".to_owned(),
            ))
        })?;
        let body = Bytes::from(body.to_string());
        Ok(super::request::build(
            target,
            crate::wire::Endpoint::Videos,
            &spec.model,
            false,
            body,
        ))
    }

    fn read_submit(&self, body: &[u8], _redactor: &Redactor) -> Result<Submitted, VideoError> {
        submitted(body)
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let name = match task.upstream_ref {
            Some(name) => name.to_owned(),
            None => format!("models/{}/operations/{}", task.model, task.upstream_id),
        };
        UpstreamRequest {
            method: Method::GET,
            url: join(target.base_url, &name_path(&name)),
            headers: with_key(target.extra_headers.clone(), target),
            body: Bytes::new().into(),
        }
    }

    fn read_poll(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        operation(body, redactor, |response| {
            let found = response
                .get("generateVideoResponse")
                .unwrap_or(&Value::Null);
            let video = found.pointer("/generatedSamples/0/video");
            let result = match video {
                Some(v) => match (v.get("uri").and_then(Value::as_str), v.get("encodedVideo")) {
                    (Some(uri), _) if !uri.is_empty() => Some(VideoResult::Url(uri.to_owned())),
                    (_, Some(Value::String(b))) if !b.is_empty() => Some(VideoResult::Upstream),
                    _ => {
                        return Err(VideoError::Invalid(
                            "Veo's sample has neither a `uri` nor its bytes".to_owned(),
                        ))
                    }
                },
                None => None,
            };
            Ok((result, found))
        })
    }

    fn content(
        &self,
        target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        only_video(variant)?;
        let Some(uri) = task.result_url else {
            // The bytes were inline: the operation is read again and its sample decoded.
            return Ok(Content::Decode {
                request: self.poll(target, task),
                decode: decode_sample,
            });
        };
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Err(VideoError::Invalid(
                "Veo's result is not an HTTP URL".to_owned(),
            ));
        }
        let headers = if same_origin(uri, target.base_url) {
            with_key(target.extra_headers.clone(), target)
        } else {
            HeaderMap::new()
        };
        Ok(Content::Fetch(UpstreamRequest {
            method: Method::GET,
            url: uri.to_owned(),
            headers,
            body: Bytes::new().into(),
        }))
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
        errors::read(Some(status), headers, body, redactor)
    }
}

/// The `predictLongRunning` body; `url_image` says what a first frame given as a URL becomes
/// (Vertex AI takes a `gs://` one; the Gemini API none).
pub(crate) fn body(
    spec: &VideoSpec,
    url_image: impl Fn(&str) -> Result<Value, VideoError>,
) -> Result<Value, VideoError> {
    if spec.remix_of.is_some() {
        return Err(VideoError::Unsupported(
            "Veo cannot remix a video".to_owned(),
        ));
    }
    let mut instance = Map::new();
    instance.insert("prompt".into(), json!(spec.prompt));
    match &spec.image {
        Some(ImageInput::Url(url)) => {
            instance.insert("image".into(), url_image(url)?);
        }
        Some(ImageInput::Bytes { mime, data }) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            instance.insert(
                "image".into(),
                json!({"bytesBase64Encoded": b64, "mimeType": mime}),
            );
        }
        None => {}
    }
    let mut parameters = Map::new();
    if let Some(s) = spec.seconds {
        parameters.insert("durationSeconds".into(), json!(s.clamp(4, 8)));
    }
    if let Some((w, h)) = spec.size.as_deref().and_then(dimensions) {
        let ratio = if w >= h { "16:9" } else { "9:16" };
        let resolution = if w.min(h) >= 1080 { "1080p" } else { "720p" };
        parameters.insert("aspectRatio".into(), json!(ratio));
        parameters.insert("resolution".into(), json!(resolution));
    }
    parameters.extend(spec.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(json!({"instances": [instance], "parameters": parameters}))
}

/// `WIDTHxHEIGHT` as numbers.
fn dimensions(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once(['x', 'X', '*'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// The answer to `predictLongRunning`: `{"name": ".../operations/{id}"}`.
pub(crate) fn submitted(body: &[u8]) -> Result<Submitted, VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("Veo's answer is not JSON".to_owned()))?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| VideoError::Invalid("Veo's operation has no `name`".to_owned()))?;
    let id = name
        .rsplit_once("/operations/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| VideoError::Invalid("Veo's operation name names no operation".to_owned()))?;
    Ok(Submitted {
        upstream_id: id.to_owned(),
        upstream_ref: Some(name.to_owned()),
        report: None,
    })
}

/// What an operation says. `result_of` reads the provider's `response`: the result of its
/// first video, if any, and the object that holds the safety filter's counts.
pub(crate) fn operation(
    body: &[u8],
    r: &Redactor,
    result_of: impl for<'v> Fn(&'v Value) -> Result<(Option<VideoResult>, &'v Value), VideoError>,
) -> Result<PollReport, VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("Veo's operation is not JSON".to_owned()))?;
    if !v.is_object() {
        return Err(VideoError::Invalid(
            "Veo's operation is not a JSON object".to_owned(),
        ));
    }
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        let code = scalar(e.get("status"))
            .or_else(|| scalar(e.get("code")))
            .map_or_else(
                || "generation_failed".to_owned(),
                |c| r.redact(&c).into_owned(),
            );
        let message = scalar(e.get("message"))
            .map_or_else(|| "Veo's operation failed".to_owned(), |m| redacted(&m, r));
        return Ok(failed(code, message));
    }
    let done = match v.get("done") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(VideoError::Invalid(
                "Veo's operation has a `done` that is not a boolean".to_owned(),
            ))
        }
    };
    if !done {
        return Ok(PollReport::of(TaskState::InProgress));
    }
    let response = v.get("response").unwrap_or(&Value::Null);
    let (result, filter) = result_of(response)?;
    if let Some(result) = result {
        return Ok(PollReport {
            progress: Some(100),
            result: Some(result),
            ..PollReport::of(TaskState::Completed)
        });
    }
    let filtered = filter
        .get("raiMediaFilteredCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if filtered > 0 {
        let reasons: Vec<&str> = filter
            .get("raiMediaFilteredReasons")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let message = if reasons.is_empty() {
            "Veo's safety filters withheld the video".to_owned()
        } else {
            redacted(&reasons.join("; "), r)
        };
        return Ok(failed("content_filtered".to_owned(), message));
    }
    Ok(failed(
        "no_video".to_owned(),
        "Veo's operation ended without a video".to_owned(),
    ))
}

/// A failed report.
fn failed(code: String, message: String) -> PollReport {
    PollReport {
        failure: Some(TaskFailure::new(code, message)),
        ..PollReport::of(TaskState::Failed)
    }
}

/// An upstream text, redacted then bounded (a cut must not leave a secret's head unmatched).
fn redacted(text: &str, r: &Redactor) -> String {
    bounded(r.redact(text).into_owned())
}

/// Only the video itself is offered.
pub(crate) fn only_video(variant: Variant) -> Result<(), VideoError> {
    match variant {
        Variant::Video => Ok(()),
        Variant::Thumbnail | Variant::Spritesheet => Err(VideoError::Unsupported(format!(
            "Veo makes no `{}` variant",
            variant.as_str()
        ))),
    }
}

/// Base64 bytes of a video as `(content type, bytes)`: the type if it is a video's, else mp4.
pub(crate) fn decode_b64(b64: &str, mime: Option<&str>) -> Result<(String, Bytes), VideoError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| VideoError::Invalid("Veo's video bytes are not base64".to_owned()))?;
    let mime = mime
        .filter(|m| m.starts_with("video/") && HeaderValue::from_str(m).is_ok())
        .unwrap_or("video/mp4");
    Ok((mime.to_owned(), Bytes::from(bytes)))
}

/// A Gemini API operation's first sample, its bytes inline (`video.encodedVideo`).
fn decode_sample(body: &[u8]) -> Result<(String, Bytes), VideoError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| VideoError::Invalid("Veo's operation is not JSON".to_owned()))?;
    let video = v
        .pointer("/response/generateVideoResponse/generatedSamples/0/video")
        .unwrap_or(&Value::Null);
    let b64 = video
        .get("encodedVideo")
        .and_then(Value::as_str)
        .ok_or_else(|| VideoError::Invalid("Veo's operation holds no video bytes".to_owned()))?;
    decode_b64(b64, video.get("encoding").and_then(Value::as_str))
}

/// An operation name as a path: each segment escaped, empty and dot segments dropped.
pub(crate) fn name_path(name: &str) -> String {
    name.split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(escape)
        .collect::<Vec<_>>()
        .join("/")
}

/// One path segment: characters outside the unreserved set percent-encoded.
pub(crate) fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `headers` with the channel's key (a key that is no header value is left out: Google
/// refuses the request).
fn with_key(mut headers: HeaderMap, target: &Target<'_>) -> HeaderMap {
    if let Ok(v) = HeaderValue::from_str(target.key.expose()) {
        headers.insert(API_KEY, v);
    }
    headers
}

/// Whether `url` is on the same origin (scheme, host, port) as the channel's `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
