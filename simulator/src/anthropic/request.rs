//! Parsing and validation of a Messages request, and the prompt it amounts to.
//! Owns Anthropic's request rules (max_tokens, system, tools); must never format output.

use serde::Deserialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::gen::{text, tools};
use crate::Provider;

#[derive(Deserialize)]
pub(crate) struct MessagesRequest {
    pub(crate) model: Option<String>,
    pub(crate) max_tokens: Option<u64>,
    pub(crate) messages: Option<Vec<Message>>,
    pub(crate) system: Option<Value>,
    pub(crate) stream: Option<bool>,
    pub(crate) stop_sequences: Option<Vec<String>>,
    pub(crate) tools: Option<Vec<Value>>,
    pub(crate) tool_choice: Option<Value>,
}

#[derive(Deserialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) content: Value,
}

/// The text a request's answer is derived from, and its input tokens.
pub(crate) struct Prompt {
    pub(crate) text: String,
    pub(crate) tokens: u64,
    /// The last message is the user's own words (not a tool result).
    pub(crate) user_spoke_last: bool,
}

pub(crate) fn invalid_field(field: &str, what: &str) -> ApiError {
    ApiError::invalid(format!("{field}: {what}"))
}

/// Parses the body and checks `model` (known) and `messages` (non-empty).
pub(crate) fn parse(body: &[u8]) -> Result<(MessagesRequest, String), ApiError> {
    let req: MessagesRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("There was an error parsing the body: {e}")))?;
    let model = req
        .model
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid_field("model", "Field required"))?;
    if req.messages.as_ref().is_none_or(Vec::is_empty) {
        return Err(invalid_field("messages", "Field required"));
    }
    if !Provider::Anthropic.knows_model(&model) {
        return Err(ApiError::unknown_model(Provider::Anthropic, &model));
    }
    Ok((req, model))
}

impl MessagesRequest {
    pub(crate) fn prompt(&self) -> Prompt {
        let mut out = String::new();
        let mut tokens = 0;
        if let Some(system) = &self.system {
            let t = text::of(system);
            tokens += text::words(&t);
            out.push_str("system:");
            out.push_str(&t);
            out.push('\n');
        }
        let messages = self.messages.as_deref().unwrap_or_default();
        for m in messages {
            let t = text::of(&m.content);
            tokens += text::words(&t) + text::PER_MESSAGE;
            out.push_str(&m.role);
            out.push(':');
            out.push_str(&t);
            out.push('\n');
        }
        let user_spoke_last = messages
            .last()
            .is_some_and(|m| m.role == "user" && !has_tool_result(&m.content));
        Prompt {
            text: out,
            tokens,
            user_spoke_last,
        }
    }

    /// The tool to call (name, input), when tools are offered and not refused.
    pub(crate) fn tool_call(&self) -> Result<Option<(String, Value)>, ApiError> {
        let Some(list) = self.tools.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let choice = self.tool_choice.as_ref();
        let kind = choice.and_then(|c| c.get("type")).and_then(Value::as_str);
        let tool = match kind {
            Some("none") => return Ok(None),
            Some("tool") => {
                let name = choice
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid_field("tool_choice.name", "Field required"))?;
                list.iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
                    .ok_or_else(|| {
                        invalid_field("tool_choice", &format!("Tool '{name}' not found in tools"))
                    })?
            }
            _ => &list[0],
        };
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_field("tools.0.name", "Field required"))?;
        Ok(Some((
            name.to_owned(),
            tools::arguments(tool.get("input_schema")),
        )))
    }
}

fn has_tool_result(content: &Value) -> bool {
    content.as_array().is_some_and(|blocks| {
        blocks
            .iter()
            .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
    })
}
