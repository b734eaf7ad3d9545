//! What every provider's video handlers share: the bearer key, the task faults of a create,
//! creating (counted, callbacks scheduled, a full book refused) and polling (counted) a
//! task, result URLs, malformed poll bodies, times.
//! Owns the handler plumbing; must never know one provider's words.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Response;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};

use super::faults::{gather, TaskFaults};
use super::task::{NewTask, Task};
use crate::errors::ApiError;
use crate::faults::select::ChosenFaults;
use crate::gen::ids::rfc3339;
use crate::http::reply::{Payload, SimReply};
use crate::state::Ctx;
use crate::stats::VideoEvent;

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// RFC 3339 with milliseconds (`2025-01-02T03:04:05.678Z`) of a Unix ms time.
pub(crate) fn iso_ms(ms: u64) -> String {
    let s = rfc3339(ms / 1000);
    format!("{}.{:03}Z", s.trim_end_matches('Z'), ms % 1000)
}

/// The bearer token of `Authorization`, if any (trimmed, non-empty).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The task faults of a create: the layer's choice (in the request's extensions) and the
/// markers in `texts`; a bad marker is the provider's 400.
pub(crate) fn task_faults(
    chosen: Option<&ChosenFaults>,
    texts: &[&str],
) -> Result<TaskFaults, ApiError> {
    gather(chosen, texts).map_err(|e| ApiError::invalid(format!("bad [sim:...] marker: {e}")))
}

/// Creates the task: counted, its faults counted, its callbacks scheduled; a full book is
/// the provider's 429.
pub(crate) fn create(ctx: &Ctx, new: NewTask) -> Result<(Arc<str>, Task), ApiError> {
    let video = &ctx.shared.video;
    let (id, task) = video.book.create(new).map_err(|_| {
        ApiError::for_status(ctx.provider, StatusCode::TOO_MANY_REQUESTS).with_retry_after(Some(1))
    })?;
    let stats = &ctx.shared.stats;
    stats.video(ctx.provider, VideoEvent::Created);
    for kind in task.faults.kinds() {
        stats.fault(kind);
    }
    if task.callback.is_some() {
        video.schedule(ctx.provider, id.clone(), &ctx.shared.stats);
    }
    Ok((id, task))
}

/// The task `id` of this provider, for a poll (counted whether found or not).
pub(crate) fn poll(ctx: &Ctx, id: &str) -> Option<Task> {
    ctx.shared.stats.video(ctx.provider, VideoEvent::Polled);
    ctx.shared.video.book.get(ctx.provider, id)
}

/// Counts one result download.
pub(crate) fn downloaded(ctx: &Ctx) {
    ctx.shared.stats.video(ctx.provider, VideoEvent::Downloaded);
}

/// The CDN-style URL of a task's video under this provider's prefix.
pub(crate) fn file_url(ctx: &Ctx, id: &str) -> String {
    format!(
        "{}{}/sim-files/video-{id}.mp4",
        ctx.shared.video.base,
        ctx.provider.path_prefix()
    )
}

/// The CDN-style URL of a task's cover image (a JPEG) under this provider's prefix.
pub(crate) fn cover_url(ctx: &Ctx, id: &str) -> String {
    format!(
        "{}{}/sim-files/cover-{id}.jpg",
        ctx.shared.video.base,
        ctx.provider.path_prefix()
    )
}

/// With `poll-malformed`, the reply's JSON cut in half (status kept): not JSON.
pub(crate) fn maybe_malformed(task: &Task, reply: SimReply) -> SimReply {
    if !task.faults.poll_malformed {
        return reply;
    }
    match reply.payload {
        Payload::Json(b) => SimReply {
            payload: Payload::Json(Bytes::copy_from_slice(&b[..b.len() / 2])),
            ..reply
        },
        other => SimReply {
            payload: other,
            ..reply
        },
    }
}

/// Turns a handler's result into the response with the provider's headers.
pub(crate) fn respond(ctx: &Ctx, result: Result<SimReply, ApiError>) -> Response {
    crate::headers::respond(
        ctx.provider,
        &ctx.shared.ids,
        std::time::Instant::now(),
        result,
    )
}

/// The request's chosen faults, if the layer chose any.
pub(crate) fn chosen(ext: &http::Extensions) -> Option<&ChosenFaults> {
    ext.get::<ChosenFaults>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_keys() {
        assert_eq!(iso_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer  key_1 ".parse().unwrap());
        assert_eq!(bearer(&h), Some("key_1"));
    }
}
