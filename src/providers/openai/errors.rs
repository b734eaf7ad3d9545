//! OpenAI-format errors (HTTP bodies and in-stream events) in neutral form.
//!
//! Owns: the documented envelope `{"error":{"message","type","param","code"}}` (kept with only
//! those fields, redacted), the other shapes OpenAI-compatible servers write (`{"code","error":
//! "<text>"}` as xAI and llama.cpp do, a top-level `message` as vLLM does), and what the words
//! mean: `insufficient_quota` and `credit_balance_exhausted` are an exhausted quota, in a stream
//! `rate_limit_exceeded`, `invalid_api_key`, `server_is_overloaded`... Must never: fail on any
//! input, keep a member outside the documented envelope, or a string the redactor has not seen.

use super::super::shared::{retry_after, scalar, string_or_null};
use crate::upstream::Redactor;
use crate::wire::{bounded, message_or_default, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// The type (or Gemini's `status` word), message and code of any of the shapes.
#[derive(Default)]
struct Parts {
    kind: Option<String>,
    message: Option<String>,
    code: Option<String>,
}

fn parts_of(v: Option<&Value>) -> Parts {
    let Some(v) = v else {
        return Parts::default();
    };
    match v.get("error") {
        Some(e @ Value::Object(_)) => Parts {
            kind: scalar(e.get("type")).or_else(|| scalar(e.get("status"))),
            message: scalar(e.get("message")),
            code: scalar(e.get("code")),
        },
        // xAI, llama.cpp: {"code": ..., "error": "<message>"}
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

/// An error of the OpenAI format: an answer's (with its status and headers) or, with no
/// status, an in-stream event's data.
pub(crate) fn read(
    status: Option<StatusCode>,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let p = parts_of(v.as_ref());
    let kind = match status {
        Some(s) if s.as_u16() >= 400 => by_status(s, &p),
        _ => by_words(&p),
    };
    // Redacted before it is bounded: a cut must not leave a secret's head unmatched.
    let message = p.message.map(|m| bounded(r.redact(&m).into_owned()));
    let documented = v
        .as_ref()
        .and_then(|v| documented(status, v, message.clone(), r));
    UpstreamFault {
        wire: WireFormat::OpenAi,
        status,
        kind,
        message,
        retry_after: retry_after(headers),
        documented,
    }
}

/// An error answer of an OpenAI-format upstream.
pub(crate) fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    read(Some(status), headers, body, r)
}

/// OpenAI's own words for a used-up quota.
const QUOTA: [&str; 2] = ["insufficient_quota", "credit_balance_exhausted"];

fn by_status(status: StatusCode, p: &Parts) -> FaultKind {
    let quota = [&p.kind, &p.code]
        .into_iter()
        .flatten()
        .any(|w| QUOTA.contains(&w.as_str()));
    if quota && status.is_client_error() {
        FaultKind::QuotaExhausted
    } else {
        FaultKind::of_status(status)
    }
}

/// An error with no status (inside a stream): what its type and code say.
fn by_words(p: &Parts) -> FaultKind {
    match (p.kind.as_deref(), p.code.as_deref()) {
        (_, Some("rate_limit_exceeded"))
        | (Some("rate_limit_error" | "requests" | "tokens"), _) => FaultKind::RateLimited,
        (_, Some("insufficient_quota" | "credit_balance_exhausted"))
        | (Some("insufficient_quota"), _) => FaultKind::QuotaExhausted,
        (_, Some("invalid_api_key")) | (Some("authentication_error"), _) => FaultKind::KeyRefused,
        (_, Some("server_is_overloaded" | "slow_down")) => FaultKind::Overloaded,
        (Some("invalid_request_error"), _) => FaultKind::InvalidRequest,
        _ => FaultKind::Server,
    }
}

/// The documented envelope with only its four fields, redacted; `None` for other shapes.
fn documented(
    status: Option<StatusCode>,
    v: &Value,
    message: Option<String>,
    r: &Redactor,
) -> Option<Value> {
    let e = v.get("error").filter(|e| e.is_object())?;
    // OpenAI's `code` is a string; OpenAI-compatible servers also send numbers.
    let code = match e.get("code") {
        Some(c @ (Value::String(_) | Value::Number(_))) => c.clone(),
        _ => Value::Null,
    };
    let mut out = json!({"error": {
        "message": message_or_default(message, status),
        "type": string_or_null(e.get("type")),
        "param": string_or_null(e.get("param")),
        "code": code,
    }});
    r.redact_json(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("sk-configured-1")])
    }

    fn http(status: u16, body: &str) -> UpstreamFault {
        let status = StatusCode::from_u16(status).unwrap();
        read(Some(status), &HeaderMap::new(), body.as_bytes(), &r())
    }

    fn event(body: &str) -> UpstreamFault {
        read(None, &HeaderMap::new(), body.as_bytes(), &r())
    }

    #[test]
    fn the_envelope_keeps_its_four_fields_redacted() {
        let f = http(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-configured-1.",
            "type":"invalid_request_error","param":null,"code":"invalid_api_key",
            "debug":{"authorization":"Bearer sk-configured-1"}},"debug":"x"}"#,
        );
        assert_eq!(
            f.documented,
            Some(
                json!({"error":{"message":"Incorrect API key provided: [redacted].",
                "type":"invalid_request_error","param":null,"code":"invalid_api_key"}})
            )
        );
        assert_eq!(
            f.message.as_deref(),
            Some("Incorrect API key provided: [redacted].")
        );
        assert_eq!(f.kind, FaultKind::KeyRefused);
        let numeric = http(
            400,
            r#"{"error":{"message":"m","code":400,"param":{"x":1}}}"#,
        );
        assert_eq!(
            numeric.documented,
            Some(json!({"error":{"message":"m","type":null,"param":null,"code":400}}))
        );
    }

    #[test]
    fn other_shapes_keep_their_message_but_no_documented_body() {
        let xai = http(
            400,
            r#"{"code":"Client specified an invalid argument",
            "error":"Incorrect API key provided: sk-configured-1.","debug":{"k":"v"}}"#,
        );
        assert_eq!(xai.documented, None);
        assert_eq!(
            xai.message.as_deref(),
            Some("Incorrect API key provided: [redacted].")
        );
        assert_eq!(xai.kind, FaultKind::InvalidRequest, "xAI's words are xAI's");
        let vllm = http(
            400,
            r#"{"object":"error","message":"too long","type":"BadRequestError"}"#,
        );
        assert_eq!(vllm.message.as_deref(), Some("too long"));
        let page = http(502, "<html>sk-configured-1</html>");
        assert_eq!((page.message, page.documented), (None, None));
        assert_eq!(page.kind, FaultKind::Server);
    }

    #[test]
    fn statuses_and_quota_words_classify() {
        let rl = r#"{"error":{"type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(http(429, rl).kind, FaultKind::RateLimited);
        for quota in [
            r#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#,
            r#"{"error":{"code":"credit_balance_exhausted"}}"#,
        ] {
            assert_eq!(http(429, quota).kind, FaultKind::QuotaExhausted, "{quota}");
            assert_eq!(http(400, quota).kind, FaultKind::QuotaExhausted, "{quota}");
            assert_eq!(http(500, quota).kind, FaultKind::Server, "{quota}");
        }
        assert_eq!(http(402, "").kind, FaultKind::QuotaExhausted);
        assert_eq!(http(403, "").kind, FaultKind::Permission);
        assert_eq!(http(503, "oops").kind, FaultKind::Overloaded);
        assert_eq!(http(504, "").kind, FaultKind::Timeout);
        assert_eq!(http(529, "").kind, FaultKind::Server);
        let gemini = r#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(http(429, gemini).kind, FaultKind::RateLimited);
    }

    #[test]
    fn in_stream_errors_classify_by_type_and_code() {
        let k = |b: &str| event(b).kind;
        assert_eq!(
            k(r#"{"error":{"message":"m","type":"server_error"}}"#),
            FaultKind::Server
        );
        assert_eq!(
            k(r#"{"error":{"message":"m","type":"tokens","code":"rate_limit_exceeded"}}"#),
            FaultKind::RateLimited
        );
        assert_eq!(
            k(r#"{"error":{"message":"m","code":"server_is_overloaded"}}"#),
            FaultKind::Overloaded
        );
        assert_eq!(
            k(r#"{"error":{"message":"m","type":"invalid_request_error"}}"#),
            FaultKind::InvalidRequest
        );
        assert_eq!(
            k(r#"{"code":"Internal error","error":"oops"}"#),
            FaultKind::Server
        );
        let cut = event("");
        assert_eq!(
            (cut.message_or_default(), cut.kind),
            ("upstream error".to_owned(), FaultKind::Server)
        );
    }
}
