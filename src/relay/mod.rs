//! The spine: one request's journey from channel choice through the adaptor and the upstream
//! call to the response sent back.
//!
//! Owns: the order of the phases (peek -> authorize model -> route -> build upstream body ->
//! send -> answer or stream), and the access record's life.
//! Must never: spawn work that outlives the request, or answer 2xx with an error inside.

mod attempt;
mod plan;
mod record;

pub use plan::{Conversion, Peek};
pub use record::Record;

use crate::auth::Token;
use crate::convert;
use crate::error::RelayError;
use crate::providers::{Endpoint, WireFormat};
use crate::state::AppState;
use crate::stream::{body::StreamLimits, RelayStream, Transform};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
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
            let guard = state.monitor.ledger().open_stream();
            let stream = RelayStream::new(
                parts.upstream,
                parts.transform,
                format,
                limits,
                (record, guard),
            );
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
    Stream(StreamParts),
}

struct StreamParts {
    upstream: futures_util::stream::BoxStream<'static, Result<Bytes, hyper::Error>>,
    transform: Transform,
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
    let attempt::Answered {
        selected,
        response,
        wire,
        conversion,
        strip_usage,
        total,
        stream_idle,
    } = attempt::attempts(state, ask, record).await?;
    let mut lease = selected.lease;

    if peek.stream() {
        let transform = match conversion {
            Conversion::None => Transform::pass(wire, strip_usage),
            Conversion::ChatToMessages => Transform::MessagesToChat(Box::new(
                convert::MessagesToChatStream::new(&model, peek.include_usage()),
            )),
            Conversion::MessagesToChat => {
                Transform::ChatToMessages(Box::new(convert::ChatToMessagesStream::new(&model)))
            }
        };
        // Headers arrived: the channel answered. The lease (its in-flight count) stays with
        // the stream until the stream is dropped.
        lease.succeeded(Instant::now());
        let upstream = http_body_util::BodyDataStream::new(response.into_body()).map(move |c| {
            let _held = &lease;
            c
        });
        return Ok(Answer::Stream(StreamParts {
            upstream: upstream.boxed(),
            transform,
            total,
            idle: stream_idle,
        }));
    }

    let bytes = match state.upstream.read_body(response, total).await {
        Ok(b) => {
            record.upstream_done();
            lease.succeeded(Instant::now());
            b
        }
        Err(e) => {
            lease.failed(crate::routing::classify(&e), Instant::now());
            return Err(e.into());
        }
    };
    drop(lease);
    let (bytes, usage) = match conversion {
        Conversion::None => {
            let usage = passthrough_usage(wire, &bytes)?;
            (bytes, usage)
        }
        Conversion::ChatToMessages => {
            let (v, usage) = convert::messages_response_to_chat(&upstream_json(&bytes)?, &model)?;
            (to_bytes(&v), Some(usage))
        }
        Conversion::MessagesToChat => {
            let (v, usage) = convert::chat_response_to_messages(&upstream_json(&bytes)?, &model)?;
            (to_bytes(&v), Some(usage))
        }
    };
    record.usage = usage;
    Ok(Answer::Full(bytes))
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
