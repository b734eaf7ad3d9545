//! The function and output settings of a Gemini `GenerateContentRequest`: declarations
//! (schemas through `schema`), `toolConfig`, structured output and numeric
//! `generationConfig` members.
//!
//! Owns: those members as both client formats' requests ask for them. Must never: accept a
//! value of the wrong type silently (a number that is not one is a 400).

use serde_json::{json, Map, Value};

use super::schema::{gemini_schema, is_empty_object, Schema};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// One function declaration.
pub(crate) fn declaration(name: &str, description: Option<&str>, schema: Option<&Value>) -> Value {
    let mut d = Map::new();
    d.insert("name".into(), json!(name));
    if let Some(desc) = description {
        d.insert("description".into(), json!(desc));
    }
    if let Some(s) = schema {
        match gemini_schema(s) {
            s if is_empty_object(&s) => {}
            Schema::Subset(s) => {
                d.insert("parameters".into(), s);
            }
            Schema::Json(s) => {
                d.insert("parametersJsonSchema".into(), s);
            }
        }
    }
    Value::Object(d)
}

/// `tools`, from declarations (none: no member).
pub(crate) fn tools(declarations: Vec<Value>) -> Option<Value> {
    (!declarations.is_empty()).then(|| json!([{ "functionDeclarations": declarations }]))
}

/// What the client's `tool_choice` asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    Auto,
    /// Some call must be made, of the named function if given.
    Any(Option<String>),
    None,
}

/// `toolConfig` for a choice.
pub(crate) fn tool_config(choice: &Choice) -> Value {
    let config = match choice {
        Choice::Auto => json!({"mode": "AUTO"}),
        Choice::Any(None) => json!({"mode": "ANY"}),
        Choice::Any(Some(name)) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        Choice::None => json!({"mode": "NONE"}),
    };
    json!({ "functionCallingConfig": config })
}

/// The structured output a client asked for: `responseMimeType` and the schema member.
pub(crate) fn json_output(config: &mut Map<String, Value>, schema: Option<&Value>) {
    config.insert("responseMimeType".into(), json!("application/json"));
    match schema.map(gemini_schema) {
        None => {}
        Some(Schema::Subset(s)) => {
            config.insert("responseSchema".into(), s);
        }
        Some(Schema::Json(s)) => {
            config.insert("responseJsonSchema".into(), s);
        }
    }
}

/// A number field copied into `generationConfig` under Gemini's name; not a number is a 400.
pub(crate) fn number(
    from: &Map<String, Value>,
    key: &str,
    config: &mut Map<String, Value>,
    gemini: &str,
) -> Result<(), ConvertError> {
    match from.get(key).filter(|v| !v.is_null()) {
        None => Ok(()),
        Some(v) if v.is_number() => {
            config.insert(gemini.into(), v.clone());
            Ok(())
        }
        Some(_) => Err(REQ.err(format!("{key} must be a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_and_choices() {
        assert_eq!(
            declaration("f", None, Some(&json!({"type":"object","properties":{}}))),
            json!({"name":"f"})
        );
        assert_eq!(
            declaration(
                "f",
                Some("d"),
                Some(
                    &json!({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false})
                )
            ),
            json!({"name":"f","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"}}}})
        );
        assert_eq!(
            tool_config(&Choice::Any(Some("f".into()))),
            json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}})
        );
        assert_eq!(tools(vec![]), None);
    }
}
