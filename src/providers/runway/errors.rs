//! Runway's errors: `{"error": "<message>"}` with the meaning of its status (502, 503 load
//! shedding: overloaded; 504 timeout), and its words for used-up credits.
//!
//! Owns: that reading. Must never: fail on any input, or keep a string the redactor has not
//! seen.

use super::super::shared::{retry_after, scalar};
use crate::upstream::Redactor;
use crate::wire::{bounded, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

pub(super) fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let message = v.as_ref().and_then(|v| match v.get("error") {
        Some(Value::Object(e)) => scalar(e.get("message")),
        other => scalar(other),
    });
    let credits = message
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("enough credits"));
    let kind = match status.as_u16() {
        502 | 503 => FaultKind::Overloaded,
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
        let r = Redactor::new(&[Secret::new("key_runway_secret_123")]);
        let s = StatusCode::from_u16(status).unwrap();
        answer(s, &HeaderMap::new(), body.as_bytes(), &r)
    }

    #[test]
    fn statuses_and_credits_classify_and_messages_are_redacted() {
        let f = read(
            400,
            r#"{"error":"Invalid API version for key_runway_secret_123"}"#,
        );
        assert_eq!(f.kind, FaultKind::InvalidRequest);
        assert_eq!(
            f.message.as_deref(),
            Some("Invalid API version for [redacted]")
        );
        assert_eq!(
            read(401, r#"{"error":"bad key"}"#).kind,
            FaultKind::KeyRefused
        );
        assert_eq!(
            read(
                400,
                r#"{"error":"You do not have enough credits to run this task."}"#
            )
            .kind,
            FaultKind::QuotaExhausted
        );
        assert_eq!(read(429, "{}").kind, FaultKind::RateLimited);
        assert_eq!(read(502, "").kind, FaultKind::Overloaded);
        assert_eq!(read(503, "").kind, FaultKind::Overloaded);
        assert_eq!(read(504, "").kind, FaultKind::Timeout);
        assert_eq!(read(500, "<html>").kind, FaultKind::Server);
        assert_eq!(read(500, "<html>").message, None);
    }
}
