//! Luma's errors: `{"detail": "<message>"}` (or FastAPI's list of `{msg}` for a 422), with
//! the meaning of its status, and its words for used-up credits.
//!
//! Owns: that reading. Must never: fail on any input, or keep a string the redactor has not
//! seen.

use super::super::shared::{retry_after, scalar};
use crate::upstream::Redactor;
use crate::wire::{bounded, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

fn detail(v: &Value) -> Option<String> {
    match v.get("detail")? {
        Value::Array(items) => items.first().and_then(|i| scalar(i.get("msg"))),
        Value::Object(o) => scalar(o.get("message")).or_else(|| scalar(o.get("msg"))),
        other => scalar(Some(other)),
    }
}

pub(super) fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(detail);
    let credits = message
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("insufficient credits"));
    let kind = match status.as_u16() {
        400..=499 if credits => FaultKind::QuotaExhausted,
        _ => FaultKind::of_status(status),
    };
    UpstreamFault {
        wire: WireFormat::OpenAi,
        status: Some(status),
        kind,
        message: message.map(|m| bounded(r.redact(&m).into_owned())),
        retry_after: retry_after(headers),
        documented: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn read(status: u16, body: &str) -> UpstreamFault {
        let r = Redactor::new(&[Secret::new("luma-secret-key-123")]);
        let s = StatusCode::from_u16(status).unwrap();
        answer(s, &HeaderMap::new(), body.as_bytes(), &r)
    }

    #[test]
    fn details_classify_by_status_and_are_redacted() {
        let f = read(401, r#"{"detail":"Invalid key luma-secret-key-123"}"#);
        assert_eq!(f.kind, FaultKind::KeyRefused);
        assert_eq!(f.message.as_deref(), Some("Invalid key [redacted]"));
        assert_eq!(
            read(400, r#"{"detail":"Insufficient credits"}"#).kind,
            FaultKind::QuotaExhausted
        );
        let v = read(
            422,
            r#"{"detail":[{"loc":["body","prompt"],"msg":"field required"}]}"#,
        );
        assert_eq!(
            (v.kind, v.message.as_deref()),
            (FaultKind::InvalidRequest, Some("field required"))
        );
        assert_eq!(read(429, "{}").kind, FaultKind::RateLimited);
        assert_eq!(read(500, "oops").kind, FaultKind::Server);
        assert_eq!(read(500, "oops").message, None);
    }
}
