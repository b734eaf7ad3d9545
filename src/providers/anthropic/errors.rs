//! Anthropic errors (HTTP bodies and `event: error` data) in neutral form.
//!
//! Owns: the documented shape `{"type":"error","error":{"type","message"},"request_id"}` (kept
//! with only those fields, redacted), what its types mean (`billing_error` and 402 are an
//! exhausted quota, 529 `overloaded_error` an overload), and bodies of another shape (a proxy's
//! before Anthropic), read as OpenAI-compatible servers write errors.
//! Must never: fail on any input, keep a member outside the documented shape, or a string the
//! redactor has not seen.

use super::super::openai::errors as openai;
use super::super::shared::{retry_after, scalar, string_or_null};
use crate::upstream::Redactor;
use crate::wire::{bounded, message_or_default, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// An error of Anthropic's format: an answer's (with its status and headers) or, with no
/// status, an `event: error`'s data.
pub(crate) fn read(
    status: Option<StatusCode>,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let documented = v.as_ref().and_then(|v| {
        let e = v.get("error")?;
        let kind = e.get("type")?.as_str()?;
        Some((v, e, kind))
    });
    let Some((v, e, word)) = documented else {
        // Another shape: a proxy's (or no JSON at all), 529 still Anthropic's overload.
        let fault = openai::read(status, headers, body, r);
        let overloaded = status.is_some_and(|s| s.as_u16() == OVERLOADED);
        return UpstreamFault {
            wire: WireFormat::Anthropic,
            documented: None,
            kind: if overloaded {
                FaultKind::Overloaded
            } else {
                fault.kind
            },
            ..fault
        };
    };
    // Redacted before it is bounded: a cut must not leave a secret's head unmatched.
    let message = scalar(e.get("message")).map(|m| bounded(r.redact(&m).into_owned()));
    let mut out = json!({"type": "error", "error": {
        "type": string_or_null(e.get("type")),
        "message": message_or_default(message.clone(), status),
    }});
    if let Some(id) = v.get("request_id").filter(|id| id.is_string()) {
        out["request_id"] = id.clone();
    }
    r.redact_json(&mut out);
    UpstreamFault {
        wire: WireFormat::Anthropic,
        status,
        kind: match status {
            Some(s) => by_status(s, word),
            None => by_type(word),
        },
        message,
        retry_after: retry_after(headers),
        documented: Some(out),
    }
}

/// Anthropic's own status: overloaded.
const OVERLOADED: u16 = 529;

/// An answer's error: its status says what it means, but `billing_error` in a 4xx is an
/// exhausted quota, and 529 is Anthropic's overload.
fn by_status(status: StatusCode, word: &str) -> FaultKind {
    match status.as_u16() {
        OVERLOADED => FaultKind::Overloaded,
        400..=499 if word == "billing_error" => FaultKind::QuotaExhausted,
        _ => FaultKind::of_status(status),
    }
}

/// An in-stream error: what its type says (an unknown type is the upstream's failure).
fn by_type(word: &str) -> FaultKind {
    match word {
        "invalid_request_error" => FaultKind::InvalidRequest,
        "authentication_error" => FaultKind::KeyRefused,
        "permission_error" => FaultKind::Permission,
        "not_found_error" => FaultKind::NotFound,
        "request_too_large" => FaultKind::TooLarge,
        "rate_limit_error" => FaultKind::RateLimited,
        "billing_error" => FaultKind::QuotaExhausted,
        "overloaded_error" => FaultKind::Overloaded,
        "timeout_error" => FaultKind::Timeout,
        // api_error, and anything newer.
        _ => FaultKind::Server,
    }
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

    #[test]
    fn the_documented_shape_keeps_type_error_and_request_id() {
        let f = http(
            401,
            r#"{"type":"error","error":{"type":"authentication_error",
            "message":"invalid x-api-key sk-configured-1","debug":{"x-api-key":"sk-configured-1"}},
            "request_id":"req_1","extra":"sk-configured-1"}"#,
        );
        assert_eq!(
            f.documented,
            Some(
                json!({"type":"error","error":{"type":"authentication_error",
                "message":"invalid x-api-key [redacted]"},"request_id":"req_1"})
            )
        );
        assert_eq!(f.kind, FaultKind::KeyRefused);
    }

    #[test]
    fn other_shapes_are_read_as_a_proxys() {
        let proxy = http(
            502,
            r#"{"error":{"message":"gateway says sk-configured-1"}}"#,
        );
        assert_eq!(proxy.documented, None);
        assert_eq!(proxy.message.as_deref(), Some("gateway says [redacted]"));
        assert_eq!(proxy.kind, FaultKind::Server);
        assert_eq!(proxy.wire, WireFormat::Anthropic);
        let cut = read(None, &HeaderMap::new(), b"", &r());
        assert_eq!(
            (cut.kind, cut.message_or_default()),
            (FaultKind::Server, "upstream error".to_owned())
        );
    }

    #[test]
    fn statuses_and_types_classify() {
        let billing = r#"{"type":"error","error":{"type":"billing_error"}}"#;
        assert_eq!(http(400, billing).kind, FaultKind::QuotaExhausted);
        assert_eq!(http(402, "").kind, FaultKind::QuotaExhausted);
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(http(529, overloaded).kind, FaultKind::Overloaded);
        assert_eq!(http(529, "").kind, FaultKind::Overloaded);
        let limited =
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        assert_eq!(http(429, limited).kind, FaultKind::RateLimited);
        assert_eq!(http(413, "").kind, FaultKind::TooLarge);
        let event = |t: &str| {
            let body = format!(r#"{{"type":"error","error":{{"type":"{t}","message":"m"}}}}"#);
            read(None, &HeaderMap::new(), body.as_bytes(), &r()).kind
        };
        assert_eq!(event("overloaded_error"), FaultKind::Overloaded);
        assert_eq!(event("api_error"), FaultKind::Server);
        assert_eq!(event("something_new"), FaultKind::Server);
    }
}
