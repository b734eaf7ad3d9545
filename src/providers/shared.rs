//! What the providers share: URL joining, JSON request headers, the `retry-after` headers of an
//! error answer, small readers of JSON error members, and the usage member of a whole answer.
//!
//! Owns: those helpers, which know no provider's words. Must never: fail on any input.

use crate::upstream::UpstreamError;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// Joins a base URL and a path without doubling or dropping the slash.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The channel's extra headers with a JSON content type.
pub(crate) fn json_headers(extra: &HeaderMap) -> HeaderMap {
    let mut h = extra.clone();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

/// `retry-after` and `retry-after-ms`, as the upstream sent them.
pub(crate) fn retry_after(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    ["retry-after", "retry-after-ms"]
        .into_iter()
        .filter_map(|n| Some((HeaderName::from_static(n), headers.get(n)?.clone())))
        .collect()
}

/// A non-empty string or a number member, as text.
pub(crate) fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string member as is, or null.
pub(crate) fn string_or_null(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    }
}

/// The `usage` member of a whole answer, only that member built, the body checked to be one
/// whole JSON object on the way (a cut or broken body is the upstream's fault, not a 200).
pub(crate) fn usage_member(body: &[u8]) -> Result<Option<Value>, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct UsageOnly {
        usage: Option<Value>,
    }
    serde_json::from_slice::<UsageOnly>(body)
        .map(|u| u.usage)
        .map_err(|e| UpstreamError::Invalid(format!("the upstream body is not JSON: {e}")))
}
