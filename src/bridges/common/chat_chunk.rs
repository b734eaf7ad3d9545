//! The tool-call fragments of a streamed OpenAI chunk's delta, for the bridges whose upstream
//! speaks OpenAI's format.
//!
//! Owns: [`fragments`] and the continuation rule: a fragment at the open call's index
//! continues it unless it carries a different id; any other starts a call and must name its
//! function. Must never: fail on a fragment's missing members (each has its default).

use serde_json::Value;

use super::Side;
use crate::wire::ConvertError;

/// One `tool_calls[]` fragment.
pub(crate) struct Fragment<'a> {
    /// `tool_calls[].index` (its position when absent).
    pub index: u64,
    /// Non-empty, when given.
    pub id: Option<&'a str>,
    name: Option<&'a str>,
    /// This fragment of the arguments (empty when absent).
    pub arguments: &'a str,
}

impl<'a> Fragment<'a> {
    /// Whether it continues the open call (its index and id).
    pub(crate) fn continues(&self, open: Option<(u64, &str)>) -> bool {
        open.is_some_and(|(index, id)| index == self.index && self.id.is_none_or(|i| i == id))
    }

    /// The function a starting fragment names (none: the upstream's error).
    pub(crate) fn name(&self) -> Result<&'a str, ConvertError> {
        self.name.ok_or_else(|| {
            Side::Upstream.err("tool call fragment for a call that was never started")
        })
    }
}

/// The tool-call fragments of a chunk's `delta`, in order.
pub(crate) fn fragments(delta: &Value) -> impl Iterator<Item = Fragment<'_>> {
    let calls = delta.get("tool_calls").and_then(Value::as_array);
    calls.into_iter().flatten().enumerate().map(|(pos, call)| {
        let f = call.get("function");
        Fragment {
            index: call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(pos as u64),
            id: text(Some(call), "id"),
            name: text(f, "name"),
            arguments: text(f, "arguments").unwrap_or(""),
        }
    })
}

/// A non-empty string member of `v`.
fn text<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fragments_continue_or_start_calls() {
        let d = json!({"tool_calls":[{"index":1,"id":"a","function":{"name":"f","arguments":"{"}},
            {"function":{"arguments":"}"}}, {"index":1,"id":"b","function":{"name":""}}]});
        let f: Vec<Fragment> = fragments(&d).collect();
        assert_eq!((f[0].index, f[0].id, f[0].arguments), (1, Some("a"), "{"));
        assert_eq!(f[0].name().unwrap(), "f");
        assert!(!f[0].continues(None));
        assert!(f[0].continues(Some((1, "a"))));
        assert_eq!((f[1].index, f[1].id), (1, None));
        assert!(f[1].continues(Some((1, "a"))) && !f[1].continues(Some((0, "a"))));
        assert!(!f[2].continues(Some((1, "a"))));
        assert!(matches!(f[2].name(), Err(ConvertError::InvalidUpstream(_))));
        assert_eq!(fragments(&json!({})).count(), 0);
    }
}
