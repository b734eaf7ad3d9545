//! The one place where internal errors become client-facing error bodies.
//!
//! Owns: status codes and the OpenAI / Anthropic error envelopes, before and inside a stream.
//! Must never: return a 2xx for an error, leak a provider key, or panic on odd upstream bodies.

use crate::convert;
use crate::providers::WireFormat;
use crate::upstream::{rejects_key, Deadline, Redactor, UpstreamError};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

/// Everything that can end a relayed request early, by where it came from.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid API token")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the {0}-byte limit")]
    BodyTooLarge(usize),
    #[error("the model `{0}` does not exist or is not served here")]
    ModelNotFound(String),
    #[error("this token may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("the model `{model}` is not available on {endpoint}")]
    EndpointNotSupported {
        model: String,
        endpoint: &'static str,
    },
    /// Every channel that could serve the model is cooling down after rate limits (429 with
    /// `retry-after`), longer than the relay waits: the client is rate limited, not refused.
    #[error(
        "every channel for the model `{model}` is rate limited now; retry in {}s",
        whole_secs(.retry_after.unwrap_or(DEFAULT_WAIT))
    )]
    NoChannel {
        model: String,
        /// When the first channel comes back.
        retry_after: Option<std::time::Duration>,
    },
    /// No channel can take the request now, and `why` names each with its reason (circuit
    /// open, disabled, at capacity, no usable key).
    #[error("no channel can serve the model `{model}` now: {why}")]
    Unavailable {
        model: String,
        why: String,
        /// When a channel is expected back (the first open circuit's probe), or a short wait.
        retry_after: std::time::Duration,
    },
    #[error("the relay is overloaded ({reason}); retry later")]
    Overloaded {
        reason: &'static str,
        retry_after: std::time::Duration,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The client was too slow sending its request (a body deadline): 408.
    #[error("{0}")]
    ClientTimeout(String),
    /// An admin surface without (or with a wrong) `Authorization: Bearer <admin_token>`: 401.
    #[error("this admin surface needs Authorization: Bearer <admin_token>")]
    AdminUnauthorized,
    /// Refused whoever asks (e.g. a browser-made admin call): 403.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing served at this path here: 404.
    #[error("{0}")]
    NotFound(String),
}

impl From<convert::ConvertError> for RelayError {
    fn from(e: convert::ConvertError) -> Self {
        match e {
            convert::ConvertError::InvalidRequest(m) => RelayError::BadRequest(m),
            convert::ConvertError::InvalidUpstream(m) => {
                RelayError::Upstream(UpstreamError::Invalid(m))
            }
        }
    }
}

impl RelayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) | Self::EndpointNotSupported { .. } => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::ModelNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::NoChannel { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(u) => upstream_status(u),
            Self::ClientTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
        }
    }

    /// A short label for logs and metrics (low cardinality).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Upstream(UpstreamError::Timeout(_)) => "deadline",
            Self::Upstream(_) => "upstream_error",
            Self::NoChannel { .. } => "rate_limited",
            Self::Unavailable { .. } => "no_channel",
            Self::Overloaded { .. } => "shed",
            _ => "client_error",
        }
    }

    /// The error as a complete HTTP response in the client's format.
    pub fn into_response_for(self, format: WireFormat) -> Response {
        let status = client_status(format, self.status());
        let mut headers = HeaderMap::new();
        let body = match &self {
            Self::Upstream(UpstreamError::Status {
                status: up,
                body,
                wire,
                retry_after,
            }) => {
                for (name, value) in retry_after {
                    headers.insert(name.clone(), value.clone());
                }
                upstream_body(format, *wire, *up, body, status)
            }
            _ => own_body(format, status, &self.to_string(), self.code()),
        };
        if let Some(d) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, retry_after_secs(d));
        }
        if matches!(self, Self::AdminUnauthorized) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        (status, headers, body.to_string()).into_response()
    }

    /// The error as one SSE event, for when the response has already started.
    pub fn stream_event(&self, format: WireFormat) -> Bytes {
        let status = client_status(format, self.status());
        let body = match self {
            Self::Upstream(UpstreamError::Status {
                status: up,
                body,
                wire,
                ..
            }) => upstream_body(format, *wire, *up, body, status),
            _ => own_body(format, status, &self.to_string(), self.code()),
        };
        match format {
            WireFormat::OpenAi => crate::stream::sse::encode(None, &body.to_string()),
            WireFormat::Anthropic => crate::stream::sse::encode(Some("error"), &body.to_string()),
        }
    }

    /// The wait the relay itself advises (not an upstream's, which passes through).
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::NoChannel { retry_after, .. } => Some(retry_after.unwrap_or(DEFAULT_WAIT)),
            Self::Unavailable { retry_after, .. } | Self::Overloaded { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized => Some("invalid_api_key"),
            Self::ModelNotFound(_) => Some("model_not_found"),
            Self::BodyTooLarge(_) => Some("request_too_large"),
            Self::NoChannel { .. } => Some("rate_limit_exceeded"),
            Self::Unavailable { .. } => Some("no_channel_available"),
            Self::Overloaded { .. } => Some("relay_overloaded"),
            Self::Upstream(UpstreamError::Timeout(_)) => Some("upstream_timeout"),
            Self::Upstream(_) => Some("upstream_error"),
            Self::ClientTimeout(_) => Some("request_timeout"),
            Self::AdminUnauthorized => Some("invalid_admin_token"),
            Self::Forbidden(_) => Some("forbidden"),
            Self::NotFound(_) => Some("not_found"),
            _ => None,
        }
    }
}

