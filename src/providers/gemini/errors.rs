//! Gemini API and Vertex AI errors (HTTP bodies and in-stream `data: {"error":...}`) in
//! neutral form.
//!
//! Owns: the documented shape `google.rpc.Status` as Google sends it,
//! `{"error":{"code","message","status","details"}}` (kept with only those members, every
//! string redacted; Vertex may wrap it in a one-element array), and what its words mean: a
//! 400 whose `ErrorInfo` reason is `API_KEY_INVALID` (or whose message says the key is not
//! valid) is a refused key, `UNAUTHENTICATED`/`PERMISSION_DENIED` refuse the key,
//! `RESOURCE_EXHAUSTED` is a rate limit and its `RetryInfo.retryDelay` becomes `retry-after`
//! when no header says it, `UNAVAILABLE` an overload, `DEADLINE_EXCEEDED` a timeout.
//! Bodies of another shape (a proxy's) are read as OpenAI-compatible servers write errors.
//! Must never: fail on any input, keep a member outside the documented shape, or a string the
//! redactor has not seen.

use super::super::openai::errors as openai;
use super::super::shared::{retry_after, scalar};
use crate::upstream::Redactor;
use crate::wire::{bounded, message_or_default, FaultKind, UpstreamFault, WireFormat};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

/// An error of Gemini's format: an answer's (with its status and headers) or, with no status,
/// an in-stream error chunk's data.
pub(crate) fn read(
    status: Option<StatusCode>,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let v = serde_json::from_slice::<Value>(body).ok();
    let e = v.as_ref().and_then(|v| {
        let v = match v {
            Value::Array(a) if a.len() == 1 => &a[0],
            other => other,
        };
        v.get("error").filter(|e| e.is_object())
    });
    let Some(e) = e else {
        let fault = openai::read(status, headers, body, r);
        return UpstreamFault {
            wire: WireFormat::Gemini,
            documented: None,
            ..fault
        };
    };
    // Redacted before it is bounded: a cut must not leave a secret's head unmatched.
    let message = scalar(e.get("message")).map(|m| bounded(r.redact(&m).into_owned()));
    let word = e.get("status").and_then(Value::as_str).unwrap_or("");
    let code = e
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok());
    let details = e.get("details").filter(|d| d.is_array());
    let mut out = json!({"error": {
        "code": status.or(code).map_or(500, |s| s.as_u16()),
        "message": message_or_default(message.clone(), status),
        "status": if word.is_empty() { Value::Null } else { json!(word) },
    }});
    if let Some(d) = details {
        out["error"]["details"] = d.clone();
    }
    r.redact_json(&mut out);
    let key_invalid = reason_is(details, "API_KEY_INVALID")
        || message
            .as_deref()
            .is_some_and(|m| m.contains("API key not valid") || m.contains("API key expired"));
    let kind = if key_invalid {
        FaultKind::KeyRefused
    } else {
        by_words(word).unwrap_or_else(|| {
            status
                .or(code)
                .map_or(FaultKind::Server, FaultKind::of_status)
        })
    };
    let mut retry = retry_after(headers);
    if retry.is_empty() {
        retry.extend(retry_delay(details));
    }
    UpstreamFault {
        wire: WireFormat::Gemini,
        status,
        kind,
        message,
        retry_after: retry,
        documented: Some(out),
    }
}

/// A 2xx answer that holds none of the media asked for, because Google's filters withheld it
/// (or the model made none): the client's request refused on its merits, a 400 in every
/// client's shape (`error.rs` renders it), never the channel's fault.
pub(crate) fn withheld(message: String) -> UpstreamFault {
    UpstreamFault {
        kind: FaultKind::InvalidRequest,
        ..filtered(message)
    }
}

/// [`withheld`] by Google's safety filters: OpenAI's `content_policy_violation`.
pub(crate) fn filtered(message: String) -> UpstreamFault {
    UpstreamFault {
        wire: WireFormat::Gemini,
        status: Some(StatusCode::BAD_REQUEST),
        kind: FaultKind::ContentFiltered,
        message: Some(bounded(message)),
        retry_after: Vec::new(),
        documented: None,
    }
}

