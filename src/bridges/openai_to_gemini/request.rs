//! OpenAI Chat Completions request -> Gemini `GenerateContentRequest`.
//!
//! Owns: `chat_request_to_gemini`: system/developer messages as `systemInstruction`, turns as
//! `contents` (`tool` messages as `functionResponse` parts named by the call they answer),
//! tools and `tool_choice`, and the sampling parameters as `generationConfig`. The body names
//! no model and no `stream` (Gemini puts both in the URL). Must never forward a field Gemini
//! would reject or a silent `n > 1` (see the `bridges` module docs for what is dropped).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::bridges::common::gemini_upstream::settings::{
    declaration, json_output, number, tool_config, tools, Choice,
};
use crate::bridges::common::gemini_upstream::write::{
    args_object, call_part, image_url_part, request_body, response_part, text_part, Role, Turns,
};
use crate::bridges::common::json::{arr, obj, opt, opt_str, req_str, text_of, Obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// Convert an OpenAI chat request into a Gemini `GenerateContentRequest` (the upstream model
/// goes in the URL, not the body).
pub(crate) fn chat_request_to_gemini(
    req: &Value,
    _upstream_model: &str,
) -> Result<Value, ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let msgs = arr(r.get("messages").unwrap_or(&Value::Null), "messages", REQ)?;
    let (system, contents) = convert_messages(msgs)?;
    let declarations = match opt(r, "tools") {
        Some(t) => declarations(t)?,
        None => Vec::new(),
    };
    let choice = match opt(r, "tool_choice") {
        Some(c) => Some(choice(c)?),
        None => None,
    };
    Ok(request_body(
        contents,
        system,
        tools(declarations),
        choice.as_ref().map(tool_config),
        generation_config(r)?,
    ))
}

fn convert_messages(msgs: &[Value]) -> Result<(Vec<Value>, Vec<Value>), ConvertError> {
    let mut system = Vec::new();
    let mut turns = Turns::default();
    // Tool-call ids seen so far, and the function each called.
    let mut names: HashMap<String, String> = HashMap::new();
    for m in msgs {
        let m = obj(m, "messages[]", REQ)?;
        match req_str(m, "role", "messages[]", REQ)? {
            "system" | "developer" => {
                let t = text_of(m.get("content"), "system message content", "\n", false, REQ)?;
                system.extend(text_part(&t));
            }
            "user" => turns.push(Role::User, content_parts(m.get("content"))?),
            "assistant" => turns.push(Role::Model, assistant_parts(m, &mut names)?),
            "tool" => {
                let id = req_str(m, "tool_call_id", "tool message", REQ)?;
                let name = names.get(id).ok_or_else(|| {
                    REQ.err(format!(
                        "tool message: tool_call_id {id} answers no earlier tool call"
                    ))
                })?;
                let result = text_of(m.get("content"), "tool message content", "", false, REQ)?;
                turns.push(Role::User, vec![response_part(name, &result, false)]);
            }
            other => return Err(REQ.err(format!("messages[]: role {other} is not supported"))),
        }
    }
    Ok((system, turns.into_contents()))
}

/// User (or assistant) content: a string or parts -> Gemini parts, empty text left out.
fn content_parts(content: Option<&Value>) -> Result<Vec<Value>, ConvertError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text_part(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                let p = obj(p, "content part", REQ)?;
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => out.extend(text_part(req_str(p, "text", "text part", REQ)?)),
                    Some("refusal") => {
                        out.extend(text_part(req_str(p, "refusal", "refusal part", REQ)?))
                    }
                    Some("image_url") => {
                        let url = match p.get("image_url") {
                            Some(Value::String(s)) => s.as_str(),
                            Some(Value::Object(o)) => req_str(o, "url", "image_url", REQ)?,
                            _ => return Err(REQ.err("image_url part needs image_url.url")),
                        };
                        out.push(image_url_part(url)?);
                    }
                    Some(other) => {
                        return Err(REQ.err(format!(
                            "content part type {other} is not supported by this model"
                        )))
                    }
                    None => return Err(REQ.err("content part needs a type")),
                }
            }
            Ok(out)
        }
        Some(_) => Err(REQ.err("message content must be a string or an array of parts")),
    }
}

