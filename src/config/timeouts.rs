//! The `[timeouts]` and `[limits]` sections: every network wait's deadline and every size bound.
//!
//! Owns: defaults for deadlines and bounds (design.md rules 2, 3, 5).
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body: 32 * 1024 * 1024,
            max_response_body: 64 * 1024 * 1024,
            max_error_body: 64 * 1024,
            max_stream_event: 8 * 1024 * 1024,
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
