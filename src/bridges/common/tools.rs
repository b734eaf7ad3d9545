//! Tool definitions and `tool_choice`, both directions.
//!
//! Owns: `tools[]` <-> `tools[]`, `tool_choice` and the parallel-tool-use flag. Must never
//! accept a tool it cannot express on the other side (hosted/server tools are errors, not drops).

use serde_json::{json, Value};

use super::json::{arr, obj, opt, opt_str, req_str, Obj};
use super::side::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// OpenAI `tools` -> Anthropic `tools`.
pub(crate) fn tools_to_anthropic(tools: &Value) -> Result<Vec<Value>, ConvertError> {
    let mut out = Vec::new();
    for t in arr(tools, "tools", REQ)? {
        let t = obj(t, "tools[]", REQ)?;
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        if kind != "function" {
            return Err(REQ.err(format!(
                "tools[]: tool type {kind} is not supported by this model"
            )));
        }
        let f = obj(
            t.get("function").unwrap_or(&Value::Null),
            "tools[].function",
            REQ,
        )?;
        let mut a = Obj::new();
        a.insert(
            "name".into(),
            json!(req_str(f, "name", "tools[].function", REQ)?),
        );
        if let Some(d) = opt_str(f, "description", "tools[].function", REQ)? {
            a.insert("description".into(), json!(d));
        }
        let schema = match opt(f, "parameters") {
            Some(p) => p.clone(),
            None => json!({"type": "object", "properties": {}}),
        };
        a.insert("input_schema".into(), schema);
        out.push(Value::Object(a));
    }
    Ok(out)
}

/// OpenAI `tool_choice` + `parallel_tool_calls` -> Anthropic `tool_choice` (None = leave unset).
pub(crate) fn tool_choice_to_anthropic(
    choice: Option<&Value>,
    parallel: Option<&Value>,
) -> Result<Option<Value>, ConvertError> {
    let no_parallel = match parallel {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => !b,
        Some(_) => return Err(REQ.err("parallel_tool_calls must be a boolean")),
    };
    let mut tc = match choice {
        None | Some(Value::Null) => {
            if !no_parallel {
                return Ok(None);
            }
            json!({"type": "auto"})
        }
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => return Ok(Some(json!({"type": "none"}))),
            other => return Err(REQ.err(format!("tool_choice: unsupported value {other}"))),
        },
        Some(v @ Value::Object(_)) => {
            let o = obj(v, "tool_choice", REQ)?;
            let f = o
                .get("function")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    REQ.err("tool_choice: only {type:function,function:{name}} is supported")
                })?;
            json!({"type": "tool", "name": req_str(f, "name", "tool_choice.function", REQ)?})
        }
        Some(_) => return Err(REQ.err("tool_choice must be a string or an object")),
    };
    if no_parallel {
        if let Some(o) = tc.as_object_mut() {
            o.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }
    Ok(Some(tc))
}

