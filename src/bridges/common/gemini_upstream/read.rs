//! Reading a Gemini `GenerateContentResponse` (a whole answer or one streamed chunk) into
//! neutral pieces.
//!
//! Owns: candidate 0 (the others are not converted: clients get one answer), its parts in
//! order (text, `thought: true` text, whole `functionCall`s), its `finishReason` read through
//! `providers::gemini::finish`, a blocked prompt (`promptFeedback.blockReason`, no
//! candidates) read as a content filter, `usageMetadata` through `providers::gemini::usage`.
//! Parts without a counterpart in either client format (inline media an image model wrote,
//! executable code) are left out. Must never: panic or fail on members it does not know.

use serde_json::{json, Value};

use crate::bridges::common::json::{arr, obj, req_str, Obj};
use crate::bridges::common::Side;
use crate::error::upstream_event;
use crate::providers::gemini;
use crate::upstream::Redactor;
use crate::wire::{ConvertError, SseOut, StopReason, Usage, WireFormat};
use http::HeaderMap;

const UP: Side = Side::Upstream;

/// One part of candidate 0.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Thought(String),
    /// A whole function call: its name, its arguments object, and Gemini's id when it gave one.
    Call {
        name: String,
        args: Value,
        id: Option<String>,
    },
}

/// What one response (or chunk) says.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub(crate) pieces: Vec<Piece>,
    /// The candidate's finish, or a content filter for a blocked prompt.
    pub(crate) finish: Option<StopReason>,
    pub(crate) usage: Option<Usage>,
    /// `responseId`.
    pub(crate) id: Option<String>,
}

impl Reading {
    pub(crate) fn has_calls(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Call { .. }))
    }
}

/// Candidate 0 of an answer, or its absence.
pub(crate) enum Candidate<'a> {
    /// No candidate 0: `blocked` is the prompt's `promptFeedback.blockReason`, if it gave one.
    None { blocked: Option<&'a str> },
    /// Its `finishReason` word and its parts.
    First {
        finish: Option<&'a str>,
        parts: &'a [Value],
    },
}

/// Finds candidate 0 of an answer (`r`, its object): the only one converted.
pub(crate) fn candidate(r: &Obj) -> Result<Candidate<'_>, ConvertError> {
    let candidates = match r.get("candidates") {
        None | Some(Value::Null) => &[][..],
        Some(c) => arr(c, "upstream candidates", UP)?.as_slice(),
    };
    let first = candidates
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
    let Some(c) = first else {
        let blocked = r
            .get("promptFeedback")
            .and_then(|f| f.get("blockReason"))
            .and_then(Value::as_str);
        return Ok(Candidate::None { blocked });
    };
    let c = obj(c, "upstream candidate", UP)?;
    let parts = match c.get("content").and_then(|c| c.get("parts")) {
        None | Some(Value::Null) => &[][..],
        Some(p) => arr(p, "upstream content.parts", UP)?.as_slice(),
    };
    Ok(Candidate::First {
        finish: c.get("finishReason").and_then(Value::as_str),
        parts,
    })
}

/// Reads a response or a streamed chunk.
pub(crate) fn read(v: &Value) -> Result<Reading, ConvertError> {
    let r = obj(v, "upstream response", UP)?;
    let mut out = Reading {
        usage: gemini::usage::of(v),
        id: r
            .get("responseId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Reading::default()
    };
    let (finish, parts) = match candidate(r)? {
        Candidate::None { blocked } => {
            if blocked.is_some() {
                out.finish = Some(StopReason::ContentFilter);
            }
            return Ok(out);
        }
        Candidate::First { finish, parts } => (finish, parts),
    };
    out.finish = finish.map(gemini::finish::read);
    for p in parts {
        let p = obj(p, "upstream part", UP)?;
        if let Some(t) = p.get("text") {
            let t = t
                .as_str()
                .ok_or_else(|| UP.err("upstream part text must be a string"))?;
            if t.is_empty() {
                continue;
            }
            if p.get("thought").and_then(Value::as_bool) == Some(true) {
                out.pieces.push(Piece::Thought(t.to_owned()));
            } else {
                out.pieces.push(Piece::Text(t.to_owned()));
            }
        } else if let Some(f) = p.get("functionCall") {
            let f = obj(f, "upstream functionCall", UP)?;
            let args = match f.get("args") {
                None | Some(Value::Null) => json!({}),
                Some(a @ Value::Object(_)) => a.clone(),
                Some(_) => return Err(UP.err("upstream functionCall.args must be an object")),
            };
            out.pieces.push(Piece::Call {
                name: req_str(f, "name", "upstream functionCall", UP)?.to_owned(),
                args,
                id: f
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned),
            });
        }
    }
    Ok(out)
}

