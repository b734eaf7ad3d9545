//! Reading a Gemini client's JSON the way Google's parser does: a member by its JSON name
//! (lowerCamel) or its proto name (snake_case).
//!
//! Owns: [`get`] and the name conversion. Must never: allocate more than a name's length.

use serde_json::{Map, Value};

/// The proto (snake_case) name of a lowerCamel JSON name.
pub(crate) fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The lowerCamel JSON name of a proto (snake_case) name; a name without `_` is itself.
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A member by its JSON name or its proto name; `null` reads as absent.
pub(crate) fn get<'a>(o: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    o.get(camel)
        .or_else(|| {
            if camel.bytes().any(|b| b.is_ascii_uppercase()) {
                o.get(&snake(camel))
            } else {
                None
            }
        })
        .filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_names_are_read() {
        assert_eq!(snake("systemInstruction"), "system_instruction");
        assert_eq!(camel("max_output_tokens"), "maxOutputTokens");
        assert_eq!(camel("$defs"), "$defs");
        assert_eq!(camel("_x"), "_x");
        let o = json!({"inline_data": 1, "text": null, "mimeType": 2});
        let o = o.as_object().unwrap();
        assert_eq!(get(o, "inlineData"), Some(&json!(1)));
        assert_eq!(get(o, "mimeType"), Some(&json!(2)));
        assert_eq!(get(o, "text"), None);
    }
}
