//! The content-block events of a streamed Anthropic message, read for the bridges whose
//! upstream is Anthropic.
//!
//! Owns: [`block_start`] and [`block_delta`], with the protocol's rules: every block event
//! has an `index`, a delta is for the open block and of its kind (text, thinking, tool
//! input); other deltas (`signature_delta`, `citations_delta`) read as [`Delta::Other`].
//! Must never: fail on a block type newer than this code ([`Start::Other`]).

use serde_json::Value;

use super::json::{obj, req_str};
use super::Side;
use crate::wire::ConvertError;

const UP: Side = Side::Upstream;

/// What a `content_block_start` opens.
pub(crate) enum Start<'a> {
    /// With its initial text (usually empty).
    Text(&'a str),
    Thinking(&'a str),
    /// `input` is its initial JSON text: empty unless a non-empty object was given.
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: String,
    },
    Other,
}

/// The kind of an open block, that its deltas must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Thinking,
    Tool,
    Other,
}

/// What a `content_block_delta` adds to its block.
pub(crate) enum Delta<'a> {
    Text(&'a str),
    Thinking(&'a str),
    /// A fragment of a tool's input JSON.
    Json(&'a str),
    Other,
}

/// A block event's `index`.
pub(crate) fn index_of(v: &Value) -> Result<u64, ConvertError> {
    v.get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| UP.err("content block event without an index"))
}

/// A `content_block_start`: its index and what it opens.
pub(crate) fn block_start(v: &Value) -> Result<(u64, Start<'_>), ConvertError> {
    let index = index_of(v)?;
    let b = obj(
        v.get("content_block").unwrap_or(&Value::Null),
        "content_block",
        UP,
    )?;
    let text = |key: &str| b.get(key).and_then(Value::as_str).unwrap_or("");
    let start = match b.get("type").and_then(Value::as_str) {
        Some("text") => Start::Text(text("text")),
        Some("thinking") => Start::Thinking(text("thinking")),
        Some("tool_use") => Start::ToolUse {
            id: req_str(b, "id", "tool_use", UP)?,
            name: req_str(b, "name", "tool_use", UP)?,
            input: match b.get("input") {
                Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                _ => String::new(),
            },
        },
        _ => Start::Other,
    };
    Ok((index, start))
}

/// A `content_block_delta` for the `open` block (its index and kind).
pub(crate) fn block_delta(v: &Value, open: Option<(u64, Kind)>) -> Result<Delta<'_>, ConvertError> {
    let index = index_of(v)?;
    let kind = match open {
        Some((i, k)) if i == index => k,
        _ => return Err(UP.err("content_block_delta for a block that is not open")),
    };
    let d = obj(
        v.get("delta").unwrap_or(&Value::Null),
        "content_block_delta.delta",
        UP,
    )?;
    let text = |key: &str| d.get(key).and_then(Value::as_str).unwrap_or("");
    Ok(match (d.get("type").and_then(Value::as_str), kind) {
        (Some("text_delta"), Kind::Text) => Delta::Text(text("text")),
        (Some("thinking_delta"), Kind::Thinking) => Delta::Thinking(text("thinking")),
        (Some("input_json_delta"), Kind::Tool) => Delta::Json(text("partial_json")),
        (Some("text_delta" | "thinking_delta" | "input_json_delta"), _) => {
            return Err(UP.err("content_block_delta type does not match its block"));
        }
        // signature_delta, citations_delta, deltas of blocks not forwarded.
        _ => Delta::Other,
    })
}
