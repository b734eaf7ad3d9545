//! Token usage in one provider-neutral shape, read from and written to both wire formats.
//!
//! Owns: `Usage`, `usage_from_chat`, `usage_from_messages` and the JSON writers the converters
//! use. Must never guess tokens from text; absent counts read as 0.

use serde_json::{json, Value};

use super::json::u64_of;

/// Token counts of one answer. `prompt_tokens` is the *total* input: for Anthropic that is
/// `input_tokens + cache_creation_input_tokens + cache_read_input_tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
}

impl Usage {
    /// From an OpenAI `usage` object. `completion_tokens` is raised to `total - prompt` when that
    /// is larger (xAI leaves reasoning tokens out of `completion_tokens`, not out of the total).
    pub(crate) fn from_openai(u: &Value) -> Option<Usage> {
        let o = u.as_object()?;
        let prompt = u64_of(o.get("prompt_tokens"));
        let completion = u64_of(o.get("completion_tokens"));
        let total = u64_of(o.get("total_tokens"));
        let cached = u64_of(
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

    /// From an Anthropic `usage` object (response, `message_start.message` or `message_delta`).
    pub(crate) fn from_anthropic(u: &Value) -> Option<Usage> {
        let o = u.as_object()?;
        let input = u64_of(o.get("input_tokens"));
        let creation = u64_of(o.get("cache_creation_input_tokens"));
        let read = u64_of(o.get("cache_read_input_tokens"));
        Some(Usage {
            prompt_tokens: input.saturating_add(creation).saturating_add(read),
            completion_tokens: u64_of(o.get("output_tokens")),
            cache_read_tokens: read,
            cache_creation_tokens: creation,
        })
    }

    /// Anthropic's uncached `input_tokens`.
    pub(crate) fn uncached_input(&self) -> u64 {
        self.prompt_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_creation_tokens)
    }

    /// As an OpenAI `usage` object.
    pub(crate) fn to_openai(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens.saturating_add(self.completion_tokens),
            "prompt_tokens_details": {"cached_tokens": self.cache_read_tokens},
        })
    }

    /// As an Anthropic `usage` object.
    pub(crate) fn to_anthropic(self) -> Value {
        json!({
            "input_tokens": self.uncached_input(),
            "output_tokens": self.completion_tokens,
            "cache_creation_input_tokens": self.cache_creation_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
        })
    }
}

/// Usage of a native OpenAI-format response or stream chunk (`usage` field), if it has one.
pub fn usage_from_chat(resp_or_chunk: &Value) -> Option<Usage> {
    resp_or_chunk.get("usage").and_then(Usage::from_openai)
}

/// Usage of a native Anthropic response, or of a `message_start` / `message_delta` stream event
/// (a `message_delta` carries output tokens only).
pub fn usage_from_messages(resp: &Value) -> Option<Usage> {
    resp.get("usage")
        .or_else(|| resp.get("message").and_then(|m| m.get("usage")))
        .and_then(Usage::from_anthropic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_prompt_includes_cache_tokens() {
        let r = json!({"usage":{"input_tokens":12,"output_tokens":6,
            "cache_creation_input_tokens":100,"cache_read_input_tokens":1000}});
        let u = usage_from_messages(&r).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 1112,
                completion_tokens: 6,
                cache_read_tokens: 1000,
                cache_creation_tokens: 100
            }
        );
        assert_eq!(u.to_anthropic()["input_tokens"], 12);
        let o = u.to_openai();
        assert_eq!(o["total_tokens"], 1118);
        assert_eq!(o["prompt_tokens_details"]["cached_tokens"], 1000);
    }

    #[test]
    fn message_start_usage_is_read() {
        let ev = json!({"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}});
        assert_eq!(usage_from_messages(&ev).unwrap().prompt_tokens, 3);
        assert_eq!(usage_from_messages(&json!({"type":"ping"})), None);
    }

    #[test]
    fn openai_usage_with_cache_and_missing() {
        let r = json!({"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,
            "prompt_tokens_details":{"cached_tokens":4}}});
        let u = usage_from_chat(&r).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 9,
                completion_tokens: 3,
                cache_read_tokens: 4,
                cache_creation_tokens: 0
            }
        );
        assert_eq!(u.to_anthropic()["input_tokens"], 5);
        assert_eq!(usage_from_chat(&json!({"usage":null})), None);
        assert_eq!(usage_from_chat(&json!("x")), None);
    }

    #[test]
    fn xai_reasoning_tokens_counted_through_total() {
        let r = json!({"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":40}});
        assert_eq!(usage_from_chat(&r).unwrap().completion_tokens, 30);
    }
}