/// Anthropic `tools` -> OpenAI `tools`.
pub(crate) fn tools_to_openai(tools: &Value) -> Result<Vec<Value>, ConvertError> {
    let mut out = Vec::new();
    for t in arr(tools, "tools", REQ)? {
        let t = obj(t, "tools[]", REQ)?;
        if let Some(kind) = opt_str(t, "type", "tools[]", REQ)? {
            if kind != "custom" {
                return Err(REQ.err(format!(
                    "tools[]: server tool {kind} is not supported by this model"
                )));
            }
        }
        let mut f = Obj::new();
        f.insert("name".into(), json!(req_str(t, "name", "tools[]", REQ)?));
        if let Some(d) = opt_str(t, "description", "tools[]", REQ)? {
            f.insert("description".into(), json!(d));
        }
        let schema = opt(t, "input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        f.insert("parameters".into(), schema);
        out.push(json!({"type": "function", "function": f}));
    }
    Ok(out)
}

/// Anthropic `tool_choice` -> (OpenAI `tool_choice`, `parallel_tool_calls`).
pub(crate) fn tool_choice_to_openai(
    choice: Option<&Value>,
) -> Result<(Option<Value>, Option<bool>), ConvertError> {
    let Some(v) = choice.filter(|v| !v.is_null()) else {
        return Ok((None, None));
    };
    let o = obj(v, "tool_choice", REQ)?;
    let tc = match req_str(o, "type", "tool_choice", REQ)? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            json!({"type": "function", "function": {"name": req_str(o, "name", "tool_choice", REQ)?}})
        }
        other => return Err(REQ.err(format!("tool_choice: unsupported type {other}"))),
    };
    let parallel = match o.get("disable_parallel_tool_use") {
        Some(Value::Bool(true)) => Some(false),
        _ => None,
    };
    Ok((Some(tc), parallel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_both_ways() {
        let oa = json!([{"type":"function","function":{"name":"get_weather","description":"d",
            "parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}}]);
        let an = tools_to_anthropic(&oa).unwrap();
        assert_eq!(
            an,
            vec![json!({"name":"get_weather","description":"d",
            "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}})]
        );
        let back = tools_to_openai(&Value::Array(an)).unwrap();
        assert_eq!(
            back[0]["function"]["parameters"],
            oa[0]["function"]["parameters"]
        );
        assert_eq!(back[0]["type"], "function");
    }

    #[test]
    fn missing_parameters_get_empty_schema_and_bad_tools_fail() {
        let an = tools_to_anthropic(&json!([{"type":"function","function":{"name":"f"}}])).unwrap();
        assert_eq!(
            an[0]["input_schema"],
            json!({"type":"object","properties":{}})
        );
        assert!(tools_to_anthropic(&json!([{"type":"web_search"}])).is_err());
        assert!(tools_to_anthropic(&json!([{"type":"function"}])).is_err());
        assert!(tools_to_anthropic(&json!({})).is_err());
        assert!(
            tools_to_openai(&json!([{"type":"web_search_20250305","name":"web_search"}])).is_err()
        );
        assert!(tools_to_openai(&json!([{"description":"no name"}])).is_err());
    }

    #[test]
    fn tool_choice_to_anthropic_all_forms() {
        let f =
            |c: Value, p: Option<Value>| tool_choice_to_anthropic(Some(&c), p.as_ref()).unwrap();
        assert_eq!(f(json!("auto"), None), Some(json!({"type":"auto"})));
        assert_eq!(f(json!("required"), None), Some(json!({"type":"any"})));
        assert_eq!(
            f(json!("none"), Some(json!(false))),
            Some(json!({"type":"none"}))
        );
        assert_eq!(
            f(
                json!({"type":"function","function":{"name":"g"}}),
                Some(json!(false))
            ),
            Some(json!({"type":"tool","name":"g","disable_parallel_tool_use":true}))
        );
        assert_eq!(
            tool_choice_to_anthropic(None, Some(&json!(false))).unwrap(),
            Some(json!({"type":"auto","disable_parallel_tool_use":true}))
        );
        assert_eq!(
            tool_choice_to_anthropic(None, Some(&json!(true))).unwrap(),
            None
        );
        assert!(tool_choice_to_anthropic(Some(&json!("sometimes")), None).is_err());
        assert!(tool_choice_to_anthropic(Some(&json!({"type":"function"})), None).is_err());
        assert!(tool_choice_to_anthropic(None, Some(&json!("no"))).is_err());
    }

    #[test]
    fn tool_choice_to_openai_all_forms() {
        let f = |c: Value| tool_choice_to_openai(Some(&c)).unwrap();
        assert_eq!(f(json!({"type":"auto"})), (Some(json!("auto")), None));
        assert_eq!(f(json!({"type":"any"})), (Some(json!("required")), None));
        assert_eq!(f(json!({"type":"none"})), (Some(json!("none")), None));
        assert_eq!(
            f(json!({"type":"tool","name":"g","disable_parallel_tool_use":true})),
            (
                Some(json!({"type":"function","function":{"name":"g"}})),
                Some(false)
            )
        );
        assert!(tool_choice_to_openai(Some(&json!({"type":"tool"}))).is_err());
        assert!(tool_choice_to_openai(Some(&json!("auto"))).is_err());
        assert_eq!(tool_choice_to_openai(None).unwrap(), (None, None));
    }
}
