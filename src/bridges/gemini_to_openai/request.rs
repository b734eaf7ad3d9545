//! A Gemini client's conversation -> OpenAI Chat Completions request.
//!
//! Owns: `generate_to_chat`: the system message, turns as messages (function results as
//! `tool` messages, before the rest of their turn), functions as tools, the calling mode as
//! `tool_choice`, and the settings. Must never: send `n`, or drop a text or a call.

use serde_json::{json, Value};

use crate::bridges::common::gemini_client::config::{Config, Output};
use crate::bridges::common::gemini_client::contents::{Item, Role, Turn};
use crate::bridges::common::gemini_client::request::Conversation;
use crate::bridges::common::gemini_client::tools::{Mode, Tools};
use crate::bridges::common::json::Obj;
use crate::wire::ConvertError;

/// The conversation as a chat request for `upstream_model`; a streamed one asks for usage (a
/// Gemini client is always told its usage).
pub(crate) fn generate_to_chat(
    c: &Conversation,
    upstream_model: &str,
    stream: bool,
) -> Result<Value, ConvertError> {
    let mut messages = Vec::with_capacity(c.turns.len() + 1);
    if !c.system.is_empty() {
        messages.push(json!({"role": "system", "content": c.system}));
    }
    for t in &c.turns {
        turn(t, &mut messages);
    }
    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));
    out.insert("messages".into(), Value::Array(messages));
    tools(&c.tools, &mut out);
    settings(&c.config, &mut out);
    if stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(out))
}

fn turn(t: &Turn, out: &mut Vec<Value>) {
    match t.role {
        Role::Model => {
            let mut text = String::new();
            let mut calls = Vec::new();
            for item in &t.items {
                match item {
                    Item::Text(s) => text.push_str(s),
                    Item::Call { id, name, args } => calls
                        .push(json!({"id": id, "type": "function",
                        "function": {"name": name, "arguments": args.to_string()}})),
                    // Read only in user turns.
                    Item::Image { .. } | Item::ImageUrl(_) | Item::Result { .. } => {}
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
            out.push(Value::Object(m));
        }
        Role::User => {
            let mut parts = Vec::new();
            for item in &t.items {
                match item {
                    Item::Result { id, response, .. } => out.push(
                        json!({"role": "tool", "tool_call_id": id, "content": response.to_string()}),
                    ),
                    Item::Text(s) => parts.push(json!({"type": "text", "text": s})),
                    Item::Image { mime, data } => parts.push(json!({"type": "image_url",
                        "image_url": {"url": format!("data:{mime};base64,{data}")}})),
                    Item::ImageUrl(url) => {
                        parts.push(json!({"type": "image_url", "image_url": {"url": url}}))
                    }
                    // Read only in model turns.
                    Item::Call { .. } => {}
                }
            }
            match parts.as_slice() {
                [] => {}
                [p] if p["type"] == "text" => {
                    out.push(json!({"role": "user", "content": p["text"]}));
                }
                _ => out.push(json!({"role": "user", "content": parts})),
            }
        }
    }
}

fn tools(t: &Tools, out: &mut Obj) {
    if t.functions.is_empty() {
        return;
    }
    let list: Vec<Value> = t
        .functions
        .iter()
        .map(|f| {
            let mut d = Obj::new();
            d.insert("name".into(), json!(f.name));
            if let Some(desc) = &f.description {
                d.insert("description".into(), json!(desc));
            }
            d.insert("parameters".into(), f.parameters.clone());
            json!({"type": "function", "function": d})
        })
        .collect();
    let choice = match (t.mode, t.functions.as_slice()) {
        (Mode::Auto, _) => None,
        (Mode::None, _) => Some(json!("none")),
        (Mode::Any, [only]) => Some(json!({"type": "function", "function": {"name": only.name}})),
        (Mode::Any, _) => Some(json!("required")),
    };
    out.insert("tools".into(), Value::Array(list));
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
}

fn settings(c: &Config, out: &mut Obj) {
    for (key, v) in [
        ("temperature", &c.temperature),
        ("top_p", &c.top_p),
        ("presence_penalty", &c.presence_penalty),
        ("frequency_penalty", &c.frequency_penalty),
    ] {
        if let Some(v) = v {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(m) = c.max_tokens {
        out.insert("max_tokens".into(), json!(m));
    }
    if !c.stop.is_empty() {
        out.insert("stop".into(), json!(c.stop));
    }
    if let Some(s) = c.seed {
        out.insert("seed".into(), json!(s));
    }
    match &c.output {
        Output::Text => {}
        Output::Json(None) => {
            out.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Output::Json(Some(schema)) => {
            out.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}),
            );
        }
    }
}

#[cfg(test)]
mod tests;
