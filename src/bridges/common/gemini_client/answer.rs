//! Writing answers for a Gemini client: `GenerateContentResponse` objects, whole or as one
//! streamed chunk, and their parts.
//!
//! Owns: the candidate layout (`content` with role `model`, `finishReason` through
//! `providers::gemini::finish`, `index` 0), `usageMetadata` through `providers::gemini::usage`,
//! `modelVersion` (the client's model name) and `responseId`. Must never: write a candidate
//! whose content has no parts (Google's SDK drops such a turn from its chat history): an
//! answer with nothing to say gets one empty text part, except a filtered one, which has no
//! content, as Gemini writes it.

use serde_json::{json, Value};

use crate::providers::gemini;
use crate::wire::{StopReason, Usage};

/// A text part (`thought`: the model's thinking).
pub(crate) fn text(t: &str, thought: bool) -> Value {
    if thought {
        json!({"text": t, "thought": true})
    } else {
        json!({"text": t})
    }
}

/// A `functionCall` part; `id` is the upstream's call id when it gave one.
pub(crate) fn call(id: Option<&str>, name: &str, args: Value) -> Value {
    match id.filter(|id| !id.is_empty()) {
        Some(id) => json!({"functionCall": {"id": id, "name": name, "args": args}}),
        None => json!({"functionCall": {"name": name, "args": args}}),
    }
}

/// Who the answer is for: the client's model name and the answer's id.
pub(crate) struct Named<'a> {
    pub model: &'a str,
    pub id: &'a str,
}

/// A `GenerateContentResponse` (a whole answer, or a chunk: `finish` and `usage` on the last).
pub(crate) fn response(
    n: &Named<'_>,
    mut parts: Vec<Value>,
    finish: Option<StopReason>,
    usage: Option<Usage>,
) -> Value {
    let mut c = serde_json::Map::new();
    if parts.is_empty() && finish != Some(StopReason::ContentFilter) {
        parts.push(text("", false));
    }
    if !parts.is_empty() {
        c.insert("content".into(), json!({"role": "model", "parts": parts}));
    }
    if let Some(f) = finish {
        c.insert("finishReason".into(), json!(gemini::finish::word(f)));
    }
    c.insert("index".into(), json!(0));
    let mut r = json!({"candidates": [c]});
    if let Some(u) = usage {
        r["usageMetadata"] = gemini::usage::write(u);
    }
    r["modelVersion"] = json!(n.model);
    r["responseId"] = json!(n.id);
    r
}

/// One chunk of a Gemini stream as its client reads it: `data: <json>` and a blank line,
/// with CRLF line ends as Google writes them.
pub(crate) fn frame(data: &str) -> bytes::Bytes {
    [b"data: ".as_slice(), data.as_bytes(), b"\r\n\r\n"]
        .concat()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_always_carry_a_part_unless_filtered() {
        let n = Named {
            model: "gemini-x",
            id: "r1",
        };
        let u = Usage {
            prompt_tokens: 4,
            completion_tokens: 2,
            ..Usage::default()
        };
        let r = response(
            &n,
            vec![text("Hello", false)],
            Some(StopReason::EndTurn),
            Some(u),
        );
        assert_eq!(
            r,
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},
            "modelVersion":"gemini-x","responseId":"r1"})
        );
        let empty = response(&n, vec![], None, None);
        assert_eq!(
            empty["candidates"][0]["content"]["parts"],
            json!([{"text":""}])
        );
        assert!(empty.get("usageMetadata").is_none());
        let filtered = response(&n, vec![], Some(StopReason::ContentFilter), None);
        assert!(filtered["candidates"][0].get("content").is_none());
        assert_eq!(filtered["candidates"][0]["finishReason"], "SAFETY");
        assert_eq!(
            call(Some("c1"), "f", json!({})),
            json!({"functionCall":{"id":"c1","name":"f","args":{}}})
        );
        assert_eq!(
            call(Some(""), "f", json!({})),
            json!({"functionCall":{"name":"f","args":{}}})
        );
        assert_eq!(&frame("{}")[..], b"data: {}\r\n\r\n");
    }
}
