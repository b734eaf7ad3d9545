//! A Gemini client's `tools[].functionDeclarations` and `toolConfig.functionCallingConfig`
//! in neutral form.
//!
//! Owns: the declarations (parameters as JSON Schema: Gemini's `parameters` converted,
//! `parametersJsonSchema` as is) and the calling mode. Must never: accept a tool it cannot
//! express upstream (Google Search, code execution, ...: a 400 naming it).

use serde_json::{json, Value};

use super::fields::get;
use super::schema::to_json_schema;
use crate::bridges::common::json::{arr, obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// One declared function.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Function {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// `functionCallingConfig.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Auto,
    /// A function must be called.
    Any,
    None,
}

/// The functions offered, already narrowed to `allowedFunctionNames`, and the mode.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tools {
    pub functions: Vec<Function>,
    pub mode: Mode,
}

/// Reads `tools` and `toolConfig`.
pub(crate) fn read(tools: Option<&Value>, config: Option<&Value>) -> Result<Tools, ConvertError> {
    let mut functions = Vec::new();
    if let Some(t) = tools {
        for tool in arr(t, "tools", REQ)? {
            let tool = obj(tool, "tools[]", REQ)?;
            for (key, v) in tool {
                if v.is_null() {
                    continue;
                }
                if key != "functionDeclarations" && key != "function_declarations" {
                    return Err(REQ.err(format!("tool {key} is not supported by this model")));
                }
                for d in arr(v, "tools[].functionDeclarations", REQ)? {
                    functions.push(declaration(obj(d, "functionDeclarations[]", REQ)?)?);
                }
            }
        }
    }
    let fc = match config {
        None => None,
        Some(c) => get(obj(c, "toolConfig", REQ)?, "functionCallingConfig")
            .map(|f| obj(f, "toolConfig.functionCallingConfig", REQ))
            .transpose()?,
    };
    let mode = match fc.and_then(|f| get(f, "mode")).map(|m| m.as_str()) {
        None | Some(Some("AUTO" | "MODE_UNSPECIFIED" | "VALIDATED")) => Mode::Auto,
        Some(Some("ANY")) => Mode::Any,
        Some(Some("NONE")) => Mode::None,
        Some(other) => {
            return Err(REQ.err(format!(
                "functionCallingConfig.mode {} is not one of AUTO, ANY, NONE",
                other.unwrap_or("(not a string)")
            )))
        }
    };
    if let Some(allowed) = fc.and_then(|f| get(f, "allowedFunctionNames")) {
        let names: Vec<&str> = arr(allowed, "allowedFunctionNames", REQ)?
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| REQ.err("allowedFunctionNames must be strings"))?;
        if !names.is_empty() {
            if let Some(n) = names
                .iter()
                .find(|n| !functions.iter().any(|f| f.name == **n))
            {
                return Err(REQ.err(format!(
                    "allowedFunctionNames: {n} is not declared in tools"
                )));
            }
            functions.retain(|f| names.contains(&f.name.as_str()));
        }
    }
    Ok(Tools { functions, mode })
}

fn declaration(d: &serde_json::Map<String, Value>) -> Result<Function, ConvertError> {
    let name = get(d, "name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| REQ.err("functionDeclarations[].name must be a string"))?;
    let description = match get(d, "description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(REQ.err("functionDeclarations[].description must be a string")),
    };
    let parameters = match (get(d, "parametersJsonSchema"), get(d, "parameters")) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => to_json_schema(s, "functionDeclarations[].parameters")?,
        (None, None) => json!({"type": "object", "properties": {}}),
    };
    Ok(Function {
        name: name.to_owned(),
        description,
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_modes_and_allowed_names() {
        let tools = json!([{"functionDeclarations":[
            {"name":"get_weather","description":"d","parameters":{"type":"OBJECT",
                "properties":{"city":{"type":"STRING"}},"required":["city"]}},
            {"name":"raw","parametersJsonSchema":{"type":"object","properties":{}}},
            {"name":"bare"}]}]);
        let t = read(Some(&tools), None).unwrap();
        assert_eq!(t.mode, Mode::Auto);
        assert_eq!(t.functions.len(), 3);
        assert_eq!(
            t.functions[0].parameters,
            json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})
        );
        assert_eq!(t.functions[0].description.as_deref(), Some("d"));
        assert_eq!(
            t.functions[2].parameters,
            json!({"type":"object","properties":{}})
        );
        let cfg = json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["raw"]}});
        let t = read(Some(&tools), Some(&cfg)).unwrap();
        assert_eq!(t.mode, Mode::Any);
        assert_eq!(t.functions.len(), 1);
        assert_eq!(t.functions[0].name, "raw");
        let none = json!({"function_calling_config":{"mode":"NONE"}});
        assert_eq!(read(Some(&tools), Some(&none)).unwrap().mode, Mode::None);
        assert_eq!(read(None, None).unwrap().functions, vec![]);
    }

    #[test]
    fn other_tools_and_malformed_ones_are_refused() {
        for (tools, cfg, word) in [
            (json!([{"googleSearch":{}}]), json!({}), "googleSearch"),
            (json!([{"codeExecution":{}}]), json!({}), "codeExecution"),
            (json!({}), json!({}), "tools"),
            (
                json!([{"functionDeclarations":[{"description":"x"}]}]),
                json!({}),
                "name",
            ),
            (
                json!([{"functionDeclarations":[{"name":"f","parameters":"x"}]}]),
                json!({}),
                "parameters",
            ),
            (
                json!([]),
                json!({"functionCallingConfig":{"mode":"SOMETIMES"}}),
                "SOMETIMES",
            ),
            (
                json!([]),
                json!({"functionCallingConfig":{"allowedFunctionNames":["g"]}}),
                "g is not",
            ),
            (
                json!([]),
                json!({"functionCallingConfig":{"allowedFunctionNames":[1]}}),
                "strings",
            ),
            (json!([]), json!([]), "toolConfig"),
        ] {
            let e = read(Some(&tools), Some(&cfg)).unwrap_err().to_string();
            assert!(e.contains(word), "{tools} {cfg}: {e}");
        }
    }
}
