//! The spine: one request's journey from channel choice through the adaptor and the upstream
//! call to the response sent back.
//!
//! Owns: the order of the phases (peek -> authorize model -> route -> build upstream body ->
//! send -> answer or stream), the access record's life, and the channel's lease until the
//! answer is known (a stream's body holds it to its end).
//! Must never: spawn work that outlives the request, answer 2xx with an error inside, or commit
//! to a stream before the upstream answered with one (a JSON answer to a stream request is
//! replayed as a stream, a JSON error is an error before any 200).

mod attempt;
mod plan;
mod record;

pub use plan::{Conversion, Peek};
pub use record::Record;

use crate::auth::Token;
use crate::convert;
use crate::error::RelayError;
use crate::providers::{Endpoint, WireFormat};
use crate::routing::{classify, Lease};
use crate::state::AppState;
use crate::stream::json_scan::{replace_string_member, Member};
use crate::stream::{body::StreamLimits, Held, RelayStream, Transform};
use crate::upstream::{UpstreamError, UpstreamResponse};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::Instant;

/// Relays one authenticated request whose body has been read.
pub async fn relay(
    state: &AppState,
    endpoint: Endpoint,
    token: &Token,
    headers: &HeaderMap,
    body: Bytes,
    mut record: Record,
) -> Response {
    let format = endpoint.client_format();
    record.token = Some(token.name.clone());
    match run(state, endpoint, token, headers, body, &mut record).await {
        Ok(Answer::Full(bytes)) => {
            record.finish_ok();
            json_response(bytes)
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
    }
}

enum Answer {
    Full(Bytes),
    Stream(Box<StreamParts>),
}

type Upstream = BoxStream<'static, Result<Bytes, hyper::Error>>;

struct StreamParts {
    upstream: Upstream,
    transform: Transform,
    /// The channel's lease: the stream's end reports its outcome.
    lease: Lease,
    total: Instant,
    idle: std::time::Duration,
}

async fn run(
    state: &AppState,
    endpoint: Endpoint,
    token: &Token,
    headers: &HeaderMap,
    body: Bytes,
    record: &mut Record,
) -> Result<Answer, RelayError> {
    let started = Instant::now();
    let peek = Peek::parse(&body)?;
    let model = peek.model()?.to_owned();
    record.model = Some(model.clone());
    record.stream = peek.stream();
    if !token.allows(&model) {
        return Err(RelayError::ModelNotAllowed(model));
    }
    let ask = attempt::Ask {
        endpoint,
        headers,
        peek: &peek,
        body: &body,
        model: &model,
        started,
    };
    let answered = attempt::attempts(state, ask, record).await?;
    if peek.stream() {
        let parts = streamed(state, answered, endpoint, &model, peek.include_usage()).await?;
        Ok(Answer::Stream(Box::new(parts)))
    } else {
        let (bytes, usage) = whole(state, answered, &model, record).await?;
        record.usage = usage;
        Ok(Answer::Full(bytes))
    }
}

/// A streamed answer: the upstream's events (or its JSON answer replayed as them) and the
/// transform into the client's format; the lease goes with them.
async fn streamed(
    state: &AppState,
    a: attempt::Answered,
    endpoint: Endpoint,
    model: &str,
    include_usage: bool,
) -> Result<StreamParts, RelayError> {
    let renamed = (a.selected.upstream_model != model).then_some(model);
    let upstream_endpoint = a.selected.channel().adaptor.upstream_endpoint(endpoint);
    let mut lease = a.selected.lease;
    let upstream = if is_json(&a.response) {
        // Headers said JSON: read the answer before anything is sent, then serve it as the
        // stream it stands for (an error body fails here, before any 200).
        let bytes = read(state, a.response, a.total, &mut lease).await?;
        let events = reported(
            &mut lease,
            crate::stream::replay(a.wire, upstream_endpoint, &bytes),
        )?;
        futures_util::stream::once(async move { Ok(events) }).boxed()
    } else {
        http_body_util::BodyDataStream::new(a.response.into_body()).boxed()
    };
    let transform = match a.conversion {
        Conversion::None => {
            Transform::pass_redacting(a.wire, a.strip_usage, renamed, state.upstream.redactor())
        }
        Conversion::ChatToMessages => Transform::MessagesToChat(Box::new(
            convert::MessagesToChatStream::new(model, include_usage)
                .with_redactor(state.upstream.redactor()),
        )),
        Conversion::MessagesToChat => Transform::ChatToMessages(Box::new(
            convert::ChatToMessagesStream::new(model).with_redactor(state.upstream.redactor()),
        )),
    };
    Ok(StreamParts {
        upstream,
        transform,
        lease,
        total: a.total,
        idle: a.stream_idle,
    })
}

/// A non-streamed answer in the client's format, and its usage; the channel's outcome is
/// reported once the answer is read and understood.
async fn whole(
    state: &AppState,
    a: attempt::Answered,
    model: &str,
    record: &mut Record,
) -> Result<(Bytes, Option<convert::Usage>), RelayError> {
    let renamed = (a.selected.upstream_model != model).then_some(model);
    let mut lease = a.selected.lease;
    let bytes = read(state, a.response, a.total, &mut lease).await?;
    record.upstream_done();
    let answer = match a.conversion {
        Conversion::None => passthrough(a.wire, bytes, renamed),
        Conversion::ChatToMessages => upstream_json(&bytes).and_then(|v| {
            let (v, usage) = convert::messages_response_to_chat(&v, model)?;
            Ok((to_bytes(&v), Some(usage)))
        }),
        Conversion::MessagesToChat => upstream_json(&bytes).and_then(|v| {
            let (v, usage) = convert::chat_response_to_messages(&v, model)?;
            Ok((to_bytes(&v), Some(usage)))
        }),
    };
    reported(&mut lease, answer.map_err(upstream_error))
}

/// Whether the upstream's answer is one JSON document (`application/json`, or `+json`).
fn is_json(response: &UpstreamResponse) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|mime| {
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
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

/// A conversion's failure as the upstream's (the only kind a response conversion has).
fn upstream_error(e: RelayError) -> UpstreamError {
    match e {
        RelayError::Upstream(u) => u,
        other => UpstreamError::Invalid(other.to_string()),
    }
}

/// A body passed through: untouched, unless a mapping changed the model (then the client's name
/// replaces the upstream's in its `model` member, the rest of its bytes as they came). Its usage
/// is read either way.
fn passthrough(
    wire: WireFormat,
    bytes: Bytes,
    renamed: Option<&str>,
) -> Result<(Bytes, Option<convert::Usage>), RelayError> {
    let usage = passthrough_usage(wire, &bytes)?;
    let bytes = match renamed.and_then(|model| {
        let text = std::str::from_utf8(&bytes).ok()?;
        replace_string_member(text, Member::Model, &Value::from(model).to_string())
    }) {
        Some(named) => Bytes::from(named),
        None => bytes,
    };
    Ok((bytes, usage))
}

/// Usage of a body passed through untouched: only the `usage` member is built, but the body
/// is checked to be one whole JSON object on the way (a cut or broken body is a 502, not a 200).
fn passthrough_usage(wire: WireFormat, body: &[u8]) -> Result<Option<convert::Usage>, RelayError> {
    #[derive(serde::Deserialize)]
    struct UsageOnly {
        usage: Option<Value>,
    }
    let Some(usage) = serde_json::from_slice::<UsageOnly>(body)
        .map_err(|e| {
            crate::upstream::UpstreamError::Invalid(format!("the upstream body is not JSON: {e}"))
        })?
        .usage
    else {
        return Ok(None);
    };
    let wrapped = serde_json::json!({ "usage": usage });
    Ok(match wire {
        WireFormat::OpenAi => convert::usage_from_chat(&wrapped),
        WireFormat::Anthropic => convert::usage_from_messages(&wrapped),
    })
}

fn upstream_json(bytes: &[u8]) -> Result<Value, RelayError> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::upstream::UpstreamError::Invalid(format!("the upstream body is not JSON: {e}"))
            .into()
    })
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
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
