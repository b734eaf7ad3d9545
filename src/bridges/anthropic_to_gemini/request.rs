//! Anthropic Messages request -> Gemini `GenerateContentRequest`.
//!
//! Owns: `messages_request_to_gemini`: `system` (a string or text blocks) as
//! `systemInstruction`, messages as `contents` (text, base64 and URL images, `tool_use` as
//! `functionCall`, `tool_result` as `functionResponse` named by the `tool_use` it answers,
//! images inside a result as parts after it), tools and `tool_choice`, sampling parameters and
//! `thinking` as `generationConfig`. Must never forward a field Gemini would reject; blocks
//! without a counterpart are a 400 (see the `bridges` module docs for what is dropped).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::bridges::common::gemini_upstream::settings::{
    declaration, number, tool_config, tools, Choice,
};
use crate::bridges::common::gemini_upstream::write::{
    call_part, image_url_part, inline_part, request_body, response_part, text_part, Role, Turns,
};
use crate::bridges::common::json::{arr, obj, opt, opt_str, req_str, Obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// Convert an Anthropic messages request into a Gemini `GenerateContentRequest` (the upstream
/// model goes in the URL, not the body).
pub(crate) fn messages_request_to_gemini(
    req: &Value,
    _upstream_model: &str,
) -> Result<Value, ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let system = match opt(r, "system") {
        None => Vec::new(),
        Some(Value::String(s)) => text_part(s).into_iter().collect(),
        Some(Value::Array(blocks)) => {
            let mut out = Vec::new();
            for b in blocks {
                let b = obj(b, "system block", REQ)?;
                out.extend(text_part(req_str(b, "text", "system block", REQ)?));
            }
            out
        }
        Some(_) => return Err(REQ.err("system must be a string or an array of text blocks")),
    };
    let msgs = arr(r.get("messages").unwrap_or(&Value::Null), "messages", REQ)?;
    let mut turns = Turns::default();
    let mut names: HashMap<String, String> = HashMap::new();
    for m in msgs {
        let m = obj(m, "messages[]", REQ)?;
        let role = match req_str(m, "role", "messages[]", REQ)? {
            "user" => Role::User,
            "assistant" => Role::Model,
            other => return Err(REQ.err(format!("messages[]: role {other} is not supported"))),
        };
        turns.push(role, parts(m.get("content"), &mut names)?);
    }
    let declarations = match opt(r, "tools") {
        Some(t) => declarations(t)?,
        None => Vec::new(),
    };
    let choice = match opt(r, "tool_choice") {
        Some(c) => Some(choice(c)?),
        None => None,
    };
    Ok(request_body(
        turns.into_contents(),
        system,
        tools(declarations),
        choice.as_ref().map(tool_config),
        generation_config(r)?,
    ))
}

/// A message's content (a string or blocks) as Gemini parts.
fn parts(
    content: Option<&Value>,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, ConvertError> {
    let blocks = match content {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(text_part(s).into_iter().collect()),
        Some(Value::Array(blocks)) => blocks,
        Some(_) => return Err(REQ.err("message content must be a string or an array of blocks")),
    };
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let b = obj(b, "content block", REQ)?;
        match b.get("type").and_then(Value::as_str) {
            Some("text") => out.extend(text_part(req_str(b, "text", "text block", REQ)?)),
            Some("image") => out.push(image(b)?),
            Some("tool_use") => {
                let id = req_str(b, "id", "tool_use block", REQ)?;
                let name = req_str(b, "name", "tool_use block", REQ)?;
                let input = match opt(b, "input") {
                    None => json!({}),
                    Some(i @ Value::Object(_)) => i.clone(),
                    Some(_) => return Err(REQ.err("tool_use.input must be an object")),
                };
                names.insert(id.to_owned(), name.to_owned());
                out.push(call_part(name, input));
            }
            Some("tool_result") => tool_result(b, names, &mut out)?,
            // Gemini cannot take back thoughts it did not sign: left out.
            Some("thinking" | "redacted_thinking") => {}
            Some(other) => {
                return Err(REQ.err(format!(
                    "content block type {other} is not supported by this model"
                )))
            }
            None => return Err(REQ.err("content block needs a type")),
        }
    }
    Ok(out)
}

