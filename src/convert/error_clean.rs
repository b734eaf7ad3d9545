//! Upstream errors (HTTP bodies and in-stream events) reduced to their provider's documented
//! error shape, with every string redacted.
//!
//! Owns: which fields survive. OpenAI format (OpenAI, xAI, OpenAI-compatible upstreams):
//! `{"error":{"message","type","param","code"}}`, where xAI's `{"code","error":"<string>"}` and
//! other shapes are converted to it; Anthropic: `{"type":"error","error":{"type","message"},
//! "request_id"}`.
//! Must never: keep a member outside those shapes (a `debug` member, echoed headers), keep a
//! string the redactor has not seen, or fail on any input.

use super::error_body::{
    anthropic_error_value_to_openai, message_or_default, openai_error_value_to_anthropic, scalar,
};
use crate::upstream::Redactor;
use serde_json::{json, Value};

/// A string member as is, or null.
fn string(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    }
}

/// OpenAI's `code` is a string; OpenAI-compatible servers also send numbers.
fn code(v: Option<&Value>) -> Value {
    match v {
        Some(c @ (Value::String(_) | Value::Number(_))) => c.clone(),
        _ => Value::Null,
    }
}

/// An OpenAI-format error (`status` is the HTTP status, `None` inside a stream) in OpenAI's
/// documented shape, redacted.
pub fn clean_openai_error(status: Option<u16>, v: Option<&Value>, r: &Redactor) -> Value {
    let status = status.unwrap_or(200);
    let mut out = match v.and_then(|v| v.get("error")) {
        Some(e @ Value::Object(_)) => json!({"error": {
            "message": message_or_default(scalar(e.get("message")), status),
            "type": string(e.get("type")),
            "param": string(e.get("param")),
            "code": code(e.get("code")),
        }}),
        // xAI's string errors, top-level messages (vLLM), anything else: converted, with the
        // type and code that the status says.
        _ => anthropic_error_value_to_openai(status, v),
    };
    r.redact_json(&mut out);
    out
}

/// An Anthropic-format error in Anthropic's documented shape, redacted. A body of another shape
/// (a proxy's) is converted.
pub fn clean_anthropic_error(status: Option<u16>, v: Option<&Value>, r: &Redactor) -> Value {
    let status = status.unwrap_or(200);
    let documented = v.and_then(|v| {
        let e = v
            .get("error")
            .filter(|e| e.get("type").is_some_and(Value::is_string))?;
        Some((v, e))
    });
    let mut out = match documented {
        Some((v, e)) => {
            let mut out = json!({"type": "error", "error": {
                "type": string(e.get("type")),
                "message": message_or_default(scalar(e.get("message")), status),
            }});
            if let Some(id) = v.get("request_id").filter(|id| id.is_string()) {
                out["request_id"] = id.clone();
            }
            out
        }
        None => openai_error_value_to_anthropic(status, v),
    };
    r.redact_json(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("sk-configured-1")])
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn openai_keeps_the_four_fields_and_redacts_them() {
        let body = parse(
            r#"{"error":{"message":"Incorrect API key provided: sk-configured-1.",
            "type":"invalid_request_error","param":null,"code":"invalid_api_key",
            "debug":{"authorization":"Bearer sk-configured-1"}},"debug":"x"}"#,
        );
        assert_eq!(
            clean_openai_error(Some(401), Some(&body), &r()),
            json!({"error":{"message":"Incorrect API key provided: [redacted].",
                "type":"invalid_request_error","param":null,"code":"invalid_api_key"}})
        );
        let numeric = parse(r#"{"error":{"message":"m","code":400,"param":{"x":1}}}"#);
        assert_eq!(
            clean_openai_error(Some(400), Some(&numeric), &r()),
            json!({"error":{"message":"m","type":null,"param":null,"code":400}})
        );
    }

    #[test]
    fn xai_and_other_shapes_become_openais() {
        let xai = parse(
            r#"{"code":"Client specified an invalid argument",
            "error":"Incorrect API key provided: sk-configured-1.","debug":{"k":"v"}}"#,
        );
        let out = clean_openai_error(Some(400), Some(&xai), &r());
        assert_eq!(
            out,
            json!({"error":{"message":"Incorrect API key provided: [redacted].",
                "type":"invalid_request_error","param":null,"code":null}})
        );
        let vllm = parse(r#"{"object":"error","message":"too long","type":"BadRequestError"}"#);
        assert_eq!(
            clean_openai_error(Some(400), Some(&vllm), &r())["error"]["message"],
            "too long"
        );
        let in_stream = clean_openai_error(None, None, &r());
        assert_eq!(in_stream["error"]["message"], "upstream error");
        assert_eq!(in_stream["error"]["type"], "server_error");
    }

    #[test]
    fn anthropic_keeps_type_error_and_request_id() {
        let body = parse(
            r#"{"type":"error","error":{"type":"authentication_error",
            "message":"invalid x-api-key sk-configured-1","debug":{"x-api-key":"sk-configured-1"}},
            "request_id":"req_1","extra":"sk-configured-1"}"#,
        );
        assert_eq!(
            clean_anthropic_error(Some(401), Some(&body), &r()),
            json!({"type":"error","error":{"type":"authentication_error",
                "message":"invalid x-api-key [redacted]"},"request_id":"req_1"})
        );
        let proxy = parse(r#"{"error":{"message":"gateway says sk-configured-1"}}"#);
        assert_eq!(
            clean_anthropic_error(Some(502), Some(&proxy), &r()),
            json!({"type":"error","error":{"type":"api_error",
                "message":"gateway says [redacted]"}})
        );
        let cut = clean_anthropic_error(None, None, &r());
        assert_eq!(cut["error"]["type"], "api_error");
    }
}
