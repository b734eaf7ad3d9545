//! Zhipu's error answers in neutral form.
//!
//! Owns: the envelope `{"error":{"code":"1302","message":"..."}}` (the code a string or a
//! number) and what its codes mean (providers.md §5): 1000-1004 a refused key, 1113 an
//! exhausted quota (arrears), 1210-1214 an invalid request (1211: the model does not exist),
//! 1301 content filtered, 1302/1303/1305 a rate limit; any other code means what its HTTP
//! status does. Must never: fail on any input, keep the upstream's message unredacted, or show a
//! client Zhipu's envelope (`documented` is `None`: every front renders the neutral parts).

use super::super::shared::{retry_after, scalar};
use crate::upstream::Redactor;
use crate::wire::{bounded, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// An error answer: its status, headers and bounded body.
pub(crate) fn read(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let (code, message) = v.as_ref().map_or((None, None), parts);
    let kind = code
        .as_deref()
        .and_then(by_code)
        .unwrap_or_else(|| FaultKind::of_status(status));
    UpstreamFault {
        wire: WireFormat::OpenAi,
        status: Some(status),
        kind,
        message: said(code.as_deref(), message.as_deref(), r),
        retry_after: retry_after(headers),
        documented: None,
    }
}

/// The envelope's code and message, when the body holds one.
pub(crate) fn parts(v: &Value) -> (Option<String>, Option<String>) {
    match v.get("error").filter(|e| e.is_object()) {
        Some(e) => (scalar(e.get("code")), scalar(e.get("message"))),
        None => (None, None),
    }
}

/// What Zhipu said, redacted then bounded (a cut must not leave a secret's head unmatched):
/// its message, or its code when it gave no message.
pub(crate) fn said(code: Option<&str>, message: Option<&str>, r: &Redactor) -> Option<String> {
    let text = match (message, code) {
        (Some(m), _) => m.to_owned(),
        (None, Some(c)) => format!("Zhipu error code {c}"),
        (None, None) => return None,
    };
    Some(bounded(r.redact(&text).into_owned()))
}

/// What a code means, when it says more than the HTTP status.
fn by_code(code: &str) -> Option<FaultKind> {
    let n: u32 = code.trim().parse().ok()?;
    Some(match n {
        1000..=1004 => FaultKind::KeyRefused,
        1113 => FaultKind::QuotaExhausted,
        1211 => FaultKind::NotFound,
        1210..=1214 => FaultKind::InvalidRequest,
        1301 => FaultKind::ContentFiltered,
        1302 | 1303 | 1305 => FaultKind::RateLimited,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("zhipu-key-id.zhipu-secret-1")])
    }

    fn fault(status: u16, body: &str) -> UpstreamFault {
        let status = StatusCode::from_u16(status).unwrap();
        read(status, &HeaderMap::new(), body.as_bytes(), &r())
    }

    fn kind(status: u16, code: &str) -> FaultKind {
        fault(
            status,
            &format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#),
        )
        .kind
    }

    #[test]
    fn the_code_table_names_each_fault() {
        for c in ["1000", "1001", "1002", "1003", "1004"] {
            assert_eq!(kind(401, c), FaultKind::KeyRefused, "{c}");
        }
        assert_eq!(kind(429, "1113"), FaultKind::QuotaExhausted);
        assert_eq!(kind(400, "1210"), FaultKind::InvalidRequest);
        assert_eq!(kind(400, "1211"), FaultKind::NotFound);
        assert_eq!(kind(400, "1214"), FaultKind::InvalidRequest);
        assert_eq!(kind(400, "1301"), FaultKind::ContentFiltered);
        for c in ["1302", "1303", "1305"] {
            assert_eq!(kind(429, c), FaultKind::RateLimited, "{c}");
        }
        // Codes outside the table mean what their status does.
        assert_eq!(kind(500, "1234"), FaultKind::Server);
        assert_eq!(kind(503, "x"), FaultKind::Overloaded);
    }

    #[test]
    fn a_numeric_code_reads_as_its_string() {
        let f = fault(429, r#"{"error":{"code":1302,"message":"too many"}}"#);
        assert_eq!(f.kind, FaultKind::RateLimited);
        assert_eq!(f.message.as_deref(), Some("too many"));
    }

    #[test]
    fn messages_are_redacted_and_the_envelope_is_never_shown() {
        let f = fault(
            401,
            r#"{"error":{"code":"1002","message":"token zhipu-key-id.zhipu-secret-1 is invalid"}}"#,
        );
        assert_eq!(f.kind, FaultKind::KeyRefused);
        let m = f.message.unwrap();
        assert!(!m.contains("zhipu-secret-1"), "{m}");
        assert_eq!(f.documented, None);
        assert_eq!(f.wire, WireFormat::OpenAi);
    }

    #[test]
    fn other_bodies_mean_their_status() {
        let f = fault(502, "<html>bad gateway</html>");
        assert_eq!((f.kind, f.message), (FaultKind::Server, None));
        assert_eq!(fault(401, "{}").kind, FaultKind::KeyRefused);
        let f = fault(400, r#"{"error":{"code":"1214"}}"#);
        assert_eq!(f.message.as_deref(), Some("Zhipu error code 1214"));
    }
}