fn assistant_parts(
    m: &Obj,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, ConvertError> {
    if opt(m, "function_call").is_some() {
        return Err(REQ.err("function_call messages are not supported; use tool_calls"));
    }
    let mut parts = content_parts(m.get("content"))?;
    let Some(calls) = opt(m, "tool_calls") else {
        return Ok(parts);
    };
    for c in arr(calls, "tool_calls", REQ)? {
        let c = obj(c, "tool_calls[]", REQ)?;
        let f = obj(
            c.get("function").unwrap_or(&Value::Null),
            "tool_calls[].function",
            REQ,
        )?;
        let name = req_str(f, "name", "tool_calls[].function", REQ)?;
        let args = opt_str(f, "arguments", "tool_calls[].function", REQ)?.unwrap_or("");
        let args = args_object(args, "tool_calls[].function.arguments")?;
        names.insert(
            req_str(c, "id", "tool_calls[]", REQ)?.to_owned(),
            name.to_owned(),
        );
        parts.push(call_part(name, args));
    }
    Ok(parts)
}

fn declarations(tools: &Value) -> Result<Vec<Value>, ConvertError> {
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
        out.push(declaration(
            req_str(f, "name", "tools[].function", REQ)?,
            opt_str(f, "description", "tools[].function", REQ)?,
            opt(f, "parameters"),
        ));
    }
    Ok(out)
}

fn choice(c: &Value) -> Result<Choice, ConvertError> {
    match c {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Choice::Auto),
            "required" => Ok(Choice::Any(None)),
            "none" => Ok(Choice::None),
            other => Err(REQ.err(format!("tool_choice: unsupported value {other}"))),
        },
        Value::Object(o) => {
            let f = o
                .get("function")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    REQ.err("tool_choice: only {type:function,function:{name}} is supported")
                })?;
            let name = req_str(f, "name", "tool_choice.function", REQ)?;
            Ok(Choice::Any(Some(name.to_owned())))
        }
        _ => Err(REQ.err("tool_choice must be a string or an object")),
    }
}

fn generation_config(r: &Obj) -> Result<Map<String, Value>, ConvertError> {
    let mut g = Map::new();
    if let Some(n) = opt(r, "n") {
        match n.as_u64() {
            Some(0 | 1) => {}
            Some(_) => return Err(REQ.err("n > 1 is not supported by this model")),
            None => return Err(REQ.err("n must be a positive integer")),
        }
    }
    for (key, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        number(r, key, &mut g, gemini)?;
    }
    if let Some(seed) = opt(r, "seed") {
        let seed = seed
            .as_i64()
            .ok_or_else(|| REQ.err("seed must be an integer"))?;
        // Gemini's seed is an int32: a larger one is folded into it (still deterministic).
        g.insert("seed".into(), json!(seed as i32));
    }
    if let Some(max) = opt(r, "max_completion_tokens").or_else(|| opt(r, "max_tokens")) {
        let max = max
            .as_u64()
            .ok_or_else(|| REQ.err("max_tokens must be a non-negative integer"))?;
        g.insert("maxOutputTokens".into(), json!(max));
    }
    match opt(r, "stop") {
        None => {}
        Some(Value::String(s)) => {
            g.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            g.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(REQ.err("stop must be a string or an array of strings")),
    }
    if let Some(f) = opt(r, "response_format") {
        let f = obj(f, "response_format", REQ)?;
        match req_str(f, "type", "response_format", REQ)? {
            "text" => {}
            "json_object" => json_output(&mut g, None),
            "json_schema" => {
                let js = f
                    .get("json_schema")
                    .and_then(Value::as_object)
                    .ok_or_else(|| REQ.err("response_format.json_schema must be an object"))?;
                json_output(&mut g, opt(js, "schema"));
            }
            other => {
                return Err(REQ.err(format!(
                    "response_format type {other} is not supported by this model"
                )))
            }
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests;
