//! Text found in request bodies, and the token counts derived from it.
//! Owns the counting rule (one whitespace word = one token); must never allocate per word.

use serde_json::Value;

/// Appends every piece of text in `v` (strings, `text` fields, nested `content`).
pub(crate) fn collect(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => {
            if let Some(t) = map.get("text") {
                collect(t, out);
            }
            if let Some(c) = map.get("content") {
                collect(c, out);
            }
        }
        _ => {}
    }
}

/// The text of one JSON value.
pub(crate) fn of(v: &Value) -> String {
    let mut s = String::new();
    collect(v, &mut s);
    s
}

/// Tokens in a text: its whitespace-separated words.
pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Tokens charged per message on top of its words.
pub(crate) const PER_MESSAGE: u64 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_strings_and_blocks() {
        let v = json!([{"type":"text","text":"a b"},{"type":"tool_result","content":[{"type":"text","text":"c"}]}]);
        assert_eq!(of(&v), "a b c");
        assert_eq!(words(&of(&v)), 3);
        assert_eq!(of(&json!("x y")), "x y");
    }
}
