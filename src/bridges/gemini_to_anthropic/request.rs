//! A Gemini client's conversation -> Anthropic Messages request.
//!
//! Owns: `generate_to_messages`: `system`, turns as messages (function results as
//! `tool_result` blocks first in their user turn, content the JSON text of `response`; a
//! response holding only `error` is marked `is_error`), functions as tools with
//! `input_schema`, the calling mode as `tool_choice`, and the settings (`max_tokens` defaults
//! when absent). Must never: send a message without content.

use serde_json::{json, Value};

use crate::bridges::common::gemini_client::config::Config;
use crate::bridges::common::gemini_client::contents::{Item, Role, Turn};
use crate::bridges::common::gemini_client::request::Conversation;
use crate::bridges::common::gemini_client::tools::{Mode, Tools};
use crate::bridges::common::json::Obj;
use crate::wire::ConvertError;

/// `max_tokens` is required by Anthropic; this is sent when the client gave none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The conversation as a messages request for `upstream_model`.
pub(crate) fn generate_to_messages(
    c: &Conversation,
    upstream_model: &str,
    stream: bool,
) -> Result<Value, ConvertError> {
    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));
    if !c.system.is_empty() {
        out.insert("system".into(), json!(c.system));
    }
    let messages: Vec<Value> = c.turns.iter().map(message).collect();
    out.insert("messages".into(), Value::Array(messages));
    settings(&c.config, &mut out);
    tools(&c.tools, &mut out);
    if stream {
        out.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(out))
}

fn message(t: &Turn) -> Value {
    let mut results = Vec::new();
    let mut blocks = Vec::with_capacity(t.items.len());
    for item in &t.items {
        match item {
            Item::Text(s) => blocks.push(json!({"type": "text", "text": s})),
            Item::Image { mime, data } => blocks.push(json!({"type": "image",
                "source": {"type": "base64", "media_type": mime, "data": data}})),
            Item::ImageUrl(url) => {
                blocks.push(json!({"type": "image", "source": {"type": "url", "url": url}}))
            }
            Item::Call { id, name, args } => {
                blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": args}))
            }
            Item::Result { id, response, .. } => {
                let mut b = json!({"type": "tool_result", "tool_use_id": id,
                    "content": response.to_string()});
                let only_error = response
                    .as_object()
                    .is_some_and(|o| o.len() == 1 && o.contains_key("error"));
                if only_error {
                    b["is_error"] = json!(true);
                }
                results.push(b);
            }
        }
    }
    results.extend(blocks);
    let role = match t.role {
        Role::User => "user",
        Role::Model => "assistant",
    };
    json!({"role": role, "content": results})
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
            d.insert("input_schema".into(), f.parameters.clone());
            Value::Object(d)
        })
        .collect();
    let choice = match (t.mode, t.functions.as_slice()) {
        (Mode::Auto, _) => None,
        (Mode::None, _) => Some(json!({"type": "none"})),
        (Mode::Any, [only]) => Some(json!({"type": "tool", "name": only.name})),
        (Mode::Any, _) => Some(json!({"type": "any"})),
    };
    out.insert("tools".into(), Value::Array(list));
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
}

fn settings(c: &Config, out: &mut Obj) {
    out.insert(
        "max_tokens".into(),
        json!(c.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    for (key, v) in [
        ("temperature", &c.temperature),
        ("top_p", &c.top_p),
        ("top_k", &c.top_k),
    ] {
        if let Some(v) = v {
            out.insert(key.into(), v.clone());
        }
    }
    if !c.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(c.stop));
    }
}

#[cfg(test)]
mod tests;
