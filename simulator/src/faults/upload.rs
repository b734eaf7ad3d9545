//! Multipart uploads in the fault layer: a bounded look-ahead (for choosing faults), a body
//! that counts what the handler reads into the stats, and the `stall-upload` fault.
//! Owns how much of an upload the layer holds (never more than the look-ahead); must never
//! parse the form itself.

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::HeaderMap;
use http_body_util::BodyExt;

use crate::server::{ConnAction, ConnControl};
use crate::state::Ctx;

/// The most of an upload read before its faults are chosen (OpenAI's SDKs send text fields,
/// and so a prompt's `<<sim:...>>` directive, before files).
pub(crate) const LOOKAHEAD: usize = 16 << 10;

/// Whether a request carries a multipart body.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

/// An upload whose first bytes have been read.
pub(crate) struct Upload {
    /// Up to [`LOOKAHEAD`] bytes (more only if one frame brought more).
    pub(crate) head: Bytes,
    rest: Option<Body>,
}

/// Reads the look-ahead of `body` (counting it as read from `endpoint`).
pub(crate) async fn begin(ctx: &Ctx, endpoint: &str, mut body: Body) -> Upload {
    ctx.shared.stats.upload(ctx.provider, endpoint);
    let mut head = BytesMut::new();
    let mut ended = false;
    while head.len() < LOOKAHEAD {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    head.extend_from_slice(&data);
                }
            }
            Some(Err(_)) | None => {
                ended = true;
                break;
            }
        }
    }
    let head = head.freeze();
    ctx.shared
        .stats
        .upload_read(ctx.provider, endpoint, head.len() as u64);
    Upload {
        head,
        rest: (!ended).then_some(body),
    }
}

impl Upload {
    /// The whole body again, as the handler reads it: the look-ahead, then the rest, counted
    /// as it is read.
    pub(crate) fn into_body(self, ctx: &Ctx, endpoint: &str) -> Body {
        let head = futures_util::stream::once(async move { Ok::<_, axum::Error>(self.head) });
        let Some(rest) = self.rest else {
            return Body::from_stream(head);
        };
        let stats = ctx.shared.stats.clone();
        let provider = ctx.provider;
        let endpoint = endpoint.to_owned();
        let rest = rest.into_data_stream().inspect(move |chunk| {
            if let Ok(c) = chunk {
                stats.upload_read(provider, &endpoint, c.len() as u64);
            }
        });
        Body::from_stream(head.chain(rest))
    }

    /// `stall-upload`: reads on until `limit` bytes in all (or the body ends), then stops
    /// reading and never answers (the connection freezes: nothing more is read from it);
    /// the client's upload blocks once the socket buffers fill.
    pub(crate) async fn stall(
        self,
        ctx: &Ctx,
        endpoint: &str,
        limit: usize,
        control: Option<ConnControl>,
    ) -> Response {
        let mut read = self.head.len();
        let mut rest = self.rest;
        if let Some(rest) = rest.as_mut() {
            while read < limit {
                match rest.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            read += data.len();
                            ctx.shared
                                .stats
                                .upload_read(ctx.provider, endpoint, data.len() as u64);
                        }
                    }
                    Some(Err(_)) | None => break,
                }
            }
        }
        if let Some(c) = control {
            c.request(ConnAction::Freeze);
        }
        // The rest stays unread (held here until the connection drops this future).
        let _unread = rest;
        std::future::pending().await
    }
}
