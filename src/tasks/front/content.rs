//! A completed task's file: fetched from the upstream (its content route or its result URL)
//! and streamed to the client as it arrives, never held whole.
//!
//! Owns: the checks (completed, not expired, a known variant), the fetch under its deadlines
//! (the first byte, then `video.content_idle` between chunks), `Range` passed to the upstream
//! and its `206` with `content-range` passed back, and a provider's inline result (Veo's
//! base64 on Vertex AI) decoded within the response body limit.
//! Must never: buffer a fetched file, keep reading upstream for a client that left (the body
//! owns the upstream answer), or show the upstream's URL.

use super::create::video_error;
use super::Ctx;
use crate::error::RelayError;
use crate::providers::video::{video_api_for, Content, TaskRef, Variant};
use crate::relay::Record;
use crate::store::now_ms;
use crate::stream::raw::RawStream;
use crate::stream::Held;
use crate::tasks::{Task, TaskState};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use tokio::time::Instant;

/// The longest a content download may take in all.
const CONTENT_TOTAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The file of `task`'s `variant` (`video` when none is named), `range` passed through.
pub(crate) async fn content(
    cx: &Ctx<'_>,
    task: &Task,
    variant: Option<&str>,
    client_headers: &HeaderMap,
    slot: &mut Option<Record>,
) -> Result<Response, RelayError> {
    let Some(record) = slot.as_mut() else {
        return Err(RelayError::Internal);
    };
    let variant = match variant {
        None => Variant::Video,
        Some(v) => Variant::parse(v).ok_or_else(|| {
            RelayError::BadRequest(format!(
                "Invalid 'variant': `{}`; expected 'video', 'thumbnail' or 'spritesheet'.",
                crate::client_text::clip(v, 32)
            ))
        })?,
    };
    if task.state != TaskState::Completed {
        return Err(RelayError::BadRequest(format!(
            "Video '{}' is not ready: its status is {}.",
            task.id,
            task.state.as_str()
        )));
    }
    if task.expires_at.is_some_and(|t| t <= now_ms()) {
        return Err(RelayError::NotFound(format!(
            "Video '{}' has expired: its content is no longer available.",
            task.id
        )));
    }
    let state = cx.state;
    let api = video_api_for(task.provider).ok_or(RelayError::Internal)?;
    let ch = cx.channel_of(task)?;
    let target = ch.task_target(task.key_index as usize).ok_or_else(|| {
        RelayError::BadRequest("the video's channel no longer has its key".to_owned())
    })?;
    record.model = Some(task.model.clone());
    record.channel = Some(ch.name.clone());
    let started = Instant::now();
    let total = started + CONTENT_TOTAL;
    let first_byte = ch
        .timeouts
        .first_byte
        .unwrap_or(state.config.timeouts.first_byte);
    let access = state
        .credentials
        .access(ch.kind, target.key, &state.upstream, total)
        .await?;
    let mut target = target;
    target.access = access.as_deref();
    let tref = TaskRef {
        upstream_id: &task.upstream_id,
        upstream_ref: task.upstream_ref.as_deref(),
        model: &task.upstream_model,
        result_url: task.result_url.as_deref(),
    };
    let how = api.content(&target, &tref, variant).map_err(video_error)?;
    record.attempts = 1;
    record.upstream_sent();
    match how {
        Content::Fetch(mut request) => {
            if let Some(range) = client_headers.get(header::RANGE) {
                request.headers.insert(header::RANGE, range.clone());
            }
            let resp = state
                .upstream
                .send_within(request, ch.provider, total, first_byte)
                .await;
            record.upstream_answered();
            let resp = resp?;
            record.upstream_accepted();
            let status = resp.status();
            let mut headers = HeaderMap::new();
            for name in [
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CONTENT_RANGE,
                header::ACCEPT_RANGES,
            ] {
                if let Some(v) = resp.headers().get(&name) {
                    headers.insert(name, v.clone());
                }
            }
            headers
                .entry(header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static(default_type(variant)));
            record.status = status.as_u16();
            let Some(record) = slot.take() else {
                return Err(RelayError::Internal);
            };
            let held = Held {
                record,
                open: state.monitor.ledger().open_stream(),
                lease: None,
            };
            let upstream = http_body_util::BodyDataStream::new(resp.into_body()).boxed();
            let body = RawStream::new(upstream, state.config.video.content_idle, total, held);
            Ok((status, headers, Body::from_stream(body)).into_response())
        }
        Content::Decode { request, decode } => {
            let resp = state
                .upstream
                .send_within(request, ch.provider, total, first_byte)
                .await;
            record.upstream_answered();
            let body = state.upstream.read_body(resp?, total).await?;
            let (mime, bytes) = decode(&body).map_err(video_error)?;
            record.upstream_accepted();
            record.finish_ok();
            Ok(ranged(mime, bytes, client_headers.get(header::RANGE)))
        }
    }
}

fn default_type(variant: Variant) -> &'static str {
    match variant {
        Variant::Video => "video/mp4",
        Variant::Thumbnail => "image/webp",
        Variant::Spritesheet => "image/jpeg",
    }
}

/// A decoded file, whole or the one `bytes=a-b` range asked for.
fn ranged(mime: String, bytes: bytes::Bytes, range: Option<&HeaderValue>) -> Response {
    let len = bytes.len() as u64;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let asked = range
        .and_then(|r| r.to_str().ok())
        .and_then(|r| parse_range(r, len));
    match asked {
        Some((a, b)) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            let part = bytes.slice(a as usize..=b as usize);
            (StatusCode::PARTIAL_CONTENT, headers, part).into_response()
        }
        None => (StatusCode::OK, headers, bytes).into_response(),
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `len`, as inclusive offsets.
fn parse_range(text: &str, len: u64) -> Option<(u64, u64)> {
    let spec = text.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if len == 0 || spec.contains(',') {
        return None;
    }
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_http_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
