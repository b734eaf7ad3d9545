//! A Gemini `Schema` (OpenAPI subset: upper-case type words, `nullable`, proto names) as the
//! JSON Schema OpenAI and Anthropic take.
//!
//! Owns: [`to_json_schema`]. Must never: touch the names inside `properties` (they are the
//! caller's, not keywords), or fail on a keyword it does not know (kept as it came).

use serde_json::{Map, Value};

use super::fields::camel;
use crate::bridges::common::Side;
use crate::wire::ConvertError;

/// `schema` (a Gemini `Schema` object) as JSON Schema: type words in lower case, `nullable`
/// folded into the type, `ref`/`defs` as `$ref`/`$defs`, Gemini-only keywords
/// (`propertyOrdering`, `example`, `format: enum`) left out.
pub(crate) fn to_json_schema(schema: &Value, what: &str) -> Result<Value, ConvertError> {
    let Value::Object(o) = schema else {
        return Err(Side::Request.err(format!("{what} must be a schema object")));
    };
    let mut out = Map::new();
    let mut nullable = false;
    for (k, v) in o {
        let key = camel(k);
        let v = match key.as_str() {
            "type" => match lower_type(v) {
                Some(t) => t,
                None => continue,
            },
            "nullable" => {
                nullable = v.as_bool() == Some(true);
                continue;
            }
            "propertyOrdering" | "example" => continue,
            "format" if v.as_str() == Some("enum") => continue,
            "properties" | "defs" | "$defs" | "definitions" => {
                let Value::Object(m) = v else {
                    return Err(Side::Request.err(format!("{what}.{key} must be an object")));
                };
                let mut props = Map::new();
                for (name, s) in m {
                    props.insert(name.clone(), to_json_schema(s, what)?);
                }
                Value::Object(props)
            }
            "items" | "not" => to_json_schema(v, what)?,
            "additionalProperties" if v.is_object() => to_json_schema(v, what)?,
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                let Value::Array(a) = v else {
                    return Err(Side::Request.err(format!("{what}.{key} must be an array")));
                };
                Value::Array(
                    a.iter()
                        .map(|s| to_json_schema(s, what))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => v.clone(),
        };
        let key = match key.as_str() {
            "ref" => "$ref".to_owned(),
            "defs" => "$defs".to_owned(),
            _ => key,
        };
        out.insert(key, v);
    }
    if nullable {
        if let Some(Value::String(t)) = out.get("type") {
            let t = Value::String(t.clone());
            out.insert("type".into(), Value::Array(vec![t, "null".into()]));
        }
    }
    Ok(Value::Object(out))
}

/// A type word (or a list of them) in lower case; `TYPE_UNSPECIFIED` says nothing.
fn lower_type(v: &Value) -> Option<Value> {
    match v {
        Value::String(t) if t.eq_ignore_ascii_case("TYPE_UNSPECIFIED") => None,
        Value::String(t) => Some(Value::String(t.to_ascii_lowercase())),
        Value::Array(a) => Some(Value::Array(
            a.iter()
                .map(|t| match t {
                    Value::String(t) => Value::String(t.to_ascii_lowercase()),
                    other => other.clone(),
                })
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gemini_schema_becomes_json_schema() {
        let s = json!({"type":"OBJECT","propertyOrdering":["city","type"],
            "properties":{"city":{"type":"STRING","description":"d","nullable":true},
                "type":{"type":"STRING","format":"enum","enum":["A","B"]},
                "nullable":{"type":"ARRAY","items":{"type":"INTEGER","example":3},"max_items":2}},
            "required":["city"],"any_of":[{"type":"NUMBER"}],"defs":{"P":{"type":"OBJECT"}},
            "ref":"#/defs/P"});
        assert_eq!(
            to_json_schema(&s, "parameters").unwrap(),
            json!({"type":"object",
            "properties":{"city":{"type":["string","null"],"description":"d"},
                "type":{"type":"string","enum":["A","B"]},
                "nullable":{"type":"array","items":{"type":"integer"},"maxItems":2}},
            "required":["city"],"anyOf":[{"type":"number"}],"$defs":{"P":{"type":"object"}},
            "$ref":"#/defs/P"})
        );
        assert_eq!(
            to_json_schema(&json!({"type":"TYPE_UNSPECIFIED","nullable":false}), "p").unwrap(),
            json!({})
        );
    }

    #[test]
    fn malformed_schemas_are_the_clients() {
        for bad in [
            json!("OBJECT"),
            json!({"properties":[]}),
            json!({"anyOf":{}}),
            json!({"items":3}),
        ] {
            assert!(
                matches!(
                    to_json_schema(&bad, "p"),
                    Err(ConvertError::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
    }
}