/// The wait advised when nothing better is known.
const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whole seconds, rounded up, at least 1: what HTTP clients parse.
fn whole_secs(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

fn retry_after_secs(d: std::time::Duration) -> HeaderValue {
    HeaderValue::from(whole_secs(d))
}

/// Upstream status -> client status. A refused key (401/403, xAI's 400) is the channel's
/// problem, not the client's: 502.
/// 529 is Anthropic's own; OpenAI-format clients see it as 503 (see `upstream_body`).
fn upstream_status(e: &UpstreamError) -> StatusCode {
    match e {
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Status { status, body, .. } => match status.as_u16() {
            _ if rejects_key(*status, body) => StatusCode::BAD_GATEWAY,
            400..=499 | 500..=504 | 529 => *status,
            _ => StatusCode::BAD_GATEWAY,
        },
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// Status sent to a client of `format` for an upstream status `s`.
pub fn client_status(format: WireFormat, s: StatusCode) -> StatusCode {
    if s.as_u16() == 529 && format == WireFormat::OpenAi {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        s
    }
}

fn own_body(format: WireFormat, status: StatusCode, message: &str, code: Option<&str>) -> Value {
    match format {
        WireFormat::OpenAi => json!({"error": {
            "message": message,
            "type": openai_type(status),
            "param": null,
            "code": code,
        }}),
        WireFormat::Anthropic => json!({"type": "error", "error": {
            "type": anthropic_type(status),
            "message": message,
        }}),
    }
}

/// An upstream error body in the client's format: its documented fields when the formats match,
/// converted otherwise. The body was cleaned when it was read (`upstream`); the key-shape
/// redaction here is a second net.
fn upstream_body(
    format: WireFormat,
    wire: WireFormat,
    upstream: StatusCode,
    body: &[u8],
    sent: StatusCode,
) -> Value {
    let net = Redactor::default();
    if rejects_key(upstream, body) {
        let detail = convert::anthropic_error_to_openai(upstream.as_u16(), body);
        let msg = net.redact(detail["error"]["message"].as_str().unwrap_or(""));
        return own_body(
            format,
            sent,
            &format!("the upstream rejected the relay's channel credentials ({upstream}): {msg}"),
            Some("upstream_auth_failed"),
        );
    }
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let status = Some(upstream.as_u16());
    let mut out = match (format, wire) {
        (WireFormat::OpenAi, WireFormat::OpenAi) => {
            return convert::clean_openai_error(status, parsed.as_ref(), &net)
        }
        (WireFormat::Anthropic, WireFormat::Anthropic) => {
            return convert::clean_anthropic_error(status, parsed.as_ref(), &net)
        }
        (WireFormat::OpenAi, WireFormat::Anthropic) => {
            convert::anthropic_error_to_openai(upstream.as_u16(), body)
        }
        (WireFormat::Anthropic, WireFormat::OpenAi) => {
            convert::openai_error_to_anthropic(upstream.as_u16(), body)
        }
    };
    net.redact_json(&mut out);
    out
}

/// The data of an upstream's in-stream error event as a stream passed through may forward it:
/// only the documented fields of the upstream's error shape (`wire`), every secret redacted,
/// xAI's `{"code","error":"<string>"}` in OpenAI's shape. Data that is not JSON gives a generic
/// error of that shape.
pub fn sanitize_stream_error(wire: WireFormat, data: &str, redactor: &Redactor) -> String {
    let parsed = serde_json::from_str::<Value>(data).ok();
    match wire {
        WireFormat::OpenAi => convert::clean_openai_error(None, parsed.as_ref(), redactor),
        WireFormat::Anthropic => convert::clean_anthropic_error(None, parsed.as_ref(), redactor),
    }
    .to_string()
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400..=428 => "invalid_request_error",
        429 => "rate_limit_error",
        502 | 504 => "upstream_error",
        _ => "server_error",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        504 => "timeout_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    }
}

impl From<Deadline> for RelayError {
    fn from(d: Deadline) -> Self {
        RelayError::Upstream(UpstreamError::Timeout(d))
    }
}

#[cfg(test)]
mod tests;
