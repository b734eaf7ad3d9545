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

/// The usage so far after a `message_delta`'s `usage`: its output count replaces the one
/// so far; input counts, which it may repeat or correct, only ever raise those so far.
pub(crate) fn merge(so_far: Option<Usage>, delta: &Value) -> Option<Usage> {
    let Some(o) = delta.as_object() else {
        return so_far;
    };
    let mut usage = so_far.unwrap_or_default();
    if o.contains_key("input_tokens")
        || o.contains_key("cache_read_input_tokens")
        || o.contains_key("cache_creation_input_tokens")
    {
        if let Some(full) = read(delta) {
            usage.prompt_tokens = full.prompt_tokens.max(usage.prompt_tokens);
            usage.cache_read_tokens = full.cache_read_tokens.max(usage.cache_read_tokens);
            usage.cache_creation_tokens =
                full.cache_creation_tokens.max(usage.cache_creation_tokens);
        }
    }
    if let Some(out) = o.get("output_tokens") {
        usage.completion_tokens = count(Some(out));
    }
    Some(usage)
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
    fn a_delta_replaces_output_and_raises_input() {
        let start = read(&json!({"input_tokens":10,"output_tokens":1}));
        let u = merge(start, &json!({"output_tokens":7})).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (10, 7));
        let u = merge(Some(u), &json!({"input_tokens":12,"output_tokens":8})).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (12, 8));
        assert_eq!(merge(None, &json!(3)), None);
    }

    #[test]
    fn message_start_usage_is_read() {
        let ev = json!({"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}});
        assert_eq!(of(&ev).unwrap().prompt_tokens, 3);
        assert_eq!(of(&json!({"type":"ping"})), None);
    }
}
