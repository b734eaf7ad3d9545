//! DashScope's error answers in neutral form.
//!
//! Owns: the body `{"request_id","code","message"}` and what its code words mean
//! (providers-media.md §5): `InvalidApiKey` a refused key, `AccessDenied*` a permission,
//! `Arrearage` an exhausted quota, `Throttling*` a rate limit, `DataInspectionFailed` (and
//! `*.DataInspection`) content filtered, `InternalError*` the server's, `RequestTimeOut` a
//! timeout, `BadRequest.TooLarge` too large, `InvalidParameter*`/`BadRequest*`/`InvalidURL`/
//! `UnsupportedOperation` an invalid request; other words mean what the HTTP status does.
//! Must never: fail on any input, keep the upstream's message unredacted, or show a client
//! DashScope's body (`documented` is `None`: every front renders the neutral parts).

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

/// The body's code word and message (top level in an error body, under `output` in a task).
pub(crate) fn parts(v: &Value) -> (Option<String>, Option<String>) {
    (scalar(v.get("code")), scalar(v.get("message")))
}

/// What DashScope said, redacted then bounded (a cut must not leave a secret's head
/// unmatched): its message, or its code word when it gave no message.
pub(crate) fn said(code: Option<&str>, message: Option<&str>, r: &Redactor) -> Option<String> {
    let text = match (message, code) {
        (Some(m), _) => m.to_owned(),
        (None, Some(c)) => format!("DashScope error {c}"),
        (None, None) => return None,
    };
    Some(bounded(r.redact(&text).into_owned()))
}

/// What a code word means, when it says more than the HTTP status.
fn by_code(code: &str) -> Option<FaultKind> {
    let family = code.split('.').next().unwrap_or(code);
    Some(match (family, code) {
        ("InvalidApiKey", _) => FaultKind::KeyRefused,
        ("AccessDenied", _) => FaultKind::Permission,
        ("Arrearage", _) => FaultKind::QuotaExhausted,
        ("Throttling", _) => FaultKind::RateLimited,
        ("DataInspectionFailed", _) => FaultKind::ContentFiltered,
        (_, c) if c.ends_with(".DataInspection") => FaultKind::ContentFiltered,
        ("InternalError", _) => FaultKind::Server,
        ("RequestTimeOut", _) => FaultKind::Timeout,
        (_, "BadRequest.TooLarge") => FaultKind::TooLarge,
        ("InvalidParameter" | "BadRequest" | "InvalidURL" | "UnsupportedOperation", _) => {
            FaultKind::InvalidRequest
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("sk-dashscope-secret-1")])
    }

    fn fault(status: u16, body: &str) -> UpstreamFault {
        let status = StatusCode::from_u16(status).unwrap();
        read(status, &HeaderMap::new(), body.as_bytes(), &r())
    }

    fn kind(status: u16, code: &str) -> FaultKind {
        fault(
            status,
            &format!(r#"{{"request_id":"r1","code":"{code}","message":"m"}}"#),
        )
        .kind
    }

    #[test]
    fn the_code_words_name_each_fault() {
        assert_eq!(kind(401, "InvalidApiKey"), FaultKind::KeyRefused);
        assert_eq!(kind(403, "AccessDenied"), FaultKind::Permission);
        assert_eq!(kind(403, "AccessDenied.Unpurchased"), FaultKind::Permission);
        assert_eq!(kind(400, "Arrearage"), FaultKind::QuotaExhausted);
        assert_eq!(kind(429, "Throttling"), FaultKind::RateLimited);
        assert_eq!(kind(429, "Throttling.RateQuota"), FaultKind::RateLimited);
        assert_eq!(
            kind(429, "Throttling.AllocationQuota"),
            FaultKind::RateLimited
        );
        assert_eq!(
            kind(400, "DataInspectionFailed"),
            FaultKind::ContentFiltered
        );
        assert_eq!(
            kind(400, "InvalidParameter.DataInspection"),
            FaultKind::ContentFiltered
        );
        assert_eq!(kind(500, "InternalError"), FaultKind::Server);
        assert_eq!(kind(500, "InternalError.Algo"), FaultKind::Server);
        assert_eq!(kind(408, "RequestTimeOut"), FaultKind::Timeout);
        assert_eq!(kind(413, "BadRequest.TooLarge"), FaultKind::TooLarge);
        assert_eq!(kind(400, "InvalidParameter"), FaultKind::InvalidRequest);
        assert_eq!(
            kind(400, "BadRequest.EmptyModel"),
            FaultKind::InvalidRequest
        );
        assert_eq!(kind(400, "InvalidURL"), FaultKind::InvalidRequest);
        // Words outside the table mean what their status does.
        assert_eq!(kind(404, "ModelNotExist"), FaultKind::NotFound);
        assert_eq!(kind(503, "Whatever"), FaultKind::Overloaded);
    }

    #[test]
    fn messages_are_redacted_and_the_body_is_never_shown() {
        let f = fault(
            401,
            r#"{"request_id":"r1","code":"InvalidApiKey","message":"Invalid API-key provided: sk-dashscope-secret-1"}"#,
        );
        assert_eq!(f.kind, FaultKind::KeyRefused);
        let m = f.message.unwrap();
        assert!(!m.contains("sk-dashscope-secret-1"), "{m}");
        assert_eq!((f.documented, f.wire), (None, WireFormat::OpenAi));
    }

    #[test]
    fn other_bodies_mean_their_status() {
        let f = fault(502, "<html>bad gateway</html>");
        assert_eq!((f.kind, f.message), (FaultKind::Server, None));
        let f = fault(403, r#"{"code":"AccessDenied"}"#);
        assert_eq!(f.message.as_deref(), Some("DashScope error AccessDenied"));
    }
}
