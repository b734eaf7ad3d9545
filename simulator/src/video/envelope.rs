//! The error envelopes of the video-only providers, and each one's error code for an HTTP
//! status (used for injected `status=` faults and the simulator's own refusals):
//! Kling `{code, message, request_id}` (numeric codes, providers-media.md §5), Runway
//! `{"error"}`, Luma `{"detail"}`, Zhipu `{"error":{code, message}}`, DashScope
//! `{request_id, code, message}`, Viggle `{"detail":{error_code, message, action}}`.
//! Owns these bodies; must never decide when to fail.

use http::StatusCode;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::Provider;

fn kling_code(status: StatusCode) -> u64 {
    match status.as_u16() {
        400 => 1200,
        401 => 1000,
        403 => 1103,
        404 => 1203,
        429 => 1302,
        503 => 5001,
        504 => 5002,
        s if s >= 500 => 5000,
        _ => 1200,
    }
}

fn zhipu_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "1000",
        403 => "1220",
        404 => "1211",
        429 => "1302",
        s if s >= 500 => "500",
        _ => "1210",
    }
}

fn dashscope_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "InvalidApiKey",
        403 => "AccessDenied",
        404 => "ModelNotFound",
        408 => "RequestTimeOut",
        413 => "BadRequest.TooLarge",
        429 => "Throttling.RateQuota",
        s if s >= 500 => "InternalError",
        _ => "InvalidParameter",
    }
}

fn viggle_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "CS-ORAU-001",
        402 => "CS-ORCR-001",
        404 => "CS-ORJB-001",
        429 => "CS-ORRL-001",
        s if s >= 500 => "CS-ORSV-001",
        _ => "CS-ORIV-001",
    }
}

fn viggle_action(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "Check your API key.",
        429 => "Slow down and retry later.",
        s if s >= 500 => "Retry later.",
        _ => "Fix the request and retry.",
    }
}

/// The body of `e` as `provider` writes it (the video-only providers; others get a plain
/// `{"error":{"message"}}`).
pub(crate) fn body(e: &ApiError, provider: Provider, request_id: &str) -> Value {
    let code = e.words.as_ref().and_then(|w| w.code);
    let status = e.status;
    match provider {
        Provider::Kling => {
            let code = code
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or_else(|| kling_code(status));
            json!({"code": code, "message": e.message, "request_id": request_id})
        }
        Provider::Runway => json!({"error": e.message}),
        Provider::Luma => json!({"detail": e.message}),
        Provider::Zhipu => {
            json!({"error": {"code": code.unwrap_or_else(|| zhipu_code(status)), "message": e.message}})
        }
        Provider::Dashscope => json!({"request_id": request_id,
            "code": code.unwrap_or_else(|| dashscope_code(status)), "message": e.message}),
        Provider::Viggle => json!({"detail": {
            "error_code": code.unwrap_or_else(|| viggle_code(status)),
            "message": e.message,
            "action": viggle_action(status),
        }}),
        Provider::OpenAi
        | Provider::Anthropic
        | Provider::Xai
        | Provider::Gemini
        | Provider::Vertex
        | Provider::GoogleOAuth => json!({"error": {"message": e.message}}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = ApiError::for_status(Provider::Kling, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body(&e, Provider::Kling, "r")["code"], 1302);
        let e = ApiError::bad_key(Provider::Kling, "bad").with_code("1004");
        assert_eq!(body(&e, Provider::Kling, "r")["code"], 1004);
        let e = ApiError::for_status(Provider::Dashscope, StatusCode::UNAUTHORIZED);
        assert_eq!(body(&e, Provider::Dashscope, "r")["code"], "InvalidApiKey");
        let e = ApiError::for_status(Provider::Viggle, StatusCode::BAD_GATEWAY);
        assert_eq!(
            body(&e, Provider::Viggle, "r")["detail"]["error_code"],
            "CS-ORSV-001"
        );
        assert!(body(&e, Provider::Luma, "r")["detail"].is_string());
        assert!(body(&e, Provider::Runway, "r")["error"].is_string());
        assert_eq!(body(&e, Provider::Zhipu, "r")["error"]["code"], "500");
    }
}
