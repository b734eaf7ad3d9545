//! A whole OpenAI `chat.completion` read into neutral form, for the bridges whose upstream
//! speaks OpenAI's format.
//!
//! Owns: [`ChatAnswer`] and [`read`]: choice 0's reasoning (`reasoning_content` or
//! `reasoning`), text (a `refusal` standing in for empty content, with stop reason
//! `Refusal`), tool calls, the stop reason (an answer with calls that ended normally asks for
//! its tools to run), usage and id. Must never: read beyond `choices[0]`.

use serde_json::Value;

use super::json::{arr, obj, opt, opt_str, req_str, text_of};
use super::Side;
use crate::providers::openai;
use crate::wire::{ConvertError, StopReason, Usage};

const UP: Side = Side::Upstream;

/// One tool call of an answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChatCall {
    /// `None` when the upstream gave no (or an empty) id.
    pub id: Option<String>,
    pub name: String,
    /// As the upstream wrote them (not parsed).
    pub arguments: String,
}

/// Choice 0 of a `chat.completion`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChatAnswer {
    pub reasoning: String,
    pub text: String,
    pub calls: Vec<ChatCall>,
    pub stop: StopReason,
    /// Zeros if the upstream sent none.
    pub usage: Usage,
    pub id: Option<String>,
}

/// Reads a `chat.completion` (malformed: the upstream's error).
pub(crate) fn read(resp: &Value) -> Result<ChatAnswer, ConvertError> {
    let r = obj(resp, "upstream response", UP)?;
    if opt(r, "error").is_some() && opt(r, "choices").is_none() {
        return Err(UP.err("upstream answered with an error object"));
    }
    let choice = arr(
        r.get("choices").unwrap_or(&Value::Null),
        "upstream choices",
        UP,
    )?
    .first()
    .ok_or_else(|| UP.err("upstream response has no choices"))?;
    let choice = obj(choice, "upstream choice", UP)?;
    let m = obj(
        choice.get("message").unwrap_or(&Value::Null),
        "upstream message",
        UP,
    )?;
    let reasoning = match opt(m, "reasoning_content").or_else(|| opt(m, "reasoning")) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let mut text = text_of(m.get("content"), "upstream message content", "", true, UP)?;
    let mut refused = false;
    if text.is_empty() {
        if let Some(refusal) = opt_str(m, "refusal", "upstream message", UP)? {
            text = refusal.to_owned();
            refused = !text.is_empty();
        }
    }
    let mut calls = Vec::new();
    if let Some(list) = opt(m, "tool_calls") {
        for c in arr(list, "upstream tool_calls", UP)? {
            let c = obj(c, "upstream tool call", UP)?;
            let f = obj(
                c.get("function").unwrap_or(&Value::Null),
                "upstream tool call function",
                UP,
            )?;
            let arguments = opt_str(f, "arguments", "upstream tool call function", UP)?;
            let id = opt_str(c, "id", "upstream tool call", UP)?.filter(|id| !id.is_empty());
            calls.push(ChatCall {
                id: id.map(str::to_owned),
                name: req_str(f, "name", "upstream tool call function", UP)?.to_owned(),
                arguments: arguments.unwrap_or("").to_owned(),
            });
        }
    }
    let tools = !calls.is_empty();
    let stop = match opt_str(choice, "finish_reason", "upstream choice", UP)? {
        _ if refused => StopReason::Refusal,
        Some(f) => openai::finish::read(f).given_tools(tools),
        None => StopReason::EndTurn.given_tools(tools),
    };
    Ok(ChatAnswer {
        reasoning,
        text,
        calls,
        stop,
        usage: r
            .get("usage")
            .and_then(openai::usage::read)
            .unwrap_or_default(),
        id: r.get("id").and_then(Value::as_str).map(str::to_owned),
    })
}
