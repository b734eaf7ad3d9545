//! The one place where internal errors become client-facing error bodies.
//!
//! Owns: status codes and the client's error shapes (OpenAI's and Anthropic's envelopes), before
//! and inside a stream, for the relay's own errors and for upstream faults: a fault reaches a
//! client of its upstream's format in its documented shape, and any other client rendered from
//! its neutral kind and message. Every answer, the panic's 500 included, is a variant here:
//! nothing rewrites a status after this mapping.
//! Must never: return a 2xx for an error, leak a provider key, or panic on odd upstream bodies.

use crate::limits::LimitError;
use crate::relay::Outcome;
use crate::upstream::{Deadline, Redactor, UpstreamError};
use crate::wire::{ConvertError, FaultKind, SseOut, UpstreamFault, WireFormat};
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
    /// A multipart upload over its family's `max_body` (announced, or as read): 413 in
    /// OpenAI's own words and type (`server_error`).
    #[error("Maximum content size limit ({limit}) exceeded ({read} bytes read)")]
    UploadTooLarge { limit: usize, read: u64 },
    #[error("the model `{0}` does not exist or is not served here")]
    ModelNotFound(String),
    #[error("this token may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("the model `{model}` is not available on {endpoint}")]
    EndpointNotSupported {
        model: String,
        endpoint: &'static str,
    },
    /// The model's channels speak a format no bridge converts the client's to: 400.
    #[error("the model `{model}` cannot be served here: {refused}")]
    Unbridged {
        model: String,
        refused: crate::bridges::Refused,
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
    /// Every enabled channel of the model is at its own rate limit (`rpm`, `tpm`): 429
    /// `rate_limit_exceeded` with `retry-after` (the soonest channel's wait).
    #[error(
        "every channel for the model `{model}` is at its rate limit; retry in {}s",
        whole_secs(*.retry_after)
    )]
    ChannelLimit {
        model: String,
        retry_after: std::time::Duration,
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
    /// The relay failed (a handler panicked): 500, never the client's fault.
    #[error("internal relay error")]
    Internal,
    /// Video tasks could not be read or written (no store configured, or the store failed or
    /// timed out): 503, the relay's, not the client's or a channel's.
    #[error("{0}")]
    TasksUnavailable(String),
    /// The store's token refused the request (unknown, disabled, a model or address it may
    /// not use, a rate limit, its quota) or could not be checked: 401, 403, 429 or 503.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl From<ConvertError> for RelayError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::InvalidRequest(m) => RelayError::BadRequest(m),
            ConvertError::InvalidUpstream(m) => RelayError::Upstream(UpstreamError::Invalid(m)),
        }
    }
}

