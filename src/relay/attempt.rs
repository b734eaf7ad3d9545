//! The attempt loop: pick a channel, build its upstream request, send, and on a retryable
//! failure fail over, all before anything has gone to the client (the client's response
//! starts only once an upstream answered 2xx).
//!
//! Owns: retry decisions per request (bounded attempts, the shared retry budget, no channel
//! twice while another is left, retry-after waits that fit the deadline and the cap), and
//! skipping a channel at its own rate limit for the next candidate (`attempt_limits`: not an
//! attempt, not a failure).
//! Must never: hold two attempts at once (each failed attempt's response and lease are
//! released before the next starts), wait past the request's deadline, or retry a client error.

use super::attempt_limits::{self, Passed};
use super::plan::Peek;
use super::{Record, Sent};
use crate::bridges::{self, Route};
use crate::error::RelayError;
use crate::routing::{classify, Pick, Selected};
use crate::state::AppState;
use crate::upstream::UpstreamResponse;
use crate::wire::Endpoint;
use bytes::Bytes;
use http::HeaderMap;
use std::time::Duration;
use tokio::time::Instant;

/// The attempt that got a 2xx answer, with what the rest of the request needs.
pub(super) struct Answered {
    pub selected: Selected,
    pub response: UpstreamResponse,
    /// The upstream operation and the bridge from the client's format to it.
    pub route: Route,
    pub strip_usage: bool,
    /// What the client asked of the answer (for the bridge's answer converter).
    pub asked: crate::bridges::Asked,
    /// The whole request's deadline on this channel.
    pub total: Instant,
    pub stream_idle: Duration,
}

/// What one request needs to make attempts.
pub(super) struct Ask<'a> {
    pub endpoint: Endpoint,
    pub headers: &'a HeaderMap,
    pub peek: &'a Peek,
    pub sent: &'a Sent,
    pub model: &'a str,
    pub started: Instant,
}

