//! Provider error bodies -> the client's error envelope, both directions.
//!
//! Owns: `anthropic_error_to_openai`, `openai_error_to_anthropic` (also reading xAI's and
//! Gemini's shapes) and the error-type vocabularies. Must never fail, never echo a non-JSON body
//! (it may be a proxy's HTML page), and never pass through request ids or unknown fields.

use serde_json::{json, Value};

/// Longest upstream message we forward, in bytes (longer ones are cut on a char boundary).
const MAX_MESSAGE: usize = 4096;

/// Type, message and code found in any of the known error shapes.
#[derive(Default)]
struct Parts {
    kind: Option<String>,
    message: Option<String>,
    code: Option<String>,
}

pub(super) fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parts_of(v: Option<&Value>) -> Parts {
    let Some(v) = v else { return Parts::default() };
    match v.get("error") {
        // OpenAI, Anthropic, Gemini: {"error":{type|status, message, code}}
        Some(e @ Value::Object(_)) => Parts {
            kind: scalar(e.get("type")).or_else(|| scalar(e.get("status"))),
            message: scalar(e.get("message")),
            code: scalar(e.get("code")),
        },
        // xAI: {"code": "...", "error": "<message>"}
        Some(Value::String(s)) => Parts {
            kind: None,
            message: Some(s.clone()),
            code: scalar(v.get("code")),
        },
        _ => Parts {
            kind: scalar(v.get("type")),
            message: scalar(v.get("message")),
            code: scalar(v.get("code")),
        },
    }
}

pub(super) fn message_or_default(m: Option<String>, status: u16) -> String {
    match m {
        Some(mut m) => {
            if m.len() > MAX_MESSAGE {
                let mut cut = MAX_MESSAGE;
                while !m.is_char_boundary(cut) {
                    cut -= 1;
                }
                m.truncate(cut);
            }
            m
        }
        None if status >= 400 => format!("upstream error (HTTP {status})"),
        None => "upstream error".to_owned(),
    }
}

/// Anthropic error type for an HTTP status.
fn anthropic_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        s if s >= 500 => "api_error",
        s if s >= 400 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic error type -> OpenAI (type, code).
fn openai_kind(anthropic_type: &str) -> (&'static str, Option<&'static str>) {
    match anthropic_type {
        "invalid_request_error" => ("invalid_request_error", None),
        "authentication_error" => ("invalid_request_error", Some("invalid_api_key")),
        "permission_error" => ("invalid_request_error", Some("permission_denied")),
        "not_found_error" => ("invalid_request_error", Some("not_found")),
        "request_too_large" => ("invalid_request_error", Some("request_too_large")),
        "rate_limit_error" => ("rate_limit_error", Some("rate_limit_exceeded")),
        "billing_error" => ("insufficient_quota", Some("insufficient_quota")),
        "timeout_error" => ("server_error", Some("timeout")),
        "overloaded_error" => ("server_error", Some("server_is_overloaded")),
        _ => ("server_error", None),
    }
}

/// OpenAI (type, code) of an in-stream error, where no HTTP status exists -> Anthropic type.
fn anthropic_type_for_openai(kind: Option<&str>, code: Option<&str>) -> &'static str {
    match (kind, code) {
        (_, Some("rate_limit_exceeded"))
        | (Some("rate_limit_error" | "requests" | "tokens"), _) => "rate_limit_error",
        (_, Some("insufficient_quota" | "credit_balance_exhausted"))
        | (Some("insufficient_quota"), _) => "billing_error",
        (_, Some("invalid_api_key")) | (Some("authentication_error"), _) => "authentication_error",
        (_, Some("server_is_overloaded" | "slow_down")) => "overloaded_error",
        (Some("invalid_request_error"), _) => "invalid_request_error",
        _ => "api_error",
    }
}

/// An Anthropic error (HTTP body, or the data of an `event: error`) as an OpenAI error body.
/// Any input, even non-JSON, gives a well-formed `{"error":{message,type,param,code}}`.
pub fn anthropic_error_to_openai(status: u16, body: &[u8]) -> Value {
    anthropic_error_value_to_openai(status, serde_json::from_slice::<Value>(body).ok().as_ref())
}

pub(crate) fn anthropic_error_value_to_openai(status: u16, body: Option<&Value>) -> Value {
    let p = parts_of(body);
    let known = p
        .kind
        .as_deref()
        .filter(|k| k.ends_with("_error") || *k == "request_too_large");
    let (kind, code) = openai_kind(known.unwrap_or_else(|| anthropic_type_for_status(status)));
    json!({"error": {
        "message": message_or_default(p.message, status),
        "type": kind,
        "param": null,
        "code": code,
    }})
}

/// An OpenAI-compatible error (OpenAI, xAI, Gemini shapes; HTTP body or in-stream line) as an
/// Anthropic error body. Any input gives a well-formed `{"type":"error","error":{type,message}}`.
/// The type follows the HTTP status when there is one (>= 400), else the OpenAI type/code.
pub fn openai_error_to_anthropic(status: u16, body: &[u8]) -> Value {
    openai_error_value_to_anthropic(status, serde_json::from_slice::<Value>(body).ok().as_ref())
}

