//! The access record of one request: written exactly once, when the request's work ends.
//!
//! Owns: the request's identity (id, token, model, channel), its outcome, usage and timings,
//! and the one structured access-log event, emitted from `Drop`.
//! Must never: be emitted twice or not at all; if nobody set an outcome, the client left.

use crate::convert::Usage;
use crate::error::RelayError;
use crate::providers::Endpoint;
use std::time::Duration;
use tokio::time::Instant;

pub struct Record {
    pub request_id: String,
    pub endpoint: Endpoint,
    pub token: Option<String>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub usage: Option<crate::convert::Usage>,
    /// Upstream attempts made (0: none, the request failed before routing).
    pub attempts: u32,
    started: Instant,
    first_byte: Option<Duration>,
}

impl Record {
    pub fn new(request_id: String, endpoint: Endpoint) -> Self {
        Self {
            request_id,
            endpoint,
            token: None,
            model: None,
            channel: None,
            stream: false,
            status: 0,
            outcome: "client_gone",
            error: None,
            usage: None,
            attempts: 0,
            started: Instant::now(),
            first_byte: None,
        }
    }

    /// Marks the time the first upstream byte arrived (once).
    pub fn first_byte(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(self.started.elapsed());
        }
    }

    pub fn finish_ok(&mut self) {
        self.status = 200;
        self.outcome = "ok";
    }

    pub fn fail(&mut self, err: &RelayError) {
        if self.status == 0 {
            self.status = err.status().as_u16();
        }
        self.outcome = err.outcome();
        self.error = Some(err.to_string());
    }

    pub fn usage_or_default(&self) -> Usage {
        self.usage.unwrap_or_default()
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let usage = self.usage_or_default();
        tracing::info!(
            target: "sluice::access",
            request_id = %self.request_id,
            endpoint = self.endpoint.family(),
            token = self.token.as_deref().unwrap_or("-"),
            model = self.model.as_deref().unwrap_or("-"),
            channel = self.channel.as_deref().unwrap_or("-"),
            stream = self.stream,
            status = self.status,
            outcome = self.outcome,
            attempts = self.attempts,
            latency_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            first_byte_ms = self.first_byte.map(|d| d.as_secs_f64() * 1000.0),
            tokens_in = usage.prompt_tokens,
            tokens_out = usage.completion_tokens,
            usage_known = self.usage.is_some(),
            error = self.error.as_deref(),
            "request"
        );
    }
}