/// What a canonical status name means, when it says more than the HTTP status.
fn by_words(word: &str) -> Option<FaultKind> {
    Some(match word {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => FaultKind::InvalidRequest,
        "UNAUTHENTICATED" => FaultKind::KeyRefused,
        "PERMISSION_DENIED" => FaultKind::Permission,
        "NOT_FOUND" => FaultKind::NotFound,
        "RESOURCE_EXHAUSTED" => FaultKind::RateLimited,
        "UNAVAILABLE" => FaultKind::Overloaded,
        "DEADLINE_EXCEEDED" => FaultKind::Timeout,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => FaultKind::Server,
        _ => return None,
    })
}

/// Whether an `ErrorInfo` detail gives `reason`.
fn reason_is(details: Option<&Value>, reason: &str) -> bool {
    details.and_then(Value::as_array).is_some_and(|d| {
        d.iter()
            .any(|x| x.get("reason").and_then(Value::as_str) == Some(reason))
    })
}

/// `RetryInfo.retryDelay` ("37s", "1.5s") as a `retry-after` header in whole seconds.
fn retry_delay(details: Option<&Value>) -> Option<(HeaderName, HeaderValue)> {
    let delay = details?.as_array()?.iter().find_map(|d| {
        let t = d.get("@type")?.as_str()?;
        t.ends_with("google.rpc.RetryInfo")
            .then(|| d.get("retryDelay")?.as_str())
            .flatten()
    })?;
    let secs: f64 = delay.strip_suffix('s')?.parse().ok()?;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return None;
    }
    let whole = (secs.ceil() as u64).max(1);
    Some((
        HeaderName::from_static("retry-after"),
        HeaderValue::from(whole),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("AIzaconfigured-key-1")])
    }

    fn http(status: u16, body: &str) -> UpstreamFault {
        let status = StatusCode::from_u16(status).unwrap();
        read(Some(status), &HeaderMap::new(), body.as_bytes(), &r())
    }

    #[test]
    fn a_bad_key_is_a_400_that_refuses_the_key() {
        let f = http(
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",
            "status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
            "reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"key":"AIzaconfigured-key-1"}}]},
            "extra":"x"}"#,
        );
        assert_eq!(f.kind, FaultKind::KeyRefused);
        let d = f.documented.unwrap();
        assert_eq!(d["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(d.get("extra"), None);
        assert!(!d.to_string().contains("AIzaconfigured-key-1"), "{d}");
    }

    #[test]
    fn resource_exhausted_is_a_rate_limit_with_its_retry_delay() {
        let f = http(
            429,
            r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36.2s"}]}}"#,
        );
        assert_eq!(f.kind, FaultKind::RateLimited);
        assert_eq!(f.retry_after.len(), 1);
        assert_eq!(f.retry_after[0].1, "37");
        assert_eq!(
            http(
                503,
                r#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#
            )
            .kind,
            FaultKind::Overloaded
        );
        assert_eq!(
            http(
                403,
                r#"{"error":{"code":403,"message":"no","status":"PERMISSION_DENIED"}}"#
            )
            .kind,
            FaultKind::Permission
        );
    }

    #[test]
    fn withheld_media_is_the_clients_400() {
        let f = withheld("filtered".into());
        assert_eq!(
            (f.kind, f.status),
            (FaultKind::InvalidRequest, Some(StatusCode::BAD_REQUEST))
        );
        assert_eq!(f.documented, None);
        assert_eq!(filtered("no".into()).kind, FaultKind::ContentFiltered);
    }

    #[test]
    fn stream_errors_read_their_code_and_vertex_arrays_are_unwrapped() {
        let f = read(
            None,
            &HeaderMap::new(),
            br#"[{"error":{"code":500,"message":"boom","status":"INTERNAL"}}]"#,
            &r(),
        );
        assert_eq!(f.kind, FaultKind::Server);
        assert_eq!(f.status, None);
        assert_eq!(f.documented.unwrap()["error"]["code"], 500);
        let other = http(502, "<html>bad gateway</html>");
        assert_eq!(other.documented, None);
        assert_eq!(other.wire, WireFormat::Gemini);
        assert_eq!(other.kind, FaultKind::Server);
    }
}
