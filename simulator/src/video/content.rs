//! Serving a result file: `Range: bytes=a-b` (206 with `Content-Range`, 416 when it cannot
//! be met), the body in small frames so the fault layer's `truncate`/`cut` and the task's
//! `content-cut` act mid-file, and the expired-link answers.
//! Owns byte ranges and the file body; must never decide whether a task has a result.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::http::body::{ScriptBody, Step};
use crate::http::reply::BinaryBody;

/// The frame size of a file body.
const FRAME: usize = 1024;

/// A byte range asked for, resolved against a length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    Whole,
    /// Inclusive start and end.
    Part(usize, usize),
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against `len`; anything it
/// cannot read (several ranges, other units) gets the whole file, as servers may.
pub(crate) fn wanted(headers: &HeaderMap, len: usize) -> Wanted {
    let Some(spec) = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.parse::<usize>().ok(), b.parse::<usize>().ok()) {
        (Some(a), Some(b)) if a <= b => Some((a, b.min(len.saturating_sub(1)))),
        (Some(a), None) if b.is_empty() => Some((a, len.saturating_sub(1))),
        (None, Some(n)) if a.is_empty() && n > 0 => {
            Some((len.saturating_sub(n), len.saturating_sub(1)))
        }
        _ => return Wanted::Whole,
    };
    match parsed {
        Some((a, b)) if a < len && a <= b => Wanted::Part(a, b),
        _ => Wanted::Unsatisfiable,
    }
}

/// The file `bytes` of `content_type` as the response to a request with `headers`; with
/// `cut`, the connection is aborted after that many body bytes (Content-Length still
/// promises the whole).
pub(crate) fn serve(
    bytes: Bytes,
    content_type: &'static str,
    headers: &HeaderMap,
    cut: Option<usize>,
) -> Response {
    let len = bytes.len();
    let (status, body, range) = match wanted(headers, len) {
        Wanted::Whole => (StatusCode::OK, bytes, None),
        Wanted::Part(a, b) => (
            StatusCode::PARTIAL_CONTENT,
            bytes.slice(a..=b),
            Some(format!("bytes {a}-{b}/{len}")),
        ),
        Wanted::Unsatisfiable => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(CONTENT_RANGE, v);
            }
            return res;
        }
    };
    let total = body.len();
    let send = cut.map_or(total, |n| n.min(total));
    let mut steps: Vec<Step> = (0..send)
        .step_by(FRAME)
        .map(|at| Step::Data(body.slice(at..(at + FRAME).min(send))))
        .collect();
    if send < total {
        steps.push(Step::Flush);
        steps.push(Step::Abort);
    }
    let mut res = Response::new(Body::new(ScriptBody::new(steps, Some(total as u64))));
    *res.status_mut() = status;
    res.extensions_mut().insert(BinaryBody { exact: true });
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(v) = range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert(CONTENT_RANGE, v);
    }
    res
}

/// An expired CDN link, as an object store answers it: 403 with an XML `AccessDenied`.
pub(crate) fn expired_link() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
    let mut res = (StatusCode::FORBIDDEN, body).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    res
}

/// A CDN miss: 404 with an XML `NoSuchKey`.
pub(crate) fn no_such_key() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
    let mut res = (StatusCode::NOT_FOUND, body).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, len: usize) -> Wanted {
        let mut h = HeaderMap::new();
        h.insert(RANGE, v.parse().unwrap());
        wanted(&h, len)
    }

    #[test]
    fn ranges() {
        assert_eq!(wanted(&HeaderMap::new(), 10), Wanted::Whole);
        assert_eq!(range("bytes=0-3", 10), Wanted::Part(0, 3));
        assert_eq!(range("bytes=5-", 10), Wanted::Part(5, 9));
        assert_eq!(range("bytes=-4", 10), Wanted::Part(6, 9));
        assert_eq!(range("bytes=8-100", 10), Wanted::Part(8, 9));
        assert_eq!(range("bytes=10-12", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=0-1,4-5", 10), Wanted::Whole);
        assert_eq!(range("items=0-1", 10), Wanted::Whole);
    }
}
