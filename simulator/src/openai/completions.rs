//! `POST /v1/completions` (legacy text completions), streamed or not.
//! Owns the `text_completion` shapes; must never apply faults.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::answer::Usage;
use super::style::{plain_usage, Frame, Piece};
use super::{common, Api};
use crate::errors::ApiError;
use crate::gen::ids::unix_now;
use crate::gen::text;
use crate::gen::words::{self, Finish, Plan};
use crate::headers::respond;
use crate::http::reply::SimReply;

#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    prompt: Option<Value>,
    max_tokens: Option<u64>,
    stream: Option<bool>,
    stream_options: Option<Value>,
    n: Option<u64>,
    stop: Option<Value>,
    echo: Option<bool>,
}

pub(crate) async fn handle(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&api, &headers, &body);
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

/// The prompts of a request: a string, an array of strings, or token arrays.
fn prompts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().map(text::of).collect()
        }
        Value::Array(items) if items.iter().all(Value::is_array) => items
            .iter()
            .map(|t| t.as_array().map_or(0, Vec::len).to_string())
            .collect(),
        Value::Array(items) => vec![format!("{} tokens", items.len())],
        other => vec![text::of(other)],
    }
}

fn answer(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    let (ctx, style) = (&api.ctx, api.style);
    common::check_auth(ctx.provider, headers)?;
    let req: CompletionRequest = common::parse(body)?;
    let model = api.model(req.model)?;
    let prompt = req.prompt.ok_or_else(|| common::missing("prompt"))?;
    let limit = common::limit(req.max_tokens, "max_tokens")?;
    let n = common::choices(req.n)?;
    let stops = common::stops(req.stop.as_ref());
    let echo = req.echo.unwrap_or(false);

    let mut plans: Vec<(String, Plan)> = Vec::new();
    let mut prompt_tokens = 0;
    for p in prompts(&prompt) {
        prompt_tokens += text::words(&p).max(1);
        for i in 0..n {
            plans.push((p.clone(), words::plan(&p, i, limit, &stops)));
        }
    }
    let usage = Usage {
        prompt: prompt_tokens,
        completion: plans.iter().map(|(_, p)| p.words.len() as u64).sum(),
        reasoning: 0,
    };
    let finish = |p: &Plan| {
        if p.finish == Finish::Length {
            "length"
        } else {
            "stop"
        }
    };
    let id = style.id(&ctx.shared.ids, "cmpl-");
    let frame = Frame {
        id: &id,
        object: "text_completion",
        created: unix_now(),
        model: &model,
        body_key: "text",
    };
    let stream = req.stream.unwrap_or(false) && !style.stream_as_json;
    if !stream {
        let choices: Vec<Value> = plans
            .iter()
            .enumerate()
            .map(|(i, (prompt, p))| {
                let text = if echo {
                    format!("{prompt}{}", p.text())
                } else {
                    p.text()
                };
                style.choice(i, "text", text.into(), Some(finish(p)))
            })
            .collect();
        let body = style.frame(&frame, Value::Array(choices), Some(plain_usage(usage)));
        return Ok(style.reply(StatusCode::OK, &body));
    }
    let include_usage = req
        .stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut pieces = Vec::new();
    for (i, (prompt, p)) in plans.iter().enumerate() {
        if echo {
            pieces.push(Piece::new(i, prompt.as_str().into()));
        }
        pieces.extend(p.deltas().map(|w| Piece::new(i, w.into())));
        pieces.push(Piece::finish(i, "".into(), finish(p)));
    }
    Ok(SimReply::sse(style.stream(
        &frame,
        pieces,
        plain_usage(usage),
        include_usage,
    )))
}
