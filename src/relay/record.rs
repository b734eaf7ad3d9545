//! The access record of one request: written exactly once, when the request's work ends.
//!
//! Owns: the request's identity (id, token, model, channel), its outcome, usage and timings,
//! its in-flight count, and reporting all of it: one structured access-log event and the
//! ledger's counters and histograms, both from `Drop`.
//! Must never: be reported twice or not at all (if nobody set an outcome, the client left); or
//! log a value from the client unescaped or unbounded.

use super::Outcome;
use crate::client_text::{clip, MAX_LOGGED};
use crate::error::RelayError;
use crate::monitor::{ErrorKind, Guard, Ledger, TimeoutKind};
use crate::upstream::UpstreamError;
use crate::wire::Endpoint;
use crate::wire::Usage;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Longest error text logged (it may quote what the client sent, e.g. a model name).
const MAX_LOGGED_ERROR: usize = 1024;

pub(crate) struct Record {
    pub request_id: String,
    pub endpoint: Endpoint,
    pub token: Option<String>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub usage: Option<Usage>,
    /// Upstream attempts made (0: none, the request failed before routing).
    pub attempts: u32,
    ledger: Arc<Ledger>,
    _in_flight: Guard,
    started: Instant,
    upstream_sent: Option<Instant>,
    upstream_headers: Option<Duration>,
    upstream_done: Option<Instant>,
    first_token: Option<Duration>,
}

impl Record {
    pub(crate) fn new(request_id: String, endpoint: Endpoint, ledger: &Arc<Ledger>) -> Self {
        Self {
            request_id,
            endpoint,
            token: None,
            model: None,
            channel: None,
            stream: false,
            status: 0,
            outcome: Outcome::ClientGone,
            error: None,
            usage: None,
            attempts: 0,
            _in_flight: ledger.in_flight(endpoint.family()),
            ledger: ledger.clone(),
            started: Instant::now(),
            upstream_sent: None,
            upstream_headers: None,
            upstream_done: None,
            first_token: None,
        }
    }

    /// The request is about to go upstream.
    pub(crate) fn upstream_sent(&mut self) {
        self.upstream_sent = Some(Instant::now());
    }

    /// The upstream's response headers arrived.
    pub(crate) fn upstream_answered(&mut self) {
        if let Some(sent) = self.upstream_sent {
            self.upstream_headers = Some(sent.elapsed());
        }
    }

    /// The upstream's answer was read to its end (non-streaming).
    pub(crate) fn upstream_done(&mut self) {
        self.upstream_done = Some(Instant::now());
    }

    /// The first stream chunk arrived from upstream (once).
    pub(crate) fn first_token(&mut self) {
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
    }

    pub(crate) fn finish_ok(&mut self) {
        self.status = 200;
        self.outcome = Outcome::Ok;
    }

    /// The stream ran to its end, which was the upstream's own error event (forwarded to the
    /// client in its format): a 200 whose outcome is an upstream error.
    pub(crate) fn finish_upstream_error(&mut self) {
        self.status = 200;
        self.outcome = Outcome::UpstreamError;
        self.error = Some("the upstream ended the stream with an error event".to_owned());
        let channel = self.channel.as_deref().unwrap_or("other");
        self.ledger.upstream_error(channel, ErrorKind::StreamError);
    }

    pub(crate) fn fail(&mut self, err: &RelayError) {
        if self.status == 0 {
            self.status = err.status().as_u16();
        }
        self.outcome = err.outcome();
        self.error = Some(err.to_string());
        self.count_upstream_error(err);
    }

    /// An attempt failed and another follows: its upstream error and the retry are counted; the
    /// request's outcome is still open.
    pub(crate) fn retrying_after(&mut self, err: &RelayError) {
        self.count_upstream_error(err);
        self.ledger.retry();
    }

    fn count_upstream_error(&self, err: &RelayError) {
        let RelayError::Upstream(u) = err else {
            return;
        };
        let channel = self.channel.as_deref().unwrap_or("other");
        match u {
            UpstreamError::Timeout(d) => {
                self.ledger.timeout(TimeoutKind::from(*d));
                self.ledger.upstream_error(channel, ErrorKind::Timeout);
            }
            UpstreamError::Status(fault) => {
                let status = fault.status.unwrap_or(http::StatusCode::BAD_GATEWAY);
                self.ledger.upstream_error(channel, status.as_u16())
            }
            UpstreamError::Connect(_) => self.ledger.upstream_error(channel, ErrorKind::Connect),
            UpstreamError::Read(_) => self.ledger.upstream_error(channel, ErrorKind::Read),
            UpstreamError::TooLarge(_) => self.ledger.upstream_error(channel, ErrorKind::TooLarge),
            UpstreamError::Invalid(_) => self.ledger.upstream_error(channel, ErrorKind::Invalid),
        }
    }

    fn report(&self) {
        // 499: the client closed the request before an answer was decided (nginx's convention).
        let status = if self.status == 0 { 499 } else { self.status };
        self.ledger.request(status);
        if self.outcome == Outcome::ClientGone {
            self.ledger.client_disconnect();
        }
        if let Some(d) = self.upstream_headers {
            self.ledger.observe_upstream_latency(d);
        }
        if let Some(d) = self.first_token {
            self.ledger.observe_time_to_first_token(d);
        }
        if let (Some(sent), Some(done)) = (self.upstream_sent, self.upstream_done) {
            let upstream = done.saturating_duration_since(sent);
            self.ledger
                .observe_relay_overhead(self.started.elapsed().saturating_sub(upstream));
        }
    }
}

/// A value for a log field: `-` when unknown, clipped to a bound (it may be the client's). Given
/// to `tracing` as `&str`, which the formatters quote and escape (`%value` would not).
fn field(value: Option<&str>) -> &str {
    clip(value.unwrap_or("-"), MAX_LOGGED)
}

impl Drop for Record {
    fn drop(&mut self) {
        self.report();
        let usage = self.usage.unwrap_or_default();
        tracing::info!(
            target: "sluice::access",
            request_id = field(Some(&self.request_id)),
            endpoint = self.endpoint.family().as_str(),
            token = field(self.token.as_deref()),
            model = field(self.model.as_deref()),
            channel = field(self.channel.as_deref()),
            stream = self.stream,
            status = self.status,
            outcome = self.outcome.as_str(),
            attempts = self.attempts,
            latency_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            upstream_ms = self.upstream_headers.map(|d| d.as_secs_f64() * 1000.0),
            first_token_ms = self.first_token.map(|d| d.as_secs_f64() * 1000.0),
            tokens_in = usage.prompt_tokens,
            tokens_out = usage.completion_tokens,
            usage_known = self.usage.is_some(),
            error = self.error.as_deref().map(|e| clip(e, MAX_LOGGED_ERROR)),
            "request"
        );
    }
}
