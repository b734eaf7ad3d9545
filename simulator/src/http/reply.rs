//! A provider's finished answer (JSON or SSE events) before it becomes a response.
//! Owns JSON/SSE framing and content headers; must never apply faults itself.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use super::body::{ScriptBody, Step};

/// The body of a reply.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// One JSON document, sent with Content-Length in one write.
    Json(Bytes),
    /// Server-sent events, each a complete `...\n\n` block, one frame each.
    Sse(Vec<Bytes>),
    /// A JSON array streamed element by element (Gemini's `streamGenerateContent` without
    /// `alt=sse`), one frame each, without Content-Length.
    JsonArray(Vec<Bytes>),
}

/// Marks (in the response's extensions) a JSON body streamed as an array of elements, so the
/// fault layer treats its frames as a stream's events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonArrayStream;

/// Between two elements of a streamed JSON array (as Gemini writes it).
pub(crate) const ARRAY_SEP: &[u8] = b"\n,\r\n";
/// After the last element of a streamed JSON array.
pub(crate) const ARRAY_END: &[u8] = b"\n]";

/// The frames of a streamed JSON array: `[` with the first element, each further element
/// after [`ARRAY_SEP`], and [`ARRAY_END`] alone (the array's terminator).
pub(crate) fn array_frames(elements: impl IntoIterator<Item = Vec<u8>>) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = Vec::new();
    for element in elements {
        let lead: &[u8] = if out.is_empty() { b"[" } else { ARRAY_SEP };
        out.push([lead, &element].concat().into());
    }
    if out.is_empty() {
        out.push(Bytes::from_static(b"["));
    }
    out.push(Bytes::from_static(ARRAY_END));
    out
}

/// A status, extra headers and a payload.
#[derive(Clone, Debug)]
pub(crate) struct SimReply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) payload: Payload,
}

impl SimReply {
    /// A JSON reply.
    pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Self {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        SimReply {
            status,
            headers: HeaderMap::new(),
            payload: Payload::Json(bytes.into()),
        }
    }

    /// A pretty-printed JSON reply (two-space indents), as Google writes its bodies.
    pub(crate) fn json_pretty(status: StatusCode, value: &impl Serialize) -> Self {
        let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        SimReply {
            status,
            headers: HeaderMap::new(),
            payload: Payload::Json(bytes.into()),
        }
    }

    /// A 200 JSON array streamed in frames.
    pub(crate) fn json_array(frames: Vec<Bytes>) -> Self {
        SimReply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            payload: Payload::JsonArray(frames),
        }
    }

    /// A 200 event stream.
    pub(crate) fn sse(events: Vec<Bytes>) -> Self {
        SimReply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            payload: Payload::Sse(events),
        }
    }

    /// Adds headers (later values replace earlier ones).
    pub(crate) fn with_headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers {
            if let Some(name) = name {
                self.headers.insert(name, value);
            }
        }
        self
    }
}

/// One SSE event: optional `event:` line, one `data:` line, blank line.
pub(crate) fn event(name: Option<&str>, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_default();
    raw_event(name, &json)
}

/// One SSE event with a data line taken verbatim (e.g. `[DONE]`).
pub(crate) fn raw_event(name: Option<&str>, data: &str) -> Bytes {
    let mut s = String::with_capacity(data.len() + 32);
    if let Some(name) = name {
        s.push_str("event: ");
        s.push_str(name);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(data);
    s.push_str("\n\n");
    s.into()
}

/// Sets the content headers for a payload kind.
pub(crate) fn content_headers(headers: &mut HeaderMap, sse: bool) {
    if sse {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    } else {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
}

impl IntoResponse for SimReply {
    fn into_response(self) -> Response {
        let frames = |f: Vec<Bytes>| ScriptBody::new(f.into_iter().map(Step::Data).collect(), None);
        let (sse, array, body) = match self.payload {
            Payload::Json(bytes) => (false, false, ScriptBody::full(bytes)),
            Payload::Sse(events) => (true, false, frames(events)),
            Payload::JsonArray(parts) => (false, true, frames(parts)),
        };
        let mut res = Response::new(Body::new(body));
        if array {
            res.extensions_mut().insert(JsonArrayStream);
        }
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        content_headers(res.headers_mut(), sse);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_framing() {
        assert_eq!(
            event(Some("ping"), &json!({"type":"ping"})),
            Bytes::from_static(b"event: ping\ndata: {\"type\":\"ping\"}\n\n")
        );
        assert_eq!(
            raw_event(None, "[DONE]"),
            Bytes::from_static(b"data: [DONE]\n\n")
        );
        let frames = array_frames([b"{}".to_vec(), b"{\"a\": 1}".to_vec()]);
        let all = frames.concat();
        let v: serde_json::Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(v, json!([{}, {"a": 1}]));
        assert_eq!(frames.len(), 3);
    }
}
