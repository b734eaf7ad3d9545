//! Provider errors: what went wrong, and each provider's own error envelope for it.
//! Owns the error bodies (OpenAI, Anthropic, xAI); must never decide when to fail.

use http::StatusCode;
use serde_json::{json, Value};

use crate::http::reply::SimReply;
use crate::Provider;

/// The class of an error, mapped to each provider's type/code words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidRequest,
    Authentication,
    Billing,
    Permission,
    NotFound,
    TooLarge,
    RateLimit,
    Server,
    Overloaded,
    Timeout,
}

/// An error answer of a provider.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    /// OpenAI's `param` field.
    pub(crate) param: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
        }
    }

    /// 400 invalid request.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    /// A missing or wrong key: 401, except xAI answers 400.
    pub(crate) fn bad_key(provider: Provider, message: impl Into<String>) -> Self {
        let status = match provider {
            Provider::Xai => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        Self::new(status, ErrorKind::Authentication, message)
    }

    /// 404 for a model the provider does not serve.
    pub(crate) fn unknown_model(provider: Provider, model: &str) -> Self {
        let message = match provider {
            Provider::Anthropic => format!("model: {model}"),
            _ => format!("The model `{model}` does not exist or you do not have access to it."),
        };
        let mut e = Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message);
        e.param = Some("model");
        e
    }

    /// The error a provider sends with `status` (used for injected faults).
    pub(crate) fn for_status(status: StatusCode) -> Self {
        let kind = match status.as_u16() {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimit,
            503 | 529 => ErrorKind::Overloaded,
            c if c >= 500 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        };
        let message = match kind {
            ErrorKind::RateLimit => "Rate limit reached for requests (simulated).",
            ErrorKind::Overloaded => "Overloaded (simulated).",
            ErrorKind::Timeout => "Request timed out (simulated).",
            ErrorKind::Server => {
                "The server had an error while processing your request (simulated)."
            }
            _ => "Simulated error.",
        };
        Self::new(status, kind, message)
    }

    /// The provider's error body for this error.
    pub(crate) fn body(&self, provider: Provider, request_id: &str) -> Value {
        match provider {
            Provider::OpenAi => {
                let (ty, code) = openai_words(self.kind, self.status);
                json!({"error": {"message": self.message, "type": ty, "param": self.param, "code": code}})
            }
            Provider::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(self.kind), "message": self.message},
                "request_id": request_id,
            }),
            Provider::Xai => json!({"code": xai_code(self.kind), "error": self.message}),
        }
    }

    /// The error as a reply (headers are added by the caller).
    pub(crate) fn reply(&self, provider: Provider, request_id: &str) -> SimReply {
        SimReply::json(self.status, &self.body(provider, request_id))
    }
}

fn openai_words(kind: ErrorKind, status: StatusCode) -> (&'static str, Option<&'static str>) {
    match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", None),
        ErrorKind::Authentication => ("invalid_request_error", Some("invalid_api_key")),
        ErrorKind::Billing => ("insufficient_quota", Some("insufficient_quota")),
        ErrorKind::Permission => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
        ),
        ErrorKind::NotFound => ("invalid_request_error", Some("model_not_found")),
        ErrorKind::TooLarge => ("invalid_request_error", Some("request_too_large")),
        ErrorKind::RateLimit => ("requests", Some("rate_limit_exceeded")),
        ErrorKind::Server => ("server_error", None),
        ErrorKind::Overloaded if status == StatusCode::SERVICE_UNAVAILABLE => {
            ("server_error", Some("server_is_overloaded"))
        }
        ErrorKind::Overloaded => ("server_error", Some("slow_down")),
        ErrorKind::Timeout => ("server_error", Some("timeout")),
    }
}

fn anthropic_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Billing => "billing_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::TooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Server => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
    }
}

fn xai_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::Authentication | ErrorKind::TooLarge => {
            "Client specified an invalid argument"
        }
        ErrorKind::Billing | ErrorKind::Permission => {
            "The caller does not have permission to execute the specified operation"
        }
        ErrorKind::NotFound => "Some requested entity was not found",
        ErrorKind::RateLimit => "Too many requests",
        ErrorKind::Server => "Internal error",
        ErrorKind::Overloaded => "The service is currently unavailable",
        ErrorKind::Timeout => "Deadline exceeded",
    }
}

/// The provider's in-stream error event (sent after a 200 stream has begun).
pub(crate) fn stream_error_event(provider: Provider) -> bytes::Bytes {
    use crate::http::reply::event;
    match provider {
        Provider::OpenAi => event(
            None,
            &json!({"error": {"message": "The server had an error while processing your request. (simulated)",
                "type": "server_error", "param": null, "code": null}}),
        ),
        Provider::Anthropic => event(
            Some("error"),
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        Provider::Xai => event(
            None,
            &json!({"code": "Internal error", "error": "The service encountered an error (simulated)."}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_per_provider() {
        let e = ApiError::bad_key(Provider::OpenAi, "bad");
        assert_eq!(e.status, 401);
        assert_eq!(
            e.body(Provider::OpenAi, "r")["error"]["code"],
            "invalid_api_key"
        );
        let e = ApiError::bad_key(Provider::Xai, "bad");
        assert_eq!(e.status, 400);
        assert_eq!(e.body(Provider::Xai, "r")["error"], "bad");
        let e = ApiError::for_status(StatusCode::from_u16(529).unwrap_or_default());
        let b = e.body(Provider::Anthropic, "req_1");
        assert_eq!(b["error"]["type"], "overloaded_error");
        assert_eq!(b["request_id"], "req_1");
        let e = ApiError::for_status(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            e.body(Provider::OpenAi, "r")["error"]["code"],
            "server_is_overloaded"
        );
    }
}
