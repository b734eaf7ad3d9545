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
    /// Binary content (audio, an image file) of `content_type`, one frame per chunk; with
    /// `exact`, sent with its Content-Length, else chunked.
    Binary {
        content_type: &'static str,
        chunks: Vec<Bytes>,
        exact: bool,
    },
}

/// Marks (in the response's extensions) a binary body, so the fault layer cuts it in chunks
/// of bytes rather than events, keeping its Content-Length when `exact`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BinaryBody {
    pub(crate) exact: bool,
}

/// The size of the chunks a binary body is sent (and faulted) in.
pub(crate) const BINARY_CHUNK: usize = 8 << 10;

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

    /// A 200 binary body of `content_type`, in [`BINARY_CHUNK`]s; `exact` sends its
    /// Content-Length, else it is chunked.
    pub(crate) fn binary(content_type: &'static str, bytes: Bytes, exact: bool) -> Self {
        let chunks = (0..bytes.len())
            .step_by(BINARY_CHUNK)
            .map(|at| bytes.slice(at..(at + BINARY_CHUNK).min(bytes.len())))
            .collect();
        SimReply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            payload: Payload::Binary {
                content_type,
                chunks,
                exact,
            },
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
        let mut binary = None;
        let (sse, array, body) = match self.payload {
            Payload::Json(bytes) => (false, false, ScriptBody::full(bytes)),
            Payload::Sse(events) => (true, false, frames(events)),
            Payload::JsonArray(parts) => (false, true, frames(parts)),
            Payload::Binary {
                content_type,
                chunks,
                exact,
            } => {
                binary = Some((content_type, exact));
                let len = chunks.iter().map(|c| c.len() as u64).sum();
                let steps = chunks.into_iter().map(Step::Data).collect();
                (false, false, ScriptBody::new(steps, exact.then_some(len)))
            }
        };
        let mut res = Response::new(Body::new(body));
        if array {
            res.extensions_mut().insert(JsonArrayStream);
        }
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        match binary {
            Some((content_type, exact)) => {
                res.extensions_mut().insert(BinaryBody { exact });
                res.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            None => content_headers(res.headers_mut(), sse),
        }
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
