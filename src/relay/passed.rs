//! A media answer (images, audio, moderations) on its way back: passed through as its upstream
//! typed it, or, from an upstream of another format, through its bridge.
//!
//! Owns: telling the three kinds of answer apart by `content-type` (JSON read whole, bounded;
//! events streamed through the media event reader; anything else, audio or a plain-text
//! transcript, streamed as it arrives with its `content-type` and `content-length`), what each
//! is billed by, and the channel's outcome of an answer read whole.
//! Must never: buffer a binary answer, or answer 2xx to an error body.

use super::attempt::Answered;
use super::{read, reported, Answer, Record, StreamParts};
use crate::error::RelayError;
use crate::media::events::MediaPass;
use crate::media::usage::{of_answer, of_value};
use crate::providers::PassOptions;
use crate::routing::Lease;
use crate::state::AppState;
use crate::upstream::UpstreamResponse;
use crate::wire::{Endpoint, WireFormat};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// A binary or plain-text answer to stream through.
pub(super) struct RawParts {
    pub upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
    /// The headers the client gets: the upstream's `content-type` and `content-length`.
    pub headers: HeaderMap,
    pub lease: Lease,
    pub total: Instant,
    pub idle: Duration,
}

/// What kind of body an upstream answered with.
enum Kind {
    Json,
    Events,
    Raw,
}

fn kind(response: &UpstreamResponse) -> Kind {
    if super::is_json(response) {
        Kind::Json
    } else if super::mime(response).as_deref() == Some("text/event-stream") {
        Kind::Events
    } else {
        Kind::Raw
    }
}

pub(super) async fn answer(
    state: &AppState,
    a: Answered,
    endpoint: Endpoint,
    model: &str,
    record: &mut Record,
) -> Result<Answer, RelayError> {
    let provider = a.selected.channel().provider;
    if provider.wire() != WireFormat::OpenAi {
        return bridged(state, a, endpoint, model, record).await;
    }
    let mut lease = a.selected.lease;
    match kind(&a.response) {
        Kind::Json => {
            let content_type = a
                .response
                .headers()
                .get(header::CONTENT_TYPE)
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/json"));
            let bytes = read(state, a.response, a.total, &mut lease).await?;
            record.upstream_done();
            // A 2xx answer must be one whole JSON object: anything else (half an object
            // included) is the channel's fault, never the client's 200. Parsed once: the
            // same reading gives what it is billed by.
            let understood = match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) if v.is_object() => Ok(v),
                _ => Err(crate::upstream::UpstreamError::Invalid(
                    "the answer is not a JSON object".to_owned(),
                )),
            };
            let answer = reported(&mut lease, understood)?;
            let (usage, media) = of_value(endpoint, &answer);
            record.usage = usage;
            if !media.is_empty() {
                record.media = Some(media);
            }
            Ok(Answer::Typed(bytes, content_type))
        }
        Kind::Events => {
            let options = PassOptions {
                strip_usage: false,
                client_model: None,
                redactor: state.upstream.redactor(),
            };
            Ok(Answer::Stream(Box::new(StreamParts {
                upstream: http_body_util::BodyDataStream::new(a.response.into_body()).boxed(),
                transform: Box::new(MediaPass::new(options)),
                lease,
                total: a.total,
                idle: a.stream_idle,
            })))
        }
        Kind::Raw => {
            let mut headers = HeaderMap::new();
            for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
                if let Some(v) = a.response.headers().get(&name) {
                    headers.insert(name, v.clone());
                }
            }
            Ok(Answer::Raw(Box::new(RawParts {
                upstream: http_body_util::BodyDataStream::new(a.response.into_body()).boxed(),
                headers,
                lease,
                total: a.total,
                idle: a.stream_idle,
            })))
        }
    }
}

/// An answer from an upstream of another format (Gemini's images and speech), converted
/// whole by its bridge into OpenAI's shape.
async fn bridged(
    state: &AppState,
    a: Answered,
    endpoint: Endpoint,
    model: &str,
    record: &mut Record,
) -> Result<Answer, RelayError> {
    let answer_type = a.asked.answer_type;
    let (bytes, usage) = super::whole(state, a, endpoint, model, record).await?;
    record.usage = usage;
    match answer_type {
        Some(mime) => Ok(Answer::Typed(bytes, HeaderValue::from_static(mime))),
        None => {
            let (_, media) = of_answer(endpoint, &bytes);
            if !media.is_empty() {
                record.media = Some(media);
            }
            Ok(Answer::Full(bytes))
        }
    }
}
