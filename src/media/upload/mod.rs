//! A multipart upload (`/v1/images/edits`, `/variations`, `/v1/audio/transcriptions`,
//! `/translations`) streamed to the upstream as the client sends it.
//!
//! Owns: reading the client's body until its `model` part (the parts before it held in memory
//! up to `upload_memory`, then spooled to a temporary file, bounded by the family's `max_body`),
//! the body of each attempt (the parts read so far, the `model` part naming the upstream's
//! model, then the rest live from the client), the size bound and the client's body deadlines
//! while the rest streams, and telling a client's fault (a stall, a hang-up, too many bytes)
//! from the upstream's.
//! Must never: hold the file in memory, send the live rest twice (a second attempt is only
//! possible while no attempt has taken it), or keep a spool past the request.

use crate::error::RelayError;
use crate::upstream::RequestBody;
use axum::body::Body;
use http::{HeaderMap, HeaderValue};
use std::path::PathBuf;
use std::time::Duration;

/// The bounds of one upload.
#[expect(dead_code, reason = "read by the streaming reader, next")]
#[derive(Clone, Debug)]
pub(crate) struct UploadLimits {
    /// The whole body's largest size (the family's `max_body`).
    pub max_body: usize,
    /// Bytes held in memory before the `model` part; past it, spooled to disk.
    pub memory: usize,
    pub spool_dir: Option<PathBuf>,
    /// Longest wait for the next piece of the client's body.
    pub idle: Duration,
    /// The whole body, however steadily it trickles.
    pub total: Duration,
}

/// A client's upload, read up to its `model` part.
pub(crate) struct Upload {
    model: String,
    stream: bool,
}

impl Upload {
    /// Reads `body` (its `content-type` must be `multipart/form-data` with a boundary: else 400)
    /// until its `model` part; 400 when it has none, 413 past `max_body` (OpenAI's words), 408
    /// when it stalls.
    pub(crate) async fn begin(
        body: Body,
        headers: &HeaderMap,
        limits: UploadLimits,
    ) -> Result<Self, RelayError> {
        let _ = (body, headers, limits);
        Err(RelayError::BadRequest(
            "multipart uploads are not relayed yet".to_owned(),
        ))
    }

    /// The model the client named.
    pub(crate) fn model(&self) -> &str {
        &self.model
    }

    /// Whether a `stream` part before `model` said `true`.
    pub(crate) fn stream(&self) -> bool {
        self.stream
    }

    /// The body's size as announced (`content-length`) or read so far, for the admission's
    /// estimate.
    pub(crate) fn size_hint(&self) -> usize {
        0
    }

    /// The body of one attempt, its `model` part naming `upstream_model`, and the
    /// `content-type` (with its boundary) to send it with; `None` once an earlier attempt took
    /// the live rest (it cannot be sent twice).
    pub(crate) fn body(&self, upstream_model: &str) -> Option<(RequestBody, HeaderValue)> {
        let _ = upstream_model;
        None
    }

    /// The client's fault that ended an attempt's body (a stall, a hang-up, too many bytes),
    /// when it was the client's.
    pub(crate) fn client_fault(&self) -> Option<RelayError> {
        None
    }
}
