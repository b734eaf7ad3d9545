//! The spine: one request's journey from channel choice through the bridge, the provider and
//! the upstream call to the response sent back.
//!
//! Owns: the order of the phases (peek -> admit (the token's model rules, limits and quota
//! reservation) -> attempts: route, bridge the
//! request, build and send it -> answer whole or stream, through the same bridge), the access
//! record's life, and the channel's lease until the answer is known (a stream's body holds it
//! to its end).
//! Must never: spawn work that outlives the request, answer 2xx with an error inside, or commit
//! to a stream before the upstream answered with one (a JSON answer to a stream request is
//! replayed as a stream, a JSON error is an error before any 200).

mod admit;
mod attempt;
mod attempt_limits;
mod outcome;
mod passed;
mod plan;
mod record;

pub(crate) use admit::{admit, authenticate, identify, Ask, Caller};
pub(crate) use outcome::Outcome;
pub(crate) use plan::{FromPath, Peek};
pub(crate) use record::{marking_panics, Record};

use crate::bridges::StreamSetup;
use crate::error::RelayError;
use crate::media::Upload;
use crate::routing::{classify, Lease};
use crate::state::AppState;
use crate::stream::raw::RawStream;
use crate::stream::{body::StreamLimits, Held, RelayStream, Transform};
use crate::upstream::{UpstreamError, UpstreamResponse};
use crate::wire::{Endpoint, Usage};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::time::Instant;

/// What a client sent: one JSON body read whole, or a multipart upload read up to its `model`
/// part, the rest still coming.
pub(crate) enum Sent {
    Json(Bytes),
    Upload(Upload),
}

impl Sent {
    /// Its size as far as known (an upload's announced length), for the admission's estimate.
    fn size(&self) -> usize {
        match self {
            Self::Json(b) => b.len(),
            Self::Upload(u) => u.size_hint(),
        }
    }
}

/// Relays one authenticated request whose body has been read, or an upload whose `model` part
/// has (`path`: what its path names, for formats that name the model there).
pub(crate) async fn relay(
    state: &AppState,
    endpoint: Endpoint,
    path: Option<FromPath>,
    caller: &Caller,
    headers: &HeaderMap,
    sent: Sent,
    mut record: Record,
) -> Response {
    let format = endpoint.client_format();
    let ran = run(state, endpoint, path, caller, headers, sent, &mut record).await;
    let rate = record.rate_headers();
    let mut resp = match ran {
        Ok(Answer::Full(bytes)) => {
            record.finish_ok();
            json_response(bytes)
        }
        Ok(Answer::Typed(bytes, content_type)) => {
            record.finish_ok();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                bytes,
            )
                .into_response()
        }
        Ok(Answer::Raw(raw)) => {
            record.status = 200;
            let held = Held {
                record,
                open: state.monitor.ledger().open_stream(),
                lease: Some(raw.lease),
            };
            let body = RawStream::new(raw.upstream, raw.idle, raw.total, held);
            let mut resp = Response::new(Body::from_stream(body));
            *resp.headers_mut() = raw.headers;
            resp
        }
        Ok(Answer::Stream(parts)) => {
            record.status = 200;
            let limits = StreamLimits {
                idle: parts.idle,
                keepalive: state.config.timeouts.keepalive,
                total: parts.total,
                max_event: state.config.limits.max_stream_event,
            };
            let held = Held {
                record,
                open: state.monitor.ledger().open_stream(),
                lease: Some(parts.lease),
            };
            let stream = RelayStream::new(parts.upstream, parts.transform, format, limits, held);
            sse_response(Body::from_stream(stream))
        }
        Err(e) => {
            record.fail(&e);
            e.into_response_for(format)
        }
    };
    for (name, value) in rate {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().entry(name).or_insert(v);
        }
    }
    resp
}

enum Answer {
    /// A JSON answer.
    Full(Bytes),
    /// A whole answer of another type (a bridged speech answer's audio, a media JSON answer
    /// under the upstream's own `content-type`).
    Typed(Bytes, HeaderValue),
    /// Events streamed through a transform.
    Stream(Box<StreamParts>),
    /// A binary or plain-text answer streamed through as it arrives.
    Raw(Box<passed::RawParts>),
}

type Upstream = BoxStream<'static, Result<Bytes, hyper::Error>>;

struct StreamParts {
    upstream: Upstream,
    transform: Box<dyn Transform>,
    /// The channel's lease: the stream's end reports its outcome.
    lease: Lease,
    total: Instant,
    idle: std::time::Duration,
}

