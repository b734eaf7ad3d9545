//! Token usage in Anthropic's format: the `usage` of a message, of `message_start`'s message
//! and of `message_delta`.
//!
//! Owns: reading it into [`Usage`] (the total input is `input_tokens` plus both cache counts)
//! and writing it back. Must never guess tokens from text.

use crate::wire::{count, Usage};
use serde_json::{json, Value};

/// An Anthropic `usage` object.
pub(crate) fn read(u: &Value) -> Option<Usage> {
    let o = u.as_object()?;
    let input = count(o.get("input_tokens"));
    let creation = count(o.get("cache_creation_input_tokens"));
    let read = count(o.get("cache_read_input_tokens"));
    Some(Usage {
        prompt_tokens: input.saturating_add(creation).saturating_add(read),
        completion_tokens: count(o.get("output_tokens")),
        cache_read_tokens: read,
        cache_creation_tokens: creation,
    })
}

/// The usage of a message, or of a `message_start` / `message_delta` event (a `message_delta`
/// carries output tokens only).
pub(crate) fn of(message_or_event: &Value) -> Option<Usage> {
    message_or_event
        .get("usage")
        .or_else(|| message_or_event.get("message").and_then(|m| m.get("usage")))
        .and_then(read)
}

/// As an Anthropic `usage` object (`input_tokens` is the uncached input).
pub(crate) fn write(u: Usage) -> Value {
    json!({
        "input_tokens": u.uncached_input(),
        "output_tokens": u.completion_tokens,
        "cache_creation_input_tokens": u.cache_creation_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_includes_cache_tokens() {
        let r = json!({"usage":{"input_tokens":12,"output_tokens":6,
            "cache_creation_input_tokens":100,"cache_read_input_tokens":1000}});
        let u = of(&r).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 1112,
                completion_tokens: 6,
                cache_read_tokens: 1000,
                cache_creation_tokens: 100
            }
        );
        assert_eq!(write(u)["input_tokens"], 12);
    }

    #[test]
    fn message_start_usage_is_read() {
        let ev = json!({"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}});
        assert_eq!(of(&ev).unwrap().prompt_tokens, 3);
        assert_eq!(of(&json!({"type":"ping"})), None);
    }
}