/// One streamed chunk's data, read: its pieces, or, for an error chunk, the error it carries as
/// an error event in the `client`'s format (redacted by `redactor`).
pub(crate) enum Chunk {
    Read(Reading),
    Error(SseOut),
}

/// Reads one streamed chunk's data (already trimmed, not empty).
pub(crate) fn chunk(
    data: &str,
    client: WireFormat,
    redactor: &Redactor,
) -> Result<Chunk, ConvertError> {
    let v: Value =
        serde_json::from_str(data).map_err(|_| Side::Upstream.err("stream chunk is not JSON"))?;
    if is_error(&v) {
        let fault = gemini::errors::read(None, &HeaderMap::new(), data.as_bytes(), redactor);
        return Ok(Chunk::Error(upstream_event(client, &fault)));
    }
    read(&v).map(Chunk::Read)
}

/// Whether a streamed chunk is an error (`{"error": {...}}`, a Vertex array of one too).
fn is_error(v: &Value) -> bool {
    let v = match v {
        Value::Array(a) if a.len() == 1 => &a[0],
        other => other,
    };
    v.get("error").is_some_and(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_zero_parts_finish_and_usage() {
        let r = read(&json!({"candidates":[
            {"index":1,"content":{"parts":[{"text":"other"}]}},
            {"content":{"role":"model","parts":[{"text":"think","thought":true},{"text":""},
                {"text":"Hi"},{"inlineData":{"mimeType":"image/png","data":"x"}},
                {"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"s"},
                {"functionCall":{"name":"g","id":"c1"}}]},"finishReason":"MAX_TOKENS","index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2},"responseId":"abc"}))
        .unwrap();
        assert_eq!(
            r.pieces,
            vec![
                Piece::Thought("think".into()),
                Piece::Text("Hi".into()),
                Piece::Call {
                    name: "f".into(),
                    args: json!({"a":1}),
                    id: None
                },
                Piece::Call {
                    name: "g".into(),
                    args: json!({}),
                    id: Some("c1".into())
                },
            ]
        );
        assert_eq!(r.finish, Some(StopReason::MaxTokens));
        assert_eq!(r.usage.unwrap().prompt_tokens, 4);
        assert_eq!(r.id.as_deref(), Some("abc"));
        assert!(r.has_calls());
    }

    #[test]
    fn blocked_prompts_and_malformed_answers() {
        let r = read(&json!({"promptFeedback":{"blockReason":"SAFETY"}})).unwrap();
        assert_eq!(r.finish, Some(StopReason::ContentFilter));
        assert!(r.pieces.is_empty());
        assert_eq!(read(&json!({})).unwrap().finish, None);
        for bad in [
            json!([]),
            json!({"candidates":{}}),
            json!({"candidates":[1]}),
            json!({"candidates":[{"content":{"parts":{}}}]}),
            json!({"candidates":[{"content":{"parts":[{"text":1}]}}]}),
            json!({"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}),
            json!({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":[]}}]}}]}),
        ] {
            assert!(
                matches!(read(&bad), Err(ConvertError::InvalidUpstream(_))),
                "{bad}"
            );
        }
        assert!(is_error(&json!({"error":{"code":500}})));
        assert!(is_error(&json!([{"error":{"code":500}}])));
        assert!(!is_error(&json!({"error":null})));
    }
}
