//! Thin endpoint handlers: shed early when full, authenticate, read the body bounded and timed,
//! take an in-flight slot, hand over to the relay.
//!
//! Owns: the request-body bounds: 413 for a `Content-Length` (or a body) over
//! `limits.max_request_body`, decided before any body byte is read (so no `100 Continue` is sent
//! for it); 408 when the body stalls for `timeouts.client_body` or is not in within
//! `timeouts.client_body_total`. The order that keeps a stalled upload from holding an in-flight
//! slot: the slot is taken only once the body is in, and held until the response body ends.
//! Turning auth failures into the endpoint's error shape.
//! Must never: route, convert or call upstream.

use super::conn::PeerAddr;
use super::held;
use crate::config::Config;
use crate::error::RelayError;
use crate::media::{Upload, UploadLimits};
use crate::monitor::TimeoutKind;
use crate::relay::{self, FromPath, Record, Sent};
use crate::state::AppState;
use crate::wire::{BodyKind, Endpoint, WireFormat};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as _;
use std::sync::Arc;
use tokio::time::Instant;

pub(super) async fn chat(
    State(s): State<Arc<AppState>>,
    p: Peer,
    h: HeaderMap,
    b: Body,
) -> Response {
    handle(&s, Endpoint::Chat, None, p, h, b).await
}

pub(super) async fn completions(
    State(s): State<Arc<AppState>>,
    p: Peer,
    h: HeaderMap,
    b: Body,
) -> Response {
    handle(&s, Endpoint::Completions, None, p, h, b).await
}

pub(super) async fn embeddings(
    State(s): State<Arc<AppState>>,
    p: Peer,
    h: HeaderMap,
    b: Body,
) -> Response {
    handle(&s, Endpoint::Embeddings, None, p, h, b).await
}

pub(super) async fn messages(
    State(s): State<Arc<AppState>>,
    p: Peer,
    h: HeaderMap,
    b: Body,
) -> Response {
    handle(&s, Endpoint::Messages, None, p, h, b).await
}

/// OpenAI's media endpoints: JSON bodies (`/v1/images/generations`, `/v1/audio/speech`,
/// `/v1/moderations`) and multipart uploads, streamed (`/v1/images/edits`, `/variations`,
/// `/v1/audio/transcriptions`, `/translations`).
pub(super) async fn media(
    endpoint: Endpoint,
    State(s): State<Arc<AppState>>,
    p: Peer,
    h: HeaderMap,
    b: Body,
) -> Response {
    handle(&s, endpoint, None, p, h, b).await
}

/// The client's address (set by `conn` for every request; absent in socket-less tests).
pub(super) type Peer = Option<Extension<PeerAddr>>;

/// One relayed request; `path` is what its path names (the Gemini routes').
pub(super) async fn handle(
    state: &AppState,
    endpoint: Endpoint,
    path: Option<FromPath>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = endpoint.client_format();
    #[cfg(feature = "canary")]
    crate::canary::detached_task();
    let mut record = Record::new(request_id(&headers), endpoint, state.monitor.ledger());
    let admitted = async {
        // Full already: refused before its body is read (and without taking anything).
        state.overload.has_room()?;
        let token = relay::authenticate(state, &headers).await?;
        relay::identify(
            state,
            &token,
            peer.map(|Extension(p)| p.0.ip()),
            &mut record,
        );
        let sent = match endpoint.body_kind() {
            BodyKind::Json => read_body(body, endpoint, &state.config)
                .await
                .map(Sent::Json),
            // An upload is read up to its `model` part; the rest streams to the upstream.
            BodyKind::Multipart => {
                Upload::begin(body, &headers, upload_limits(endpoint, &state.config))
                    .await
                    .map(Sent::Upload)
            }
        };
        let sent = sent.inspect_err(|e| {
            if matches!(e, RelayError::ClientTimeout(_)) {
                state.monitor.ledger().timeout(TimeoutKind::ClientBody);
            }
        })?;
        let permit = state.overload.admit_request()?;
        Ok::<_, RelayError>((token, sent, permit))
    };
    match admitted.await {
        Ok((token, sent, permit)) => {
            let flag = record.panic_flag();
            let relayed = relay::relay(state, endpoint, path, &token, &headers, sent, record);
            let resp = relay::marking_panics(flag, relayed).await;
            held::until_sent(resp, permit)
        }
        Err(e) => {
            record.fail(&e);
            e.into_response_for(format)
        }
    }
}

/// The largest request body of `endpoint`: its media family's `max_body`, else
/// `limits.max_request_body`.
fn max_body(endpoint: Endpoint, config: &Config) -> usize {
    config
        .media
        .family(endpoint.family())
        .map_or(config.limits.max_request_body, |f| f.max_body)
}

/// The bounds of an upload to `endpoint`: its family's size, the client body deadlines.
fn upload_limits(endpoint: Endpoint, config: &Config) -> UploadLimits {
    UploadLimits {
        max_body: max_body(endpoint, config),
        memory: config.media.upload_memory,
        spool_dir: config.media.spool_dir.clone(),
        idle: config.timeouts.client_body,
        total: config.timeouts.client_body_total,
    }
}

/// Reads the whole request body: refused (413) before the first byte when its announced length
/// is over the limit (a media family's own, else `limits.max_request_body`), and as soon as it
/// passes the limit otherwise; 408 when it stalls or takes too long.
async fn read_body(body: Body, endpoint: Endpoint, config: &Config) -> Result<Bytes, RelayError> {
    read_body_within(body, max_body(endpoint, config), config).await
}

/// [`read_body`] bounded by `max` bytes.
pub(super) async fn read_body_within(
    body: Body,
    max: usize,
    config: &Config,
) -> Result<Bytes, RelayError> {
    if body.size_hint().lower() > max as u64 {
        return Err(RelayError::BodyTooLarge(max));
    }
    let (gap, total) = (
        config.timeouts.client_body,
        config.timeouts.client_body_total,
    );
    let all_by = Instant::now() + total;
    let mut body = Limited::new(body, max);
    let mut chunks: Vec<Bytes> = Vec::new();
    loop {
        let next_by = Instant::now() + gap;
        let frame = match tokio::time::timeout_at(next_by.min(all_by), body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) if next_by < all_by => {
                return Err(RelayError::ClientTimeout(format!(
                    "the request body stalled: no data for {gap:?}"
                )))
            }
            Err(_) => {
                return Err(RelayError::ClientTimeout(format!(
                    "the request body was not complete within {total:?}"
                )))
            }
        };
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    chunks.push(data);
                }
            }
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(RelayError::BodyTooLarge(max))
            }
            Err(e) => {
                return Err(RelayError::BadRequest(format!(
                    "the request body could not be read: {e}"
                )))
            }
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => chunks.concat().into(),
    })
}

pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

pub(super) async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    let google = headers.contains_key("x-goog-api-key")
        || ["/v1beta/", "/v1alpha/"]
            .iter()
            .any(|p| uri.path().starts_with(p));
    let format = if headers.contains_key("anthropic-version") {
        WireFormat::Anthropic
    } else if google {
        WireFormat::Gemini
    } else {
        WireFormat::OpenAi
    };
    let path = crate::client_text::clip(uri.path(), crate::client_text::MAX_LOGGED);
    RelayError::NotFound(format!("unknown path {path}")).into_response_for(format)
}

pub(super) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    RelayError::Internal.into_response_for(WireFormat::OpenAi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_panic_is_a_500_server_error_not_the_clients() {
        let resp = panic_response(Box::new("boom"));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["type"], "server_error", "{v}");
        assert_eq!(v["error"]["code"], "internal_error", "{v}");
    }
}
