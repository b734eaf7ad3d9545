//! Tool-call arguments built from a tool's JSON schema, and their streamed fragments.
//! Owns the argument rule; must never choose which tool is called.

use serde_json::{Map, Value};

/// Arguments for a schema: each required property gets a placeholder by type
/// (string → "sim", number/integer → 1, boolean → true, others → null).
pub(crate) fn arguments(schema: Option<&Value>) -> Value {
    let mut out = Map::new();
    let Some(schema) = schema else {
        return Value::Object(out);
    };
    let props = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let ty = props
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        let v = match ty {
            Some("string") => Value::from("sim"),
            Some("number") | Some("integer") => Value::from(1),
            Some("boolean") => Value::Bool(true),
            _ => Value::Null,
        };
        out.insert(name.to_owned(), v);
    }
    Value::Object(out)
}

/// Splits a JSON string into at least two fragments (of at most 16 chars) to stream.
pub(crate) fn fragments(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    let size = chars.len().div_ceil(2).clamp(1, 16);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_by_type() {
        let schema = json!({"type":"object","properties":{
            "city":{"type":"string"},"n":{"type":"integer"},"f":{"type":"boolean"},
            "o":{"type":"object"},"opt":{"type":"string"}},"required":["city","n","f","o"]});
        assert_eq!(
            arguments(Some(&schema)),
            json!({"city":"sim","n":1,"f":true,"o":null})
        );
        assert_eq!(arguments(None), json!({}));
    }

    #[test]
    fn fragments_rejoin() {
        for s in ["{}", "{\"city\":\"sim\"}", &"x".repeat(100)] {
            let f = fragments(s);
            assert!(f.len() >= 2, "{s}");
            assert_eq!(f.concat(), s);
        }
    }
}
