//! OpenAI Chat Completions request -> Anthropic Messages request.
//!
//! Owns: `chat_request_to_messages` and the message-list rules (system hoisting, role merging,
//! tool results). Must never forward a field Anthropic would reject or a silent `n > 1`; params
//! without an Anthropic counterpart are dropped (see the `bridges` module docs).

use serde_json::{json, Value};

use crate::bridges::common::json::{arr, obj, opt, opt_str, req_str, text_of, Obj};
use crate::bridges::common::parts::part_to_block;
use crate::bridges::common::tools::{tool_choice_to_anthropic, tools_to_anthropic};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;
/// `max_tokens` is required by Anthropic; this is sent when the client gave none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Convert an OpenAI chat request into an Anthropic Messages request for `upstream_model`.
pub fn chat_request_to_messages(req: &Value, upstream_model: &str) -> Result<Value, ConvertError> {
    let r = obj(req, "request body", REQ)?;
    if let Some(n) = opt(r, "n") {
        match n.as_u64() {
            Some(0 | 1) => {}
            Some(_) => return Err(REQ.err("n > 1 is not supported by this model")),
            None => return Err(REQ.err("n must be a positive integer")),
        }
    }
    let msgs = arr(r.get("messages").unwrap_or(&Value::Null), "messages", REQ)?;
    let (system, messages) = convert_messages(msgs)?;

    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));
    if !system.is_empty() {
        out.insert("system".into(), json!(system));
    }
    out.insert("messages".into(), Value::Array(messages));
    let max = opt(r, "max_completion_tokens").or_else(|| opt(r, "max_tokens"));
    let max = match max {
        None => DEFAULT_MAX_TOKENS,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| REQ.err("max_tokens must be a non-negative integer"))?,
    };
    out.insert("max_tokens".into(), json!(max));
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(v) = opt(r, key) {
            if !v.is_number() {
                return Err(REQ.err(format!("{key} must be a number")));
            }
            out.insert(key.into(), v.clone());
        }
    }
    match opt(r, "stop") {
        None => {}
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(REQ.err("stop must be a string or an array of strings")),
    }
    let tools = match opt(r, "tools") {
        Some(t) => tools_to_anthropic(t)?,
        None => Vec::new(),
    };
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(tc) =
            tool_choice_to_anthropic(opt(r, "tool_choice"), opt(r, "parallel_tool_calls"))?
        {
            out.insert("tool_choice".into(), tc);
        }
    }
    if let Some(user) = opt_str(r, "user", "request", REQ)? {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    match opt(r, "stream") {
        None => {}
        Some(Value::Bool(b)) => {
            out.insert("stream".into(), json!(b));
        }
        Some(_) => return Err(REQ.err("stream must be a boolean")),
    }
    Ok(Value::Object(out))
}

/// Messages -> (joined system text, Anthropic messages with strict user/assistant alternation).
fn convert_messages(msgs: &[Value]) -> Result<(String, Vec<Value>), ConvertError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in msgs {
        let m = obj(m, "messages[]", REQ)?;
        let role = req_str(m, "role", "messages[]", REQ)?;
        let (role, blocks) = match role {
            "system" | "developer" => {
                let t = text_of(
                    m.get("content"),
                    "system message content",
                    "\n\n",
                    false,
                    REQ,
                )?;
                if !t.is_empty() {
                    system.push(t);
                }
                continue;
            }
            "user" => ("user", content_blocks(m.get("content"))?),
            "assistant" => ("assistant", assistant_blocks(m)?),
            "tool" => ("user", vec![tool_result(m)?]),
            other => return Err(REQ.err(format!("messages[]: role {other} is not supported"))),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            // Anthropic wants tool results first in a user turn.
            blocks.sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
            json!({"role": role, "content": compact(blocks)})
        })
        .collect();
    Ok((system.join("\n\n"), messages))
}

/// A lone plain text block is sent as a string; anything else as blocks.
fn compact(blocks: Vec<Value>) -> Value {
    if let [b] = blocks.as_slice() {
        if let Some(o) = b.as_object() {
            if o.len() == 2 && o.get("type").and_then(Value::as_str) == Some("text") {
                if let Some(t) = o.get("text") {
                    return t.clone();
                }
            }
        }
    }
    Value::Array(blocks)
}

/// User (or assistant text) content: string or parts -> blocks, empty text dropped.
fn content_blocks(content: Option<&Value>) -> Result<Vec<Value>, ConvertError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| part_to_block(p).transpose())
            .collect(),
        Some(_) => Err(REQ.err("message content must be a string or an array of parts")),
    }
}

fn assistant_blocks(m: &Obj) -> Result<Vec<Value>, ConvertError> {
    if opt(m, "function_call").is_some() {
        return Err(REQ.err("function_call messages are not supported; use tool_calls"));
    }
    let mut blocks = content_blocks(m.get("content"))?;
    let Some(calls) = opt(m, "tool_calls") else {
        return Ok(blocks);
    };
    for c in arr(calls, "tool_calls", REQ)? {
        let c = obj(c, "tool_calls[]", REQ)?;
        let f = obj(
            c.get("function").unwrap_or(&Value::Null),
            "tool_calls[].function",
            REQ,
        )?;
        let args = opt_str(f, "arguments", "tool_calls[].function", REQ)?.unwrap_or("");
        let input: Value = if args.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| {
                REQ.err(format!(
                    "tool_calls[].function.arguments is not valid JSON: {e}"
                ))
            })?
        };
        if !input.is_object() {
            return Err(REQ.err("tool_calls[].function.arguments must be a JSON object"));
        }
        blocks.push(json!({
            "type": "tool_use",
            "id": req_str(c, "id", "tool_calls[]", REQ)?,
            "name": req_str(f, "name", "tool_calls[].function", REQ)?,
            "input": input,
        }));
    }
    Ok(blocks)
}

fn tool_result(m: &Obj) -> Result<Value, ConvertError> {
    let mut b = Obj::new();
    b.insert("type".into(), json!("tool_result"));
    b.insert(
        "tool_use_id".into(),
        json!(req_str(m, "tool_call_id", "tool message", REQ)?),
    );
    match m.get("content") {
        Some(Value::String(s)) if !s.is_empty() => {
            b.insert("content".into(), json!(s));
        }
        Some(Value::Array(_)) => {
            let blocks = content_blocks(m.get("content"))?;
            if !blocks.is_empty() {
                b.insert("content".into(), Value::Array(blocks));
            }
        }
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => {
            return Err(REQ.err("tool message content must be a string or an array of parts"))
        }
    }
    Ok(Value::Object(b))
}

#[cfg(test)]
mod tests;
