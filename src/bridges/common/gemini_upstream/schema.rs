//! JSON Schemas (OpenAI tool `parameters`, Anthropic `input_schema`, OpenAI `json_schema`) as
//! Gemini takes them.
//!
//! Owns: the choice between Gemini's OpenAPI-subset `Schema` (`parameters`, `responseSchema`),
//! which every Gemini model and Vertex accept, and a full JSON Schema (`parametersJsonSchema`,
//! `responseJsonSchema`), used only when the schema needs what the subset lacks (`$ref`,
//! `$defs`). The subset is reached by dropping what Gemini rejects (`$schema`,
//! `additionalProperties`, `strict`, `$id`, `examples`, formats it does not know, ...) and
//! rewriting what it spells otherwise (`type: [t, "null"]` -> `nullable`, `oneOf` -> `anyOf`,
//! `const` -> a one-value `enum`). Must never: fail on a schema (what it cannot keep it drops).

use serde_json::{json, Map, Value};

/// A schema in one of Gemini's two forms.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Schema {
    /// Gemini's OpenAPI subset (`parameters`, `responseSchema`).
    Subset(Value),
    /// A JSON Schema with references (`parametersJsonSchema`, `responseJsonSchema`).
    Json(Value),
}

/// Members of Gemini's `Schema` message that are kept as they are.
const KEPT: &[&str] = &[
    "title",
    "description",
    "nullable",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "propertyOrdering",
    "default",
    "minimum",
    "maximum",
];

/// Formats Gemini's `Schema` knows (others are refused upstream).
const FORMATS: &[&str] = &["enum", "date-time", "float", "double", "int32", "int64"];

/// `schema` in the form Gemini takes.
pub(crate) fn gemini_schema(schema: &Value) -> Schema {
    if has_refs(schema) {
        let mut full = schema.clone();
        if let Some(o) = full.as_object_mut() {
            o.remove("$schema");
        }
        return Schema::Json(full);
    }
    Schema::Subset(subset(schema))
}

/// Whether the schema has references (which the subset cannot express).
fn has_refs(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| matches!(k.as_str(), "$ref" | "$defs" | "definitions") || has_refs(v)),
        Value::Array(a) => a.iter().any(has_refs),
        _ => false,
    }
}

/// Whether a subset schema is an object with no properties (Gemini refuses such function
/// `parameters`; a function without parameters is sent without them).
pub(crate) fn is_empty_object(schema: &Schema) -> bool {
    let Schema::Subset(Value::Object(o)) = schema else {
        return false;
    };
    let no_props = o
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    o.get("type").and_then(Value::as_str) == Some("object") && no_props && !o.contains_key("anyOf")
}

fn subset(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    match o.get("type") {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t));
        }
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let real: Vec<&str> = named.iter().copied().filter(|t| *t != "null").collect();
            if real.len() < named.len() {
                out.insert("nullable".into(), json!(true));
            }
            match real.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one));
                }
                many => {
                    let any: Vec<Value> = many.iter().map(|t| json!({"type": t})).collect();
                    out.insert("anyOf".into(), Value::Array(any));
                }
            }
        }
        _ => {}
    }
    for key in KEPT {
        if let Some(v) = o.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(f) = o.get("format").and_then(Value::as_str) {
        if FORMATS.contains(&f) {
            out.insert("format".into(), json!(f));
        }
    }
    let enumerated = o
        .get("enum")
        .cloned()
        .or_else(|| o.get("const").map(|c| json!([c])));
    if let Some(Value::Array(values)) = enumerated {
        // Gemini's enums are strings.
        if !values.is_empty() && values.iter().all(Value::is_string) {
            out.insert("enum".into(), Value::Array(values));
            out.entry("type").or_insert_with(|| json!("string"));
        }
    }
    if let Some(Value::Object(props)) = o.get("properties") {
        let props: Map<String, Value> = props.iter().map(|(k, v)| (k.clone(), subset(v))).collect();
        if let Some(Value::Array(req)) = o.get("required") {
            let req: Vec<Value> = req
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| props.contains_key(r)))
                .cloned()
                .collect();
            if !req.is_empty() {
                out.insert("required".into(), Value::Array(req));
            }
        }
        out.insert("properties".into(), Value::Object(props));
    }
    if let Some(items) = o.get("items").filter(|i| i.is_object()) {
        out.insert("items".into(), subset(items));
    }
    if let Some(Value::Array(any)) = o.get("anyOf").or_else(|| o.get("oneOf")) {
        out.insert(
            "anyOf".into(),
            Value::Array(any.iter().map(subset).collect()),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_members_are_dropped_and_spellings_rewritten() {
        let s = json!({"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
            "additionalProperties":false,"strict":true,
            "properties":{"city":{"type":["string","null"],"format":"uri","description":"c"},
                "unit":{"const":"C"},"n":{"type":"integer","format":"int32","examples":[1]},
                "tags":{"type":"array","items":{"type":"string","additionalProperties":false}},
                "either":{"oneOf":[{"type":"string"},{"type":"number"}]}},
            "required":["city","missing"]});
        assert_eq!(
            gemini_schema(&s),
            Schema::Subset(json!({"type":"object",
                "properties":{"city":{"type":"string","nullable":true,"description":"c"},
                    "unit":{"enum":["C"],"type":"string"},"n":{"type":"integer","format":"int32"},
                    "tags":{"type":"array","items":{"type":"string"}},
                    "either":{"anyOf":[{"type":"string"},{"type":"number"}]}},
                "required":["city"]}))
        );
    }

    #[test]
    fn references_keep_the_full_schema_and_empty_objects_are_spotted() {
        let s = json!({"$schema":"x","type":"object","$defs":{"a":{"type":"string"}},
            "properties":{"a":{"$ref":"#/$defs/a"}}});
        let Schema::Json(full) = gemini_schema(&s) else {
            panic!("want a JSON schema")
        };
        assert_eq!(full.get("$schema"), None);
        assert_eq!(full["properties"]["a"]["$ref"], "#/$defs/a");
        assert!(is_empty_object(&gemini_schema(
            &json!({"type":"object","properties":{}})
        )));
        assert!(is_empty_object(&gemini_schema(&json!({"type":"object"}))));
        assert!(!is_empty_object(&gemini_schema(
            &json!({"type":"object","properties":{"a":{}}})
        )));
        assert_eq!(gemini_schema(&json!("nonsense")), Schema::Subset(json!({})));
    }
}
