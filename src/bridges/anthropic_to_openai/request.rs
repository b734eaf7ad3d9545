//! Anthropic Messages request -> OpenAI Chat Completions request.
//!
//! Owns: `messages_request_to_chat` and the block-to-message rules (tool results become `tool`
//! messages placed before the rest of their user turn). Must never invent content; blocks with
//! no OpenAI counterpart are errors, except thinking blocks, which are dropped.

use serde_json::{json, Value};

use crate::bridges::common::json::{arr, obj, opt, opt_str, req_str, text_of, Obj};
use crate::bridges::common::parts::block_to_part;
use crate::bridges::common::tools::{tool_choice_to_openai, tools_to_openai};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// Convert an Anthropic Messages request into an OpenAI chat request for `upstream_model`.
pub(crate) fn messages_request_to_chat(
    req: &Value,
    upstream_model: &str,
) -> Result<Value, ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let msgs = arr(r.get("messages").unwrap_or(&Value::Null), "messages", REQ)?;
    let mut messages = Vec::with_capacity(msgs.len() + 1);
    let system = text_of(r.get("system"), "system", "\n\n", false, REQ)?;
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in msgs {
        let m = obj(m, "messages[]", REQ)?;
        match req_str(m, "role", "messages[]", REQ)? {
            "user" => user_messages(m.get("content"), &mut messages)?,
            "assistant" => messages.push(assistant_message(m.get("content"))?),
            other => return Err(REQ.err(format!("messages[]: role {other} is not supported"))),
        }
    }

    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));
    out.insert("messages".into(), Value::Array(messages));
    if let Some(v) = opt(r, "max_tokens") {
        let n = v
            .as_u64()
            .ok_or_else(|| REQ.err("max_tokens must be a non-negative integer"))?;
        out.insert("max_tokens".into(), json!(n));
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = opt(r, key) {
            if !v.is_number() {
                return Err(REQ.err(format!("{key} must be a number")));
            }
            out.insert(key.into(), v.clone());
        }
    }
    match opt(r, "stop_sequences") {
        None => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            out.insert("stop".into(), Value::Array(a.clone()));
        }
        Some(_) => return Err(REQ.err("stop_sequences must be an array of strings")),
    }
    let tools = match opt(r, "tools") {
        Some(t) => tools_to_openai(t)?,
        None => Vec::new(),
    };
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        let (tc, parallel) = tool_choice_to_openai(opt(r, "tool_choice"))?;
        if let Some(tc) = tc {
            out.insert("tool_choice".into(), tc);
        }
        if let Some(p) = parallel {
            out.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(meta) = opt(r, "metadata") {
        let meta = obj(meta, "metadata", REQ)?;
        if let Some(u) = opt_str(meta, "user_id", "metadata", REQ)? {
            out.insert("user".into(), json!(u));
        }
    }
    match opt(r, "stream") {
        None => {}
        Some(Value::Bool(true)) => {
            out.insert("stream".into(), json!(true));
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Some(Value::Bool(false)) => {
            out.insert("stream".into(), json!(false));
        }
        Some(_) => return Err(REQ.err("stream must be a boolean")),
    }
    Ok(Value::Object(out))
}

/// One Anthropic user turn -> `tool` messages (one per tool_result) then a user message with
/// the remaining text/images (images found inside tool results are moved there too).
fn user_messages(content: Option<&Value>, out: &mut Vec<Value>) -> Result<(), ConvertError> {
    let blocks = match content {
        Some(Value::String(s)) => {
            out.push(json!({"role": "user", "content": s}));
            return Ok(());
        }
        Some(Value::Array(a)) => a,
        _ => return Err(REQ.err("user message content must be a string or an array of blocks")),
    };
    let mut parts = Vec::new();
    for b in blocks {
        let b = obj(b, "content block", REQ)?;
        if b.get("type").and_then(Value::as_str) != Some("tool_result") {
            parts.push(block_to_part(b)?);
            continue;
        }
        let id = req_str(b, "tool_use_id", "tool_result", REQ)?;
        let text = match opt(b, "content") {
            Some(Value::Array(inner)) => {
                let mut texts = Vec::new();
                for ib in inner {
                    let ib = obj(ib, "tool_result content block", REQ)?;
                    match block_to_part(ib)? {
                        Value::Object(p)
                            if p.get("type").and_then(Value::as_str) == Some("text") =>
                        {
                            texts.push(
                                p.get("text")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_owned(),
                            );
                        }
                        image => parts.push(image),
                    }
                }
                texts.join("\n")
            }
            other => text_of(other, "tool_result content", "\n", false, REQ)?,
        };
        out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
    }
    match parts.as_slice() {
        [] => {}
        [p] if p.get("type").and_then(Value::as_str) == Some("text") => {
            out.push(
                json!({"role": "user", "content": p.get("text").cloned().unwrap_or(Value::Null)}),
            );
        }
        _ => out.push(json!({"role": "user", "content": parts})),
    }
    Ok(())
}

fn assistant_message(content: Option<&Value>) -> Result<Value, ConvertError> {
    let blocks = match content {
        Some(Value::String(s)) => return Ok(json!({"role": "assistant", "content": s})),
        Some(Value::Array(a)) => a,
        _ => {
            return Err(REQ.err("assistant message content must be a string or an array of blocks"))
        }
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        let b = obj(b, "content block", REQ)?;
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(req_str(b, "text", "text block", REQ)?),
            Some("tool_use") => {
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({
                    "id": req_str(b, "id", "tool_use", REQ)?,
                    "type": "function",
                    "function": {"name": req_str(b, "name", "tool_use", REQ)?, "arguments": input.to_string()},
                }));
            }
            Some("thinking" | "redacted_thinking") => {}
            Some(other) => {
                return Err(REQ.err(format!(
                    "assistant block type {other} is not supported by this model"
                )))
            }
            None => return Err(REQ.err("content block needs a type")),
        }
    }
    let mut m = Obj::new();
    m.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    m.insert("content".into(), content);
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests;