pub(crate) fn openai_error_value_to_anthropic(status: u16, body: Option<&Value>) -> Value {
    let p = parts_of(body);
    let by_code = anthropic_type_for_openai(p.kind.as_deref(), p.code.as_deref());
    let kind = if status >= 400 {
        match anthropic_type_for_status(status) {
            "rate_limit_error" if by_code == "billing_error" => "billing_error",
            k => k,
        }
    } else {
        by_code
    };
    json!({"type": "error", "error": {"type": kind, "message": message_or_default(p.message, status)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_to_openai_known_types() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}"#;
        assert_eq!(
            anthropic_error_to_openai(429, body),
            json!({"error":{"message":"slow down",
            "type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})
        );
        let o = anthropic_error_to_openai(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(o["error"]["code"], "server_is_overloaded");
        let o = anthropic_error_to_openai(
            401,
            br#"{"type":"error","error":{"type":"authentication_error","message":"bad key"}}"#,
        );
        assert_eq!(
            (o["error"]["type"].as_str(), o["error"]["code"].as_str()),
            (Some("invalid_request_error"), Some("invalid_api_key"))
        );
        let o = anthropic_error_to_openai(
            400,
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"m"}}"#,
        );
        assert_eq!(o["error"]["code"], Value::Null);
    }

    #[test]
    fn anthropic_to_openai_any_input_is_well_formed() {
        for (status, body) in [
            (502u16, &b"<html>bad gateway</html>"[..]),
            (500, b""),
            (413, b"{}"),
            (0, b"\xff\xfe"),
            (404, br#"{"error":"gone"}"#),
            (400, br#"{"message":7}"#),
            (200, b"[1,2]"),
        ] {
            let o = anthropic_error_to_openai(status, body);
            let e = o["error"].as_object().unwrap();
            assert!(
                e["message"].is_string() && e["type"].is_string() && e["param"].is_null(),
                "{o}"
            );
            assert!(!e["message"].as_str().unwrap().contains("html"));
        }
        assert_eq!(
            anthropic_error_to_openai(404, br#"{"error":"gone"}"#)["error"]["message"],
            "gone"
        );
        assert_eq!(
            anthropic_error_to_openai(413, b"")["error"]["code"],
            "request_too_large"
        );
        assert_eq!(
            anthropic_error_to_openai(502, b"x")["error"]["message"],
            "upstream error (HTTP 502)"
        );
    }

    #[test]
    fn openai_xai_gemini_to_anthropic() {
        let openai = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            openai_error_to_anthropic(401, openai),
            json!({"type":"error","error":{
            "type":"authentication_error","message":"Incorrect API key provided"}})
        );
        let xai = br#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***yz."}"#;
        let a = openai_error_to_anthropic(400, xai);
        assert_eq!(a["error"]["type"], "invalid_request_error");
        assert_eq!(
            a["error"]["message"],
            "Incorrect API key provided: xa***yz."
        );
        let gemini = br#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(
            openai_error_to_anthropic(429, gemini)["error"]["type"],
            "rate_limit_error"
        );
        let quota = br#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(
            openai_error_to_anthropic(429, quota)["error"]["type"],
            "billing_error"
        );
        assert_eq!(
            openai_error_to_anthropic(503, b"oops")["error"]["type"],
            "overloaded_error"
        );
        assert_eq!(
            openai_error_to_anthropic(504, b"")["error"]["type"],
            "timeout_error"
        );
        assert_eq!(
            openai_error_to_anthropic(500, b"")["error"]["message"],
            "upstream error (HTTP 500)"
        );
    }

    #[test]
    fn in_stream_openai_errors_use_type_and_code() {
        let f = |b: &[u8]| openai_error_to_anthropic(200, b)["error"]["type"].clone();
        assert_eq!(
            f(br#"{"error":{"message":"m","type":"server_error"}}"#),
            "api_error"
        );
        assert_eq!(
            f(br#"{"error":{"message":"m","type":"tokens","code":"rate_limit_exceeded"}}"#),
            "rate_limit_error"
        );
        assert_eq!(
            f(br#"{"error":{"message":"m","code":"server_is_overloaded"}}"#),
            "overloaded_error"
        );
        assert_eq!(
            f(br#"{"error":{"message":"m","type":"invalid_request_error"}}"#),
            "invalid_request_error"
        );
        assert_eq!(
            openai_error_to_anthropic(200, b"")["error"]["message"],
            "upstream error"
        );
    }

    #[test]
    fn long_messages_are_cut_on_char_boundary() {
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(5000));
        let m = openai_error_to_anthropic(500, long.as_bytes())["error"]["message"]
            .as_str()
            .unwrap()
            .len();
        assert!(m <= MAX_MESSAGE && m > MAX_MESSAGE - 4);
    }
}
