//! Kling's errors: the `{code, message, request_id}` envelope, sent with an error status or
//! inside a 200, and what its numeric codes mean (providers-media.md §5).
//!
//! Owns: the code table (1000-1004 key refused, 1100-1102 quota, 1103 permission, 1200/1201
//! invalid, 1202/1203 not found, 1300/1301 content filtered, 1302/1303 rate limited, 1304 IP
//! not allowed, 5000-5002 server, overloaded, timeout) and the fault of an answer.
//! Must never: fail on any input, or keep a string the redactor has not seen.

use super::super::shared::{retry_after, scalar};
use super::super::video::VideoError;
use crate::upstream::Redactor;
use crate::wire::{bounded, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// A code's documented HTTP status and meaning.
fn table(code: i64) -> Option<(u16, FaultKind)> {
    Some(match code {
        1000..=1004 => (401, FaultKind::KeyRefused),
        1100..=1102 => (429, FaultKind::QuotaExhausted),
        1103 => (403, FaultKind::Permission),
        1200 | 1201 => (400, FaultKind::InvalidRequest),
        1202 | 1203 => (404, FaultKind::NotFound),
        1300 | 1301 => (400, FaultKind::ContentFiltered),
        1302 | 1303 => (429, FaultKind::RateLimited),
        // The key may not call from this address (IP allow-list): a channel problem.
        1304 => (429, FaultKind::Permission),
        5000 => (500, FaultKind::Server),
        5001 => (503, FaultKind::Overloaded),
        5002 => (504, FaultKind::Timeout),
        _ => return None,
    })
}

/// The envelope's `code`, as a number or a string of digits.
pub(super) fn code_of(v: &Value) -> Option<i64> {
    match v.get("code")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn fault(
    status: Option<StatusCode>,
    headers: &HeaderMap,
    v: Option<&Value>,
    r: &Redactor,
) -> UpstreamFault {
    let code = v.and_then(code_of);
    let known = code.and_then(table);
    let kind = match (known, status) {
        (Some((_, kind)), _) => kind,
        (None, Some(s)) => FaultKind::of_status(s),
        (None, None) => FaultKind::Server,
    };
    // A 200 that refuses is given the status Kling documents for its code.
    let status = match (status, known) {
        (Some(s), _) if s.as_u16() >= 400 => Some(s),
        (_, Some((s, _))) => StatusCode::from_u16(s).ok(),
        (s, None) => s,
    };
    let message = v
        .and_then(|v| scalar(v.get("message")))
        .map(|m| bounded(r.redact(&m).into_owned()));
    UpstreamFault {
        wire: WireFormat::OpenAi,
        status,
        kind,
        message,
        retry_after: retry_after(headers),
        documented: None,
    }
}

/// An error answer.
pub(super) fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    fault(Some(status), headers, v.as_ref(), r)
}

/// A 2xx envelope whose `code` is not 0.
pub(super) fn refused(v: &Value, r: &Redactor) -> VideoError {
    VideoError::Refused(Box::new(fault(None, &HeaderMap::new(), Some(v), r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn kind(status: u16, body: &str) -> FaultKind {
        let s = StatusCode::from_u16(status).unwrap();
        answer(s, &HeaderMap::new(), body.as_bytes(), &Redactor::default()).kind
    }

    fn env(code: i64) -> String {
        format!(r#"{{"code":{code},"message":"m","request_id":"r1"}}"#)
    }

    #[test]
    fn the_code_table_classifies() {
        for (status, codes, want) in [
            (
                401,
                &[1000, 1001, 1002, 1003, 1004][..],
                FaultKind::KeyRefused,
            ),
            (429, &[1100, 1101, 1102], FaultKind::QuotaExhausted),
            (403, &[1103], FaultKind::Permission),
            (400, &[1200, 1201], FaultKind::InvalidRequest),
            (404, &[1202, 1203], FaultKind::NotFound),
            (400, &[1300, 1301], FaultKind::ContentFiltered),
            (429, &[1302, 1303], FaultKind::RateLimited),
            (500, &[5000], FaultKind::Server),
            (503, &[5001], FaultKind::Overloaded),
            (504, &[5002], FaultKind::Timeout),
        ] {
            for &c in codes {
                assert_eq!(kind(status, &env(c)), want, "{c}");
            }
        }
        assert_eq!(
            kind(429, &env(9999)),
            FaultKind::RateLimited,
            "unknown: status"
        );
        assert_eq!(kind(502, "<html>"), FaultKind::Server);
        assert_eq!(
            kind(401, r#"{"code":"1004","message":"expired"}"#),
            FaultKind::KeyRefused
        );
    }

    #[test]
    fn a_refusal_in_a_200_has_its_documented_status_and_a_redacted_message() {
        let r = Redactor::new(&[Secret::new("ak-secret-1:sk-secret-1")]);
        let v: Value = serde_json::from_str(
            r#"{"code":1102,"message":"pack used up for ak-secret-1:sk-secret-1"}"#,
        )
        .unwrap();
        let VideoError::Refused(f) = refused(&v, &r) else {
            panic!("a refusal")
        };
        assert_eq!(f.kind, FaultKind::QuotaExhausted);
        assert_eq!(f.status, Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(f.message.as_deref(), Some("pack used up for [redacted]"));
    }
}