impl RelayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) | Self::EndpointNotSupported { .. } | Self::Unbridged { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::BodyTooLarge(_) | Self::UploadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::ModelNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::NoChannel { .. } | Self::ChannelLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(u) => upstream_status(u),
            Self::ClientTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TasksUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Limit(e) => e.status(),
        }
    }

    /// How a request that ends with this error ended.
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            Self::Upstream(UpstreamError::Timeout(_)) => Outcome::Deadline,
            Self::Upstream(_) => Outcome::UpstreamError,
            Self::NoChannel { .. } | Self::ChannelLimit { .. } => Outcome::RateLimited,
            Self::Unavailable { .. } => Outcome::NoChannel,
            Self::Overloaded { .. } => Outcome::Shed,
            Self::Internal | Self::TasksUnavailable(_) => Outcome::Internal,
            Self::Limit(e) => match e {
                LimitError::RateLimited(_) => Outcome::RateLimited,
                LimitError::QuotaExceeded(_) => Outcome::QuotaExceeded,
                LimitError::SpoolFull | LimitError::Unavailable => Outcome::Shed,
                LimitError::Unknown
                | LimitError::Revoked
                | LimitError::Disabled
                | LimitError::Expired
                | LimitError::ModelNotAllowed(_)
                | LimitError::IpNotAllowed => Outcome::ClientError,
            },
            Self::Unauthorized
            | Self::BadRequest(_)
            | Self::BodyTooLarge(_)
            | Self::UploadTooLarge { .. }
            | Self::ModelNotFound(_)
            | Self::ModelNotAllowed(_)
            | Self::EndpointNotSupported { .. }
            | Self::Unbridged { .. }
            | Self::ClientTimeout(_)
            | Self::AdminUnauthorized
            | Self::Forbidden(_)
            | Self::NotFound(_) => Outcome::ClientError,
        }
    }

    /// The error as a complete HTTP response in the client's format.
    pub fn into_response_for(self, format: WireFormat) -> Response {
        let status = client_status(format, self.status());
        let mut headers = HeaderMap::new();
        let body = match &self {
            Self::Upstream(UpstreamError::Status(fault)) => {
                for (name, value) in &fault.retry_after {
                    headers.insert(name.clone(), value.clone());
                }
                upstream_body(format, fault, status)
            }
            Self::Limit(e) => {
                for (name, value) in e.headers() {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        headers.insert(name, v);
                    }
                }
                limit_body(format, status, e)
            }
            Self::UploadTooLarge { .. } => upload_too_large_body(format, status, &self.to_string()),
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
            Self::Upstream(UpstreamError::Status(fault)) => upstream_body(format, fault, status),
            Self::Limit(e) => limit_body(format, status, e),
            Self::UploadTooLarge { .. } => upload_too_large_body(format, status, &self.to_string()),
            _ => own_body(format, status, &self.to_string(), self.code()),
        };
        let event = framed(format, &body);
        crate::stream::sse::encode(event.event, &event.data)
    }

    /// The wait the relay itself advises (not an upstream's, which passes through).
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::NoChannel { retry_after, .. } => Some(retry_after.unwrap_or(DEFAULT_WAIT)),
            Self::Unavailable { retry_after, .. }
            | Self::Overloaded { retry_after, .. }
            | Self::ChannelLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    fn code(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized => Some("invalid_api_key"),
            Self::ModelNotFound(_) => Some("model_not_found"),
            Self::BodyTooLarge(_) => Some("request_too_large"),
            Self::NoChannel { .. } | Self::ChannelLimit { .. } => Some("rate_limit_exceeded"),
            Self::Unavailable { .. } => Some("no_channel_available"),
            Self::Overloaded { .. } => Some("relay_overloaded"),
            Self::Upstream(UpstreamError::Timeout(_)) => Some("upstream_timeout"),
            Self::Upstream(_) => Some("upstream_error"),
            Self::ClientTimeout(_) => Some("request_timeout"),
            Self::AdminUnauthorized => Some("invalid_admin_token"),
            Self::Forbidden(_) => Some("forbidden"),
            Self::NotFound(_) => Some("not_found"),
            Self::Internal => Some("internal_error"),
            Self::TasksUnavailable(_) => Some("tasks_unavailable"),
            Self::Unbridged { .. } => Some("unsupported_format"),
            Self::Limit(e) => Some(e.code()),
            Self::BadRequest(_)
            | Self::UploadTooLarge { .. }
            | Self::ModelNotAllowed(_)
            | Self::EndpointNotSupported { .. } => None,
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

/// Upstream status -> client status. A refused key (401/403, a provider's own way of saying
/// it) is the channel's problem, not the client's: 502.
/// 529 is Anthropic's own; OpenAI-format clients see it as 503 (see `client_status`).
fn upstream_status(e: &UpstreamError) -> StatusCode {
    match e {
        UpstreamError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        UpstreamError::Status(f) if f.kind.refuses_key() => StatusCode::BAD_GATEWAY,
        UpstreamError::Status(f) => match f.status {
            Some(s) if matches!(s.as_u16(), 400..=499 | 500..=504 | 529) => s,
            _ => StatusCode::BAD_GATEWAY,
        },
        UpstreamError::Connect(_)
        | UpstreamError::Read(_)
        | UpstreamError::TooLarge(_)
        | UpstreamError::Invalid(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Status sent to a client of `format` for an upstream status `s`: 529 is Anthropic's own.
pub(crate) fn client_status(format: WireFormat, s: StatusCode) -> StatusCode {
    let knows_529 = match format {
        WireFormat::OpenAi | WireFormat::Gemini => false,
        WireFormat::Anthropic => true,
    };
    if s.as_u16() == 529 && !knows_529 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        s
    }
}

/// The client's error shape: OpenAI's `{"error":{message,type,param,code}}`, Anthropic's
/// `{"type":"error","error":{type,message}}`, Google's `google.rpc.Status`
/// (`{"error":{code,message,status}}`).
fn envelope(format: WireFormat, message: &str, words: Words) -> Value {
    match format {
        WireFormat::OpenAi => json!({"error": {
            "message": message,
            "type": words.openai_type,
            "param": null,
            "code": words.code,
        }}),
        WireFormat::Anthropic => json!({"type": "error", "error": {
            "type": words.anthropic_type,
            "message": message,
        }}),
        WireFormat::Gemini => json!({"error": {
            "code": words.google.0,
            "message": message,
            "status": words.google.1,
        }}),
    }
}

/// What an error is called in each client format.
struct Words {
    openai_type: &'static str,
    code: Option<&'static str>,
    anthropic_type: &'static str,
    /// Google's HTTP code and canonical status name.
    google: (u16, &'static str),
}

/// An error of the relay's own, its type following its status.
fn own_body(
    format: WireFormat,
    status: StatusCode,
    message: &str,
    code: Option<&'static str>,
) -> Value {
    let words = Words {
        openai_type: openai_type(status),
        code,
        anthropic_type: anthropic_type(status),
        google: (status.as_u16(), google_status(status)),
    };
    envelope(format, message, words)
}

/// A token's refusal in the client's format: a spent quota is `insufficient_quota` for OpenAI
/// clients (as OpenAI says it), the rest follow their status.
fn limit_body(format: WireFormat, status: StatusCode, e: &LimitError) -> Value {
    let openai_type = match e {
        LimitError::QuotaExceeded(_) => "insufficient_quota",
        LimitError::Unknown
        | LimitError::Revoked
        | LimitError::Disabled
        | LimitError::Expired
        | LimitError::ModelNotAllowed(_)
        | LimitError::IpNotAllowed
        | LimitError::RateLimited(_)
        | LimitError::SpoolFull
        | LimitError::Unavailable => openai_type(status),
    };
    let words = Words {
        openai_type,
        code: Some(e.code()),
        anthropic_type: anthropic_type(status),
        google: (status.as_u16(), google_status(status)),
    };
    envelope(format, &e.to_string(), words)
}

/// An upload over its size limit as OpenAI says it (`server_error`, no code); other formats
/// follow the status.
fn upload_too_large_body(format: WireFormat, status: StatusCode, message: &str) -> Value {
    let words = Words {
        openai_type: "server_error",
        code: None,
        anthropic_type: anthropic_type(status),
        google: (status.as_u16(), google_status(status)),
    };
    envelope(format, message, words)
}

/// An upstream error answer in the client's format (a refused key is the relay's own 502,
/// naming the upstream's status and message). The fault was redacted when it was read; the
/// key-shape redaction here is a second net.
fn upstream_body(format: WireFormat, fault: &UpstreamFault, sent: StatusCode) -> Value {
    if fault.kind.refuses_key() {
        let up = fault
            .status
            .map_or_else(|| "an error event".to_owned(), |s| s.to_string());
        let msg = Redactor::default()
            .redact(&fault.message_or_default())
            .into_owned();
        return own_body(
            format,
            sent,
            &format!("the upstream rejected the relay's channel credentials ({up}): {msg}"),
            Some("upstream_auth_failed"),
        );
    }
    upstream_error_body(format, fault)
}

/// An upstream fault in the client's format: its documented shape when the client speaks its
/// upstream's format (only its documented fields, already redacted), else rendered from its
/// kind and message. Key shapes are redacted once more either way.
pub(crate) fn upstream_error_body(client: WireFormat, fault: &UpstreamFault) -> Value {
    let mut out = match &fault.documented {
        Some(documented) if fault.wire == client => documented.clone(),
        _ => {
            let mut words = fault_words(fault.kind);
            if let Some(s) = fault.status {
                words.google = (s.as_u16(), google_status(s));
            }
            envelope(client, &fault.message_or_default(), words)
        }
    };
    Redactor::default().redact_json(&mut out);
    out
}

/// An upstream's in-stream error event as the client's error event (`data: {"error":...}`, or
/// `event: error`).
pub(crate) fn upstream_event(client: WireFormat, fault: &UpstreamFault) -> SseOut {
    framed(client, &upstream_error_body(client, fault))
}

fn framed(format: WireFormat, body: &Value) -> SseOut {
    let event = match format {
        WireFormat::OpenAi | WireFormat::Gemini => None,
        WireFormat::Anthropic => Some("error"),
    };
    SseOut {
        event,
        data: body.to_string(),
    }
}

/// What a kind of upstream fault is called in each client format.
fn fault_words(kind: FaultKind) -> Words {
    let (openai_type, code, anthropic_type) = match kind {
        FaultKind::InvalidRequest => ("invalid_request_error", None, "invalid_request_error"),
        FaultKind::ContentFiltered => (
            "invalid_request_error",
            Some("content_policy_violation"),
            "invalid_request_error",
        ),
        FaultKind::KeyRefused => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "authentication_error",
        ),
        FaultKind::Permission => (
            "invalid_request_error",
            Some("permission_denied"),
            "permission_error",
        ),
        FaultKind::NotFound => (
            "invalid_request_error",
            Some("not_found"),
            "not_found_error",
        ),
        FaultKind::TooLarge => (
            "invalid_request_error",
            Some("request_too_large"),
            "request_too_large",
        ),
        FaultKind::RateLimited => (
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            "rate_limit_error",
        ),
        FaultKind::QuotaExhausted => (
            "insufficient_quota",
            Some("insufficient_quota"),
            "billing_error",
        ),
        FaultKind::Overloaded => (
            "server_error",
            Some("server_is_overloaded"),
            "overloaded_error",
        ),
        FaultKind::Timeout => ("server_error", Some("timeout"), "timeout_error"),
        FaultKind::Server => ("server_error", None, "api_error"),
    };
    let google = match kind {
        FaultKind::InvalidRequest | FaultKind::ContentFiltered | FaultKind::TooLarge => {
            (400, "INVALID_ARGUMENT")
        }
        FaultKind::KeyRefused => (401, "UNAUTHENTICATED"),
        FaultKind::Permission => (403, "PERMISSION_DENIED"),
        FaultKind::NotFound => (404, "NOT_FOUND"),
        FaultKind::RateLimited | FaultKind::QuotaExhausted => (429, "RESOURCE_EXHAUSTED"),
        FaultKind::Overloaded => (503, "UNAVAILABLE"),
        FaultKind::Timeout => (504, "DEADLINE_EXCEEDED"),
        FaultKind::Server => (500, "INTERNAL"),
    };
    Words {
        openai_type,
        code,
        anthropic_type,
        google,
    }
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

/// Google's canonical status name for an HTTP status (`google.rpc.Code`).
fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 411 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        400..=498 => "FAILED_PRECONDITION",
        501 => "UNIMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl From<Deadline> for RelayError {
    fn from(d: Deadline) -> Self {
        RelayError::Upstream(UpstreamError::Timeout(d))
    }
}

#[cfg(test)]
mod tests;
