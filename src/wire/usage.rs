//! Token usage in one provider-neutral shape.
//!
//! Owns: [`Usage`] and the lenient count reader the formats' usage readers share. Must never
//! guess tokens from text; absent counts read as 0. Reading and writing a format's `usage`
//! object is that format's (`providers::openai::usage`, `providers::anthropic::usage`).

use serde_json::Value;

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
    /// The input tokens that were neither read from nor written to a cache.
    pub fn uncached_input(&self) -> u64 {
        self.prompt_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_creation_tokens)
    }
}

/// A token count read leniently (absent or malformed reads as 0).
pub fn count(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_are_read_leniently() {
        assert_eq!(count(Some(&json!(5))), 5);
        assert_eq!(count(Some(&json!(-5))), 0);
        assert_eq!(count(Some(&json!(2.0))), 2);
        assert_eq!(count(Some(&json!("5"))), 0);
        assert_eq!(count(None), 0);
    }

    #[test]
    fn uncached_input_leaves_out_both_caches() {
        let u = Usage {
            prompt_tokens: 1112,
            completion_tokens: 6,
            cache_read_tokens: 1000,
            cache_creation_tokens: 100,
        };
        assert_eq!(u.uncached_input(), 12);
    }
}
