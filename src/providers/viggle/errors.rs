//! Viggle's errors (API v2): `{"detail": {"error_code", "message", "action"}}`, and what its
//! codes mean: `CS-ORAU-*` a refused key, `CS-ORCR-001` used-up credits, any other code a
//! request refused on its merits.
//!
//! Owns: that reading. Must never: fail on any input, or keep a string the redactor has not
//! seen.

use super::super::shared::{retry_after, scalar};
use crate::upstream::Redactor;
use crate::wire::{bounded, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

fn kind_of(status: StatusCode, code: Option<&str>) -> FaultKind {
    match code {
        Some(c) if c.starts_with("CS-ORAU-") => FaultKind::KeyRefused,
        Some("CS-ORCR-001") => FaultKind::QuotaExhausted,
        // A code the table does not name, with a status that says the request was refused.
        Some(_) if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS => {
            FaultKind::InvalidRequest
        }
        Some(_) | None => FaultKind::of_status(status),
    }
}

pub(super) fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let detail = v.as_ref().and_then(|v| v.get("detail"));
    let (code, message) = match detail {
        Some(d @ Value::Object(_)) => (scalar(d.get("error_code")), scalar(d.get("message"))),
        other => (None, scalar(other)),
    };
    UpstreamFault {
        wire: WireFormat::OpenAi,
        status: Some(status),
        kind: kind_of(status, code.as_deref()),
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
        let r = Redactor::new(&[Secret::new("viggle-secret-key")]);
        let s = StatusCode::from_u16(status).unwrap();
        answer(s, &HeaderMap::new(), body.as_bytes(), &r)
    }

    fn env(code: &str) -> String {
        format!(
            r#"{{"detail":{{"error_code":"{code}","message":"m viggle-secret-key","action":"a"}}}}"#
        )
    }

    #[test]
    fn codes_classify_and_messages_are_redacted() {
        for (status, code, want) in [
            (401, "CS-ORAU-001", FaultKind::KeyRefused),
            (403, "CS-ORAU-002", FaultKind::KeyRefused),
            (402, "CS-ORCR-001", FaultKind::QuotaExhausted),
            (400, "CS-ORIV-001", FaultKind::InvalidRequest),
            (400, "CS-UORC01-001", FaultKind::InvalidRequest),
            (422, "CS-ORIV-004", FaultKind::InvalidRequest),
            (429, "CS-RATE-001", FaultKind::RateLimited),
            (500, "CS-INT-001", FaultKind::Server),
        ] {
            assert_eq!(read(status, &env(code)).kind, want, "{code}");
        }
        assert_eq!(
            read(400, &env("CS-ORIV-001")).message.as_deref(),
            Some("m [redacted]")
        );
        assert_eq!(read(503, "").kind, FaultKind::Overloaded);
        let plain = read(404, r#"{"detail":"Not Found"}"#);
        assert_eq!(
            (plain.kind, plain.message.as_deref()),
            (FaultKind::NotFound, Some("Not Found"))
        );
    }
}