async fn run(
    state: &AppState,
    endpoint: Endpoint,
    path: Option<FromPath>,
    caller: &Caller,
    headers: &HeaderMap,
    sent: Sent,
    record: &mut Record,
) -> Result<Answer, RelayError> {
    let started = Instant::now();
    // What is asked: the model and whether to stream, read without building the body (an
    // upload's from the parts before its file).
    let peek = match &sent {
        Sent::Json(body) => {
            record.media_asked = crate::media::usage::of_request(endpoint, body);
            Peek::parse(body)?.with_path(path)
        }
        Sent::Upload(upload) => {
            // What an edit or variation asks (its text parts before the file), for its price.
            let n = upload.field("n").and_then(|n| n.trim().parse().ok());
            let asked = crate::media::usage::of_fields(
                endpoint,
                upload.field("size"),
                upload.field("quality"),
                n,
            );
            record.media_asked = (!asked.is_empty()).then_some(asked);
            Peek::of_upload(upload)
        }
    };
    let model = peek.model()?.to_owned();
    record.model = Some(model.clone());
    record.stream = peek.stream();
    // Whether this token may ask it: its model rules, then (a store token) its address rules,
    // rate limits and a quota reservation, which the record settles or releases at its end.
    let ask = admit::Ask {
        model: &model,
        prompt_bytes: sent.size(),
        max_tokens: peek.max_tokens(),
        client_ip: record.client_ip(),
    };
    admit::admit(state, caller, &ask, record).await?;
    // Attempts: route, bridge the request, build and send it; fail over while nothing was sent.
    let ask = attempt::Ask {
        endpoint,
        headers,
        peek: &peek,
        sent: &sent,
        model: &model,
        started,
    };
    let answered = attempt::attempts(state, ask, record).await?;
    record.upstream_accepted();
    // A media answer goes back as its upstream typed it: JSON read whole, events streamed
    // through, audio and plain text streamed as they arrive.
    if endpoint.is_media() {
        return passed::answer(state, answered, endpoint, &model, record).await;
    }
    // The answer through the same bridge, streamed or whole; its usage goes into the record,
    // which reports once, when the request's work ends (a stream's, when the stream does).
    if peek.stream() {
        let parts = streamed(state, answered, &model, peek.include_usage()).await?;
        Ok(Answer::Stream(Box::new(parts)))
    } else {
        let (bytes, usage) = whole(state, answered, endpoint, &model, record).await?;
        record.usage = usage;
        Ok(Answer::Full(bytes))
    }
}

/// A streamed answer: the upstream's events (or its JSON answer replayed as them) and the
/// bridge's transform into the client's format; the lease goes with them.
async fn streamed(
    state: &AppState,
    a: attempt::Answered,
    model: &str,
    include_usage: bool,
) -> Result<StreamParts, RelayError> {
    let provider = a.selected.channel().provider;
    let renamed = a.selected.upstream_model != model;
    let mut lease = a.selected.lease;
    let upstream = if is_json(&a.response) {
        // Headers said JSON: read the answer before anything is sent, then serve it as the
        // stream it stands for (an error body fails here, before any 200).
        let bytes = read(state, a.response, a.total, &mut lease).await?;
        let replayed = provider.replay(a.route.op, &bytes, &state.upstream.redactor());
        let events = reported(&mut lease, replayed)?;
        futures_util::stream::once(async move { Ok(events) }).boxed()
    } else {
        http_body_util::BodyDataStream::new(a.response.into_body()).boxed()
    };
    let setup = StreamSetup {
        client_model: model,
        renamed,
        include_usage,
        strip_usage: a.strip_usage,
        redactor: state.upstream.redactor(),
    };
    Ok(StreamParts {
        upstream,
        transform: a.route.bridge.stream(provider, setup),
        lease,
        total: a.total,
        idle: a.stream_idle,
    })
}

/// A non-streamed answer in the client's format, through the bridge, and its usage; the
/// channel's outcome is reported once the answer is read and understood.
async fn whole(
    state: &AppState,
    a: attempt::Answered,
    endpoint: Endpoint,
    model: &str,
    record: &mut Record,
) -> Result<(Bytes, Option<Usage>), RelayError> {
    let provider = a.selected.channel().provider;
    let renamed = a.selected.upstream_model != model;
    let mut lease = a.selected.lease;
    let bytes = read(state, a.response, a.total, &mut lease).await?;
    record.upstream_done();
    let answer = a.route.bridge.response_asked(
        provider, a.route.op, endpoint, bytes, model, renamed, a.asked,
    );
    reported(&mut lease, answer)
}

/// Whether the upstream's answer is one JSON document (`application/json`, or `+json`).
fn is_json(response: &UpstreamResponse) -> bool {
    mime(response).is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"))
}

/// The media type an upstream answered with (`content-type` without its parameters), lower
/// case.
fn mime(response: &UpstreamResponse) -> Option<String> {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

/// Reads a whole upstream answer, bounded; a failed read is the channel's.
async fn read(
    state: &AppState,
    response: UpstreamResponse,
    total: Instant,
    lease: &mut Lease,
) -> Result<Bytes, RelayError> {
    let read = state.upstream.read_body(response, total).await;
    // Only failures are reported here: success is known once the answer is understood.
    if let Err(e) = &read {
        lease.failed(classify(e), Instant::now());
    }
    Ok(read?)
}

/// Reports the channel's outcome of an answer that was read whole: understood (success) or not.
fn reported<T>(lease: &mut Lease, answer: Result<T, UpstreamError>) -> Result<T, RelayError> {
    let now = Instant::now();
    match &answer {
        Ok(_) => lease.succeeded(now),
        Err(e) => lease.failed(classify(e), now),
    }
    Ok(answer?)
}

fn json_response(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

fn sse_response(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}
