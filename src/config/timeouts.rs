//! The `[timeouts]` and `[limits]` sections: every network wait's deadline and every size bound.
//!
//! Owns: defaults for deadlines and bounds (design.md rules 2, 3, 5), upstream and client side
//! (the client ones follow nginx's defaults, so a relay behind nginx is never the weaker door).
//! Must never: allow an unbounded wait or size (zero is rejected where it would mean "none").

use super::ConfigError;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// From sending the request until the upstream's response headers.
    #[serde(with = "humantime_serde")]
    pub first_byte: Duration,
    /// Longest silence between two stream chunks from the upstream, and longest a client may
    /// take no byte of a response before its connection is dropped.
    #[serde(with = "humantime_serde")]
    pub stream_idle: Duration,
    /// Whole request, stream included.
    #[serde(with = "humantime_serde")]
    pub total: Duration,
    /// Reading an upstream error body.
    #[serde(with = "humantime_serde")]
    pub error_body: Duration,
    /// SSE keep-alive comment interval while the upstream is silent.
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// A client's request headers, complete: the first request of a connection counts from the
    /// accept, a later one from its first byte (nginx's `client_header_timeout`).
    #[serde(with = "humantime_serde")]
    pub client_header: Duration,
    /// A client connection with no request in flight (HTTP/1.1 between requests, HTTP/2 with no
    /// open stream) is closed after this (nginx's `keepalive_timeout`).
    #[serde(with = "humantime_serde")]
    pub client_idle: Duration,
    /// Longest wait for the next piece of a client's request body (nginx's
    /// `client_body_timeout`).
    #[serde(with = "humantime_serde")]
    pub client_body: Duration,
    /// A client's whole request body, however steadily it trickles in.
    #[serde(with = "humantime_serde")]
    pub client_body_total: Duration,
    /// HTTP/2 PING interval to clients: a peer that vanished is found even while its streams
    /// are quiet.
    #[serde(with = "humantime_serde")]
    pub client_ping: Duration,
    /// How long a PING may go unanswered before the HTTP/2 connection is closed.
    #[serde(with = "humantime_serde")]
    pub client_ping_timeout: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            stream_idle: Duration::from_secs(120),
            total: Duration::from_secs(15 * 60),
            error_body: Duration::from_secs(5),
            keepalive: Duration::from_secs(15),
            client_header: Duration::from_secs(60),
            client_idle: Duration::from_secs(75),
            client_body: Duration::from_secs(60),
            client_body_total: Duration::from_secs(10 * 60),
            client_ping: Duration::from_secs(30),
            client_ping_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted from a client (bytes).
    pub max_request_body: usize,
    /// Largest non-streaming upstream response body read (bytes).
    pub max_response_body: usize,
    /// Largest upstream error body read (bytes); the rest is discarded with the connection.
    pub max_error_body: usize,
    /// Largest single SSE event passed through a stream (bytes).
    pub max_stream_event: usize,
    /// Concurrent streams a client may open on one HTTP/2 connection (nginx's
    /// `http2_max_concurrent_streams`).
    pub max_h2_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body: 32 * 1024 * 1024,
            max_response_body: 64 * 1024 * 1024,
            max_error_body: 64 * 1024,
            max_stream_event: 8 * 1024 * 1024,
            max_h2_streams: 128,
        }
    }
}

impl Limits {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("max_request_body", self.max_request_body),
            ("max_response_body", self.max_response_body),
            ("max_error_body", self.max_error_body),
            ("max_stream_event", self.max_stream_event),
            ("max_h2_streams", self.max_h2_streams as usize),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(ConfigError::Invalid(format!(
                    "limits.{name} must be above 0"
                )));
            }
        }
        Ok(())
    }
}

impl Timeouts {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("connect", self.connect),
            ("first_byte", self.first_byte),
            ("stream_idle", self.stream_idle),
            ("total", self.total),
            ("error_body", self.error_body),
            ("keepalive", self.keepalive),
            ("client_header", self.client_header),
            ("client_idle", self.client_idle),
            ("client_body", self.client_body),
            ("client_body_total", self.client_body_total),
            ("client_ping", self.client_ping),
            ("client_ping_timeout", self.client_ping_timeout),
        ];
        for (name, value) in fields {
            if value.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "timeouts.{name} must be above 0"
                )));
            }
        }
        Ok(())
    }
}