fn image(b: &Obj) -> Result<Value, ConvertError> {
    let src = obj(b.get("source").unwrap_or(&Value::Null), "image.source", REQ)?;
    match req_str(src, "type", "image.source", REQ)? {
        "base64" => Ok(inline_part(
            req_str(src, "media_type", "image.source", REQ)?,
            req_str(src, "data", "image.source", REQ)?,
        )),
        "url" => image_url_part(req_str(src, "url", "image.source", REQ)?),
        other => Err(REQ.err(format!(
            "image source type {other} is not supported by this model"
        ))),
    }
}

/// A `tool_result` block: its text as the function's response, its images as parts after it.
fn tool_result(
    b: &Obj,
    names: &HashMap<String, String>,
    out: &mut Vec<Value>,
) -> Result<(), ConvertError> {
    let id = req_str(b, "tool_use_id", "tool_result block", REQ)?;
    let name = names.get(id).ok_or_else(|| {
        REQ.err(format!(
            "tool_result: tool_use_id {id} answers no earlier tool_use"
        ))
    })?;
    let is_error = b.get("is_error").and_then(Value::as_bool) == Some(true);
    let mut images = Vec::new();
    let text = match opt(b, "content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(inner)) => {
            let mut texts = Vec::new();
            for i in inner {
                let i = obj(i, "tool_result content block", REQ)?;
                match i.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(req_str(i, "text", "text block", REQ)?),
                    Some("image") => images.push(image(i)?),
                    _ => {
                        return Err(
                            REQ.err("tool_result content blocks must be text or image blocks")
                        )
                    }
                }
            }
            texts.join("\n")
        }
        Some(_) => return Err(REQ.err("tool_result content must be a string or blocks")),
    };
    out.push(response_part(name, &text, is_error));
    out.extend(images);
    Ok(())
}

fn declarations(tools: &Value) -> Result<Vec<Value>, ConvertError> {
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
        out.push(declaration(
            req_str(t, "name", "tools[]", REQ)?,
            opt_str(t, "description", "tools[]", REQ)?,
            opt(t, "input_schema"),
        ));
    }
    Ok(out)
}

fn choice(c: &Value) -> Result<Choice, ConvertError> {
    let o = obj(c, "tool_choice", REQ)?;
    match req_str(o, "type", "tool_choice", REQ)? {
        "auto" => Ok(Choice::Auto),
        "any" => Ok(Choice::Any(None)),
        "none" => Ok(Choice::None),
        "tool" => Ok(Choice::Any(Some(
            req_str(o, "name", "tool_choice", REQ)?.to_owned(),
        ))),
        other => Err(REQ.err(format!("tool_choice: unsupported type {other}"))),
    }
}

fn generation_config(r: &Obj) -> Result<Map<String, Value>, ConvertError> {
    let mut g = Map::new();
    for (key, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
    ] {
        number(r, key, &mut g, gemini)?;
    }
    if let Some(max) = opt(r, "max_tokens") {
        let max = max
            .as_u64()
            .ok_or_else(|| REQ.err("max_tokens must be a non-negative integer"))?;
        g.insert("maxOutputTokens".into(), json!(max));
    }
    match opt(r, "stop_sequences") {
        None => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            g.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(REQ.err("stop_sequences must be an array of strings")),
    }
    if let Some(t) = opt(r, "thinking") {
        let t = obj(t, "thinking", REQ)?;
        match req_str(t, "type", "thinking", REQ)? {
            "enabled" => {
                let mut c = Map::new();
                c.insert("includeThoughts".into(), json!(true));
                if let Some(b) = opt(t, "budget_tokens") {
                    let b = b
                        .as_u64()
                        .ok_or_else(|| REQ.err("thinking.budget_tokens must be an integer"))?;
                    c.insert("thinkingBudget".into(), json!(b));
                }
                g.insert("thinkingConfig".into(), Value::Object(c));
            }
            "adaptive" => {
                g.insert("thinkingConfig".into(), json!({"includeThoughts": true}));
            }
            // The model's own default (some Gemini models cannot turn thinking off).
            "disabled" => {}
            other => return Err(REQ.err(format!("thinking: unsupported type {other}"))),
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests;
