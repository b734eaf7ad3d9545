//! Token usage in the OpenAI format: the `usage` object of answers and stream chunks.
//!
//! Owns: reading it into [`Usage`] and writing it back. Must never guess tokens from text.

use crate::wire::{count, Usage};
use serde_json::{json, Value};

/// An OpenAI `usage` object. `completion_tokens` is raised to `total - prompt` when that is
/// larger (xAI leaves reasoning tokens out of `completion_tokens`, not out of the total).
pub(crate) fn read(u: &Value) -> Option<Usage> {
    let o = u.as_object()?;
    let prompt = count(o.get("prompt_tokens"));
    let completion = count(o.get("completion_tokens"));
    let total = count(o.get("total_tokens"));
    let cached = count(
        o.get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")),
    );
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion.max(total.saturating_sub(prompt)),
        cache_read_tokens: cached.min(prompt),
        cache_creation_tokens: 0,
    })
}

/// The usage of an answer or a stream chunk (its `usage` member), if it has one.
pub(crate) fn of(answer_or_chunk: &Value) -> Option<Usage> {
    answer_or_chunk.get("usage").and_then(read)
}

/// As an OpenAI `usage` object.
pub(crate) fn write(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_with_cache_and_missing() {
        let r = json!({"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,
            "prompt_tokens_details":{"cached_tokens":4}}});
        let u = of(&r).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 9,
                completion_tokens: 3,
                cache_read_tokens: 4,
                cache_creation_tokens: 0
            }
        );
        assert_eq!(u.uncached_input(), 5);
        assert_eq!(of(&json!({"usage":null})), None);
        assert_eq!(of(&json!("x")), None);
        let w = write(Usage {
            prompt_tokens: 1112,
            completion_tokens: 6,
            cache_read_tokens: 1000,
            cache_creation_tokens: 100,
        });
        assert_eq!(w["total_tokens"], 1118);
        assert_eq!(w["prompt_tokens_details"]["cached_tokens"], 1000);
    }

    #[test]
    fn xai_reasoning_tokens_counted_through_total() {
        let r = json!({"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":40}});
        assert_eq!(of(&r).unwrap().completion_tokens, 30);
    }
}
