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
//!
//! The body goes upstream byte for byte as the client sent it (its boundary, part headers and
//! order), but for a mapped model's value: the relay scans only the head (`scan`), never the
//! live rest. Retries: the head (`spool`) is re-read for every attempt; the live rest goes to
//! one attempt, and comes back only if that attempt dropped its body before taking a byte of
//! it (a refused connection). Once a byte of the live rest went upstream there is no fail-over:
//! `body` answers `None`. An upload whose body ended inside its head (small ones, or the Node
//! SDK's `file` before `model`) is re-readable whole, and fails over like a JSON body.

mod content_type;
mod fault;
mod head;
mod live;
mod scan;
mod source;
mod splice;
mod spool;

pub(crate) use fault::Fault;

use crate::error::RelayError;
use crate::upstream::{BoxError, RequestBody};
use axum::body::Body;
use bytes::Bytes;
use fault::FaultCell;
use futures_util::stream::{self, StreamExt};
use http::{header, HeaderMap, HeaderValue};
use live::Slot;
use source::Source;
use splice::Splice;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

/// The bounds of one upload.
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
    fields: Vec<(String, String)>,
    head: spool::Frozen,
    model_at: Range<u64>,
    content_type: HeaderValue,
    announced: Option<u64>,
    /// The live rest (`None`: the body ended inside the head).
    live: Option<Slot>,
    faults: FaultCell,
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
        let (content_type, boundary) = content_type::boundary(headers)?;
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(n) = announced.filter(|n| *n > limits.max_body as u64) {
            return Err(RelayError::UploadTooLarge {
                limit: limits.max_body,
                read: n,
            });
        }
        let mut source = Source::new(body, limits.max_body, limits.idle, limits.total);
        // The reads are under the client's deadlines; this bounds the spool's writes as well.
        let head = tokio::time::timeout(limits.total, head::read(&mut source, &boundary, &limits))
            .await
            .map_err(|_| Fault::TooSlow(limits.total).to_relay())?
            .map_err(|e| e.to_relay())?;
        Ok(Self {
            model: head.model,
            fields: head.fields,
            head: head.held,
            model_at: head.model_at,
            content_type,
            announced,
            live: (!head.complete).then(|| Slot::new(Some(source))),
            faults: FaultCell::default(),
        })
    }

    /// The model the client named.
    pub(crate) fn model(&self) -> &str {
        &self.model
    }

    /// Whether a `stream` part read with the head (before the first file after `model`) said
    /// `true`.
    pub(crate) fn stream(&self) -> bool {
        self.field("stream")
            .is_some_and(|v| matches!(v.trim(), "true" | "True" | "1"))
    }

    /// The text parts read with the head (`size`, `quality`, `n`, `response_format`, ...),
    /// `model` aside, in the client's order.
    pub(crate) fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The first text part named `name` read with the head.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body's size as announced (`content-length`) or read so far, for the admission's
    /// estimate.
    pub(crate) fn size_hint(&self) -> usize {
        let read = self.live.as_ref().and_then(Slot::read);
        self.announced.or(read).unwrap_or(self.head.len()) as usize
    }

    /// The spool holding the head past `memory`, while the upload has one.
    #[cfg(test)]
    fn spool(&self) -> Option<&std::path::Path> {
        self.head.spool()
    }

    /// The body of one attempt, its `model` part naming `upstream_model`, and the
    /// `content-type` (with its boundary) to send it with; `None` once an earlier attempt took
    /// the live rest (it cannot be sent twice).
    pub(crate) fn body(&self, upstream_model: &str) -> Option<(RequestBody, HeaderValue)> {
        let live = match &self.live {
            Some(slot) => Some(live::stream(
                slot.take()?,
                slot.clone(),
                self.faults.clone(),
            )),
            None => None,
        };
        let mut splice = (upstream_model != self.model).then(|| {
            Splice::new(
                self.model_at.clone(),
                Bytes::copy_from_slice(upstream_model.as_bytes()),
            )
        });
        let head = self.head.replay().flat_map(move |item| {
            let pieces: Vec<Result<Bytes, BoxError>> = match item {
                Ok((at, chunk)) => match splice.as_mut() {
                    Some(s) => s.apply(at, chunk).into_iter().map(Ok).collect(),
                    None => vec![Ok(chunk)],
                },
                Err(e) => vec![Err(Box::new(e) as BoxError)],
            };
            stream::iter(pieces)
        });
        let body = match live {
            Some(live) => head.chain(live).boxed(),
            None => head.boxed(),
        };
        Some((RequestBody::Stream(body), self.content_type.clone()))
    }

    /// The client's fault that ended an attempt's body (a stall, a hang-up, too many bytes),
    /// when it was the client's.
    pub(crate) fn client_fault(&self) -> Option<RelayError> {
        self.faults.get().map(|f| f.to_relay())
    }
}

#[cfg(test)]
mod tests;
