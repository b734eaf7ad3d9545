//! Google's error envelopes: the Google API one of the Gemini API and Vertex AI
//! (`{"error":{"code","message","status","details"}}`, pretty-printed as Google does) and the
//! OAuth token endpoint's (`{"error","error_description"}`).
//! Owns Google's status words and error details; must never decide when to fail.

use http::StatusCode;
use serde_json::{json, Value};

use super::{ApiError, ErrorKind};
use crate::Provider;

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";

/// The canonical status word (`google.rpc.Code`) of an error.
pub(crate) fn google_status(kind: ErrorKind, status: StatusCode) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::TooLarge => "INVALID_ARGUMENT",
        // The Gemini API refuses a bad key with 400 INVALID_ARGUMENT (API_KEY_INVALID).
        ErrorKind::Authentication if status == StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        ErrorKind::Authentication => "UNAUTHENTICATED",
        ErrorKind::Billing => "FAILED_PRECONDITION",
        ErrorKind::Permission => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimit => "RESOURCE_EXHAUSTED",
        ErrorKind::Server => "INTERNAL",
        ErrorKind::Overloaded => "UNAVAILABLE",
        ErrorKind::Timeout => "DEADLINE_EXCEEDED",
    }
}

/// A `google.rpc.ErrorInfo` detail.
pub(crate) fn error_info(reason: &str, service: &str) -> Value {
    json!({"@type": ERROR_INFO, "reason": reason, "domain": "googleapis.com",
        "metadata": {"service": service}})
}

/// A `google.rpc.LocalizedMessage` detail.
pub(crate) fn localized(message: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
        "message": message})
}

fn retry_info(secs: u64) -> Value {
    json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")})
}

/// The Gemini API's details of a 429: which quota, where to read about it, when to retry.
/// The quota names follow public reports of real answers (unconfirmed).
fn gemini_quota(retry_after: u64) -> [Value; 3] {
    [
        json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
            "quotaDimensions": {"location": "global"},
            "quotaValue": "60"}]}),
        json!({"@type": "type.googleapis.com/google.rpc.Help", "links": [{
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}),
        retry_info(retry_after),
    ]
}

/// Google's wording of an injected fault, where it has its own.
pub(crate) fn fault_message(provider: Provider, kind: ErrorKind) -> Option<&'static str> {
    Some(match (provider, kind) {
        (Provider::Vertex, ErrorKind::RateLimit) => "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details. (simulated)",
        (_, ErrorKind::RateLimit) => "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. (simulated)",
        (_, ErrorKind::Overloaded) => "The model is overloaded. Please try again later. (simulated)",
        (_, ErrorKind::Server) => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting (simulated)",
        (_, ErrorKind::Timeout) => "Deadline expired before operation could complete. (simulated)",
        (_, ErrorKind::Billing) => "User location is not supported for the API use. (simulated)",
        _ => return None,
    })
}

/// The Google API error body. A 429 carries `RetryInfo` (`retryDelay` from the fault's
/// `retry-after`, default 1 s): always on the Gemini API (with `QuotaFailure` and `Help`), on
/// Vertex AI only when `retry-after` was given, since Vertex's real 429s are often bare
/// (unconfirmed; a client must cope with both).
pub(crate) fn body(e: &ApiError, provider: Provider) -> Value {
    let mut details = e.details.clone();
    if e.kind == ErrorKind::RateLimit {
        match provider {
            Provider::Vertex => details.extend(e.retry_after.map(retry_info)),
            _ => details.extend(gemini_quota(e.retry_after.unwrap_or(1))),
        }
    }
    let mut error = json!({"code": e.status.as_u16(), "message": e.message,
        "status": google_status(e.kind, e.status)});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    json!({ "error": error })
}

/// The OAuth token endpoint's error body, for injected faults (its own refusals are written
/// by `vertex::oauth`). The words for server-side trouble are the ones google-auth retries
/// on (`internal_failure`, `temporarily_unavailable`); `rate_limit_exceeded` is unconfirmed.
pub(crate) fn oauth_body(e: &ApiError) -> Value {
    let error = match e.kind {
        ErrorKind::InvalidRequest | ErrorKind::TooLarge | ErrorKind::NotFound => "invalid_request",
        ErrorKind::Authentication => "invalid_grant",
        ErrorKind::Billing | ErrorKind::Permission => "unauthorized_client",
        ErrorKind::RateLimit => "rate_limit_exceeded",
        ErrorKind::Server => "internal_failure",
        ErrorKind::Overloaded | ErrorKind::Timeout => "temporarily_unavailable",
    };
    json!({"error": error, "error_description": e.message})
}

/// The error Google sends inside a stream that has begun: an overloaded model (as seen in
/// public reports of real streams; the SDK raises it as `ServerError` 503).
pub(crate) fn stream_error() -> Value {
    json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later. (simulated)",
        "status": "UNAVAILABLE"}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_quota_details() {
        let e = ApiError::for_status(Provider::Gemini, StatusCode::TOO_MANY_REQUESTS)
            .with_retry_after(Some(30));
        let b = body(&e, Provider::Gemini);
        assert_eq!(b["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(b["error"]["code"], 429);
        let details = b["error"]["details"].as_array().unwrap();
        assert!(details.iter().any(|d| d["retryDelay"] == "30s"));
        assert!(details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"));
        let e = ApiError::for_status(Provider::Vertex, StatusCode::TOO_MANY_REQUESTS);
        assert!(body(&e, Provider::Vertex)["error"].get("details").is_none());
        let e = ApiError::bad_key(Provider::Gemini, "API key not valid.");
        assert_eq!(
            body(&e, Provider::Gemini)["error"]["status"],
            "INVALID_ARGUMENT"
        );
        let e = ApiError::bad_key(Provider::Vertex, "expired");
        assert_eq!(
            body(&e, Provider::Vertex)["error"]["status"],
            "UNAUTHENTICATED"
        );
        for (code, word) in [
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
        ] {
            let e = ApiError::for_status(Provider::Gemini, StatusCode::from_u16(code).unwrap());
            assert_eq!(
                body(&e, Provider::Gemini)["error"]["status"],
                word,
                "{code}"
            );
        }
        let e = ApiError::for_status(Provider::GoogleOAuth, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(oauth_body(&e)["error"], "temporarily_unavailable");
    }
}
