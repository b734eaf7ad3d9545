//! `POST /v1/chat/completions`: request validation and the choice of answer.
//! Owns the chat request rules (tools, stop, n, limits); must never format output.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::answer::{Choice, Content, ToolCall, Usage};
use super::{chat_out, common, Api};
use crate::errors::ApiError;
use crate::gen::{text, tools, words};
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::Provider;

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    n: Option<u64>,
    stop: Option<Value>,
    tools: Option<Vec<Value>>,
    tool_choice: Option<Value>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// A validated chat request with its answer.
pub(crate) struct ChatJob {
    pub(crate) model: String,
    pub(crate) choices: Vec<Choice>,
    pub(crate) usage: Usage,
    pub(crate) include_usage: bool,
}

pub(crate) async fn handle(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&api, &headers, &body);
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

fn answer(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    let (ctx, style) = (&api.ctx, api.style);
    common::check_auth(ctx.provider, headers)?;
    let req: ChatRequest = common::parse(body)?;
    let model = api.model(req.model.clone())?;
    let messages = req
        .messages
        .as_ref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| common::missing("messages"))?;
    let limit = match req.max_completion_tokens {
        Some(v) => common::limit(Some(v), "max_completion_tokens")?,
        None => common::limit(req.max_tokens, "max_tokens")?,
    };
    let n = common::choices(req.n)?;
    let stops = common::stops(req.stop.as_ref());

    let mut prompt = String::new();
    let mut prompt_tokens = 0;
    for m in messages {
        let t = m.content.as_ref().map(text::of).unwrap_or_default();
        prompt_tokens += text::words(&t) + text::PER_MESSAGE;
        prompt.push_str(&m.role);
        prompt.push(':');
        prompt.push_str(&t);
        prompt.push('\n');
    }
    let last_is_user = messages.last().is_some_and(|m| m.role == "user");
    let tool = if last_is_user {
        pick_tool(req.tools.as_deref(), req.tool_choice.as_ref())?
    } else {
        None
    };
    let reasons = ctx.provider == Provider::Xai && model.starts_with("grok-3-mini");

    let choices: Vec<Choice> = (0..n)
        .map(|i| Choice {
            content: match &tool {
                Some((name, args)) => Content::Tool(ToolCall {
                    id: ctx.shared.ids.next("call_"),
                    name: name.clone(),
                    arguments: args.clone(),
                }),
                None => Content::Text(words::plan(&prompt, i, limit, &stops)),
            },
            reasoning: reasons.then(|| words::plan(&prompt, 1000 + i, Some(8), &[])),
        })
        .collect();
    let job = ChatJob {
        usage: Usage::of(prompt_tokens, &choices),
        model,
        choices,
        include_usage: req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
    };
    let id = style.id(&ctx.shared.ids, "chatcmpl-");
    Ok(if req.stream.unwrap_or(false) && !style.stream_as_json {
        SimReply::sse(chat_out::chunks(style, &job, &id))
    } else {
        style.reply(
            http::StatusCode::OK,
            &chat_out::completion(style, &job, &id),
        )
    })
}

/// The tool to call (name, JSON arguments), if tools are offered and not refused.
fn pick_tool(
    tools_list: Option<&[Value]>,
    choice: Option<&Value>,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(list) = tools_list.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let wanted = match choice {
        Some(Value::String(s)) if s == "none" => return Ok(None),
        Some(Value::Object(o)) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str),
        _ => None,
    };
    let function = |t: &Value| t.get("function").cloned().unwrap_or(Value::Null);
    let chosen = match wanted {
        Some(name) => list
            .iter()
            .map(function)
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| {
                ApiError::invalid(format!("Tool choice '{name}' not found in 'tools'."))
            })?,
        None => list.first().map(function).unwrap_or(Value::Null),
    };
    let name = chosen
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| common::missing("tools[0].function.name"))?
        .to_owned();
    let args = tools::arguments(chosen.get("parameters")).to_string();
    Ok(Some((name, args)))
}
