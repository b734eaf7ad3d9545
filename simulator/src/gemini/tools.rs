//! `tools[].functionDeclarations` and `toolConfig.functionCallingConfig`: which function the
//! simulated model calls, with arguments built from its schema.
//! Owns Google's function-calling rules and their wording; must never format answers.

use serde_json::{Map, Value};

use super::fields::{get, invalid, invalid_value};
use crate::errors::ApiError;
use crate::gen::tools::arguments;

/// A function call the model makes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call {
    pub(crate) name: String,
    pub(crate) args: Value,
}

/// Whether a function name is one Google accepts.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// The schema with its type words in lower case (Google writes `STRING`, `OBJECT`; JSON
/// Schema `string`, `object`), so arguments can be built from either.
pub(crate) fn lower_types(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("type", Value::String(t)) => Value::String(t.to_ascii_lowercase()),
                        _ => lower_types(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lower_types).collect()),
        other => other.clone(),
    }
}

/// The declared functions, checked: `(name, parameters schema)`.
fn declarations<'a>(
    request: &str,
    tools: &'a [Value],
) -> Result<Vec<(&'a str, Option<&'a Value>)>, ApiError> {
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        let tool = tool
            .as_object()
            .ok_or_else(|| invalid_value(&at, "Tool", tool))?;
        let Some(list) = get(tool, "functionDeclarations") else {
            continue;
        };
        let list = list.as_array().ok_or_else(|| {
            invalid_value(
                &format!("{at}.function_declarations"),
                "FunctionDeclaration",
                list,
            )
        })?;
        for (j, decl) in list.iter().enumerate() {
            let name = decl.get("name").and_then(Value::as_str).unwrap_or("");
            if !valid_name(name) {
                return Err(invalid(format!(
                    "* {request}.{at}.function_declarations[{j}].name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.\n"
                )));
            }
            let schema = decl
                .as_object()
                .and_then(|d| get(d, "parameters").or_else(|| get(d, "parametersJsonSchema")));
            out.push((name, schema));
        }
    }
    Ok(out)
}

/// The call to make when `tools` are offered and the user spoke last: none when no function
/// is declared or `mode` is `NONE`; else the first of `allowedFunctionNames` (mode `ANY`),
/// or the first declared function.
pub(crate) fn choose(
    request: &str,
    tools: Option<&[Value]>,
    tool_config: Option<&Value>,
) -> Result<Option<Call>, ApiError> {
    let declared = declarations(request, tools.unwrap_or_default())?;
    let config = tool_config
        .and_then(Value::as_object)
        .and_then(|c| get(c, "functionCallingConfig"))
        .and_then(Value::as_object);
    let field = |name: &str| config.and_then(|c: &Map<String, Value>| get(c, name));
    let mode = field("mode").and_then(Value::as_str).unwrap_or("AUTO");
    match mode {
        "AUTO" | "ANY" | "VALIDATED" | "MODE_UNSPECIFIED" => {}
        "NONE" => return Ok(None),
        other => {
            return Err(invalid_value(
                "tool_config.function_calling_config.mode",
                "FunctionCallingConfig.Mode",
                &Value::from(other),
            ))
        }
    }
    let Some(&(first, first_schema)) = declared.first() else {
        return Ok(None);
    };
    let allowed = field("allowedFunctionNames")
        .and_then(Value::as_array)
        .and_then(|names| names.first())
        .and_then(Value::as_str);
    let (name, schema) = match allowed {
        None => (first, first_schema),
        Some(wanted) => *declared.iter().find(|(n, _)| *n == wanted).ok_or_else(|| {
            invalid(format!(
                "* {request}.tool_config.function_calling_config.allowed_function_names[0]: Function {wanted} is not declared in tools.\n"
            ))
        })?,
    };
    Ok(Some(Call {
        name: name.to_owned(),
        args: arguments(schema.map(lower_types).as_ref()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const R: &str = "GenerateContentRequest";

    #[test]
    fn picks_and_builds_arguments() {
        let tools = [json!({"functionDeclarations": [
            {"name": "get_weather", "parameters": {"type": "OBJECT",
                "properties": {"city": {"type": "STRING"}, "n": {"type": "INTEGER"}}, "required": ["city", "n"]}},
            {"name": "other", "parameters_json_schema": {"type": "object", "properties": {"b": {"type": "boolean"}}, "required": ["b"]}}]})];
        let call = choose(R, Some(&tools), None).unwrap().unwrap();
        assert_eq!(
            call,
            Call {
                name: "get_weather".into(),
                args: json!({"city": "sim", "n": 1})
            }
        );
        let cfg = json!({"function_calling_config": {"mode": "ANY", "allowed_function_names": ["other"]}});
        let call = choose(R, Some(&tools), Some(&cfg)).unwrap().unwrap();
        assert_eq!(call.args, json!({"b": true}));
        let none = json!({"functionCallingConfig": {"mode": "NONE"}});
        assert_eq!(choose(R, Some(&tools), Some(&none)).unwrap(), None);
        assert_eq!(
            choose(R, Some(&[json!({"googleSearch": {}})]), None).unwrap(),
            None
        );
    }

    #[test]
    fn refusals() {
        let bad = [json!({"functionDeclarations": [{"name": "9lives"}]})];
        assert!(choose(R, Some(&bad), None)
            .unwrap_err()
            .message
            .contains("Invalid function name"));
        let tools = [json!({"functionDeclarations": [{"name": "f"}]})];
        let cfg = json!({"functionCallingConfig": {"mode": "SOMETIMES"}});
        assert!(choose(R, Some(&tools), Some(&cfg)).is_err());
        let cfg = json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}});
        assert!(choose(R, Some(&tools), Some(&cfg)).is_err());
    }
}
