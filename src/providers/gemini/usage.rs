//! Token usage in Gemini's format: `usageMetadata`.
//!
//! Owns: reading it into [`Usage`] and writing it back. The prompt is `promptTokenCount`
//! (which already holds `cachedContentTokenCount`) plus `toolUsePromptTokenCount`; the output
//! is `candidatesTokenCount` plus `thoughtsTokenCount` (thinking is billed as output).
//! Must never guess tokens from text.

use crate::wire::{count, Usage};
use serde_json::{json, Value};

/// A `usageMetadata` object.
pub(crate) fn read(u: &Value) -> Option<Usage> {
    let o = u.as_object()?;
    let prompt =
        count(o.get("promptTokenCount")).saturating_add(count(o.get("toolUsePromptTokenCount")));
    let output =
        count(o.get("candidatesTokenCount")).saturating_add(count(o.get("thoughtsTokenCount")));
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: output,
        cache_read_tokens: count(o.get("cachedContentTokenCount")),
        cache_creation_tokens: 0,
    })
}

/// The usage of a `GenerateContentResponse` (whole, or one streamed chunk).
pub(crate) fn of(response: &Value) -> Option<Usage> {
    response.get("usageMetadata").and_then(read)
}

/// As a `usageMetadata` object (a cache count only when there is one, as Gemini writes it).
pub(crate) fn write(u: Usage) -> Value {
    let mut v = json!({
        "promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens,
        "totalTokenCount": u.prompt_tokens.saturating_add(u.completion_tokens),
    });
    if u.cache_read_tokens > 0 {
        v["cachedContentTokenCount"] = json!(u.cache_read_tokens);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thoughts_are_output_and_the_cache_is_inside_the_prompt() {
        let r = json!({"usageMetadata": {"promptTokenCount": 1100, "candidatesTokenCount": 6,
            "thoughtsTokenCount": 4, "cachedContentTokenCount": 1000, "totalTokenCount": 1110}});
        let u = of(&r).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 1100,
                completion_tokens: 10,
                cache_read_tokens: 1000,
                cache_creation_tokens: 0
            }
        );
        assert_eq!(u.uncached_input(), 100);
        let w = write(u);
        assert_eq!(w["totalTokenCount"], 1110);
        assert_eq!(w["cachedContentTokenCount"], 1000);
        assert_eq!(write(Usage::default()).get("cachedContentTokenCount"), None);
        assert_eq!(of(&json!({"candidates": []})), None);
    }
}