pub(super) async fn attempts(
    state: &AppState,
    ask: Ask<'_>,
    record: &mut Record,
) -> Result<Answered, RelayError> {
    let routes = &state.routes;
    let policy = routes.policy();
    let timeouts = &state.config.timeouts;
    let deadline = ask.started + timeouts.total;
    routes.note_request(Instant::now());
    let mut tried: Vec<usize> = Vec::new();
    // Channels whose own limit turned this request away, each until it would take it.
    let mut limited: Vec<(usize, Instant)> = Vec::new();
    let mut estimate = None;
    let mut last: Option<RelayError> = None;
    let mut waited = Duration::ZERO;
    loop {
        let now = Instant::now();
        let mut selected = match routes.pick(ask.model, ask.endpoint, &tried, &limited, now) {
            Ok(Pick::Go(s)) => *s,
            Ok(Pick::WaitUntil(t)) => {
                let wait = t.saturating_duration_since(now);
                if waited + wait <= policy.max_retry_wait && t < deadline {
                    waited += wait;
                    tokio::time::sleep_until(t).await;
                    continue;
                }
                // The last upstream error (a 429 keeps its retry-after), or our own 503.
                return Err(last.unwrap_or(RelayError::NoChannel {
                    model: ask.model.to_owned(),
                    retry_after: Some(wait),
                }));
            }
            Err(e) => return Err(last.unwrap_or(e)),
        };
        match attempt_limits::take(state, selected.channel(), &ask, record, &mut estimate).await {
            // A hold of a previous attempt's channel goes back either way.
            Ok(Passed::Free) => record.channel_tokens(None),
            Ok(Passed::Tokens(hold, prompt)) => record.channel_tokens(Some((hold, prompt))),
            Err(refused) => {
                tracing::debug!(
                    channel = %selected.channel().name, kind = ?refused.kind,
                    retry_after = ?refused.retry_after, "channel at its rate limit: skipped"
                );
                limited.push((selected.index, Instant::now() + refused.retry_after));
                selected.lease.over_limit();
                continue;
            }
        }
        record.attempts += 1;
        let ch = selected.channel().clone();
        record.channel = Some(ch.name.clone());
        record.upstream_model = Some(selected.upstream_model.clone());
        let provider = ch.provider;
        let route = ch
            .route(ask.endpoint)
            .map_err(|why| crate::routing::not_served(ask.model, ask.endpoint, why))?;
        let (outgoing, asked) = match ask.sent {
            Sent::Json(body) => route.bridge.request_asking(
                provider,
                bridges::Request {
                    op: route.op,
                    client_op: ask.endpoint,
                    body: body.clone(),
                    stream: ask.peek.stream(),
                    include_usage: ask.peek.include_usage(),
                    client_model: ask.model,
                    upstream_model: &selected.upstream_model,
                },
            )?,
            // An upload goes as the client sent it (its `model` part renamed): only providers
            // of the client's format serve one.
            Sent::Upload(_) => (
                bridges::Outgoing {
                    body: Bytes::new(),
                    strip_usage: false,
                },
                bridges::Asked::default(),
            ),
        };
        // A media family's deadlines (an image generation's first byte comes late) under the
        // channel's own.
        let family = state.config.media.family(ask.endpoint.family());
        let total = ask.started
            + ch.timeouts
                .total
                .or(family.and_then(|f| f.total))
                .unwrap_or(timeouts.total);
        let first_byte = ch
            .timeouts
            .first_byte
            .or(family.and_then(|f| f.first_byte))
            .unwrap_or(timeouts.first_byte);
        record.upstream_sent();
        // The key's access token where the provider needs one (cached; exchanged only for the
        // first): a refused credential fails this attempt as a refused key would.
        let access = state
            .credentials
            .access(ch.kind, selected.lease.target().key, &state.upstream, total)
            .await;
        let sent = match access {
            Ok(access) => {
                let mut target = selected.lease.target();
                target.access = access.as_deref();
                let mut request = provider.build(
                    &target,
                    route.op,
                    &selected.upstream_model,
                    ask.headers,
                    outgoing.body,
                    ask.peek.stream(),
                );
                match ask.sent {
                    Sent::Json(_) => {
                        state
                            .upstream
                            .send_within(request, provider, total, first_byte)
                            .await
                    }
                    Sent::Upload(upload) => {
                        // The rest of an upload can be sent once: an attempt after one that
                        // took it has nothing to send, and the last error stands.
                        let Some((body, content_type)) = upload.body(&selected.upstream_model)
                        else {
                            return Err(last.unwrap_or(RelayError::Internal));
                        };
                        request.body = body;
                        request
                            .headers
                            .insert(http::header::CONTENT_TYPE, content_type);
                        let sent = state
                            .upstream
                            .send_within(request, provider, total, first_byte)
                            .await;
                        // A client that stalled, left or sent too much ended the attempt: the
                        // client's error, not the channel's.
                        if sent.is_err() {
                            if let Some(e) = upload.client_fault() {
                                return Err(e);
                            }
                        }
                        sent
                    }
                }
            }
            Err(e) => Err(e),
        };
        record.upstream_answered();
        match sent {
            Ok(response) => {
                return Ok(Answered {
                    selected,
                    response,
                    route,
                    strip_usage: outgoing.strip_usage,
                    asked,
                    total,
                    stream_idle: ch.timeouts.stream_idle.unwrap_or(timeouts.stream_idle),
                })
            }
            Err(e) => {
                // `e` holds at most the bounded error body; the connection is already
                // released (pooled if read to the end, dropped otherwise).
                let verdict = classify(&e);
                let now = Instant::now();
                selected.lease.failed(verdict, now);
                tracing::debug!(
                    channel = %ch.name, key = %selected.lease.key_hint(),
                    attempt = record.attempts, error = %e, ?verdict, "attempt failed"
                );
                let err = RelayError::from(e);
                if !verdict.retryable()
                    || record.attempts >= policy.max_attempts
                    || !routes.try_retry(now)
                {
                    return Err(err);
                }
                record.retrying_after(&err);
                tried.push(selected.index);
                last = Some(err);
                // The lease goes before the next attempt is chosen.
                drop(selected);
            }
        }
    }
}
