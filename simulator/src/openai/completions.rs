//! `POST /v1/completions` (legacy text completions), streamed or not.
//! Owns the `text_completion` shapes; must never apply faults.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::answer::Usage;
use super::common;
use crate::errors::ApiError;
use crate::gen::ids::unix_now;
use crate::gen::text;
use crate::gen::words::{self, Finish, Plan};
use crate::headers::respond;
use crate::http::reply::{event, raw_event, SimReply};
use crate::state::Ctx;

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

pub(crate) async fn handle(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&ctx, &headers, &body);
    respond(ctx.provider, &ctx.shared.ids, started, result)
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

fn answer(ctx: &Ctx, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    common::check_auth(ctx.provider, headers)?;
    let req: CompletionRequest = common::parse(body)?;
    let model = common::model(ctx.provider, req.model)?;
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
    let id = ctx.shared.ids.next("cmpl-");
    let created = unix_now();
    if !req.stream.unwrap_or(false) {
        let choices: Vec<Value> = plans
            .iter()
            .enumerate()
            .map(|(i, (prompt, p))| {
                let text = if echo {
                    format!("{prompt}{}", p.text())
                } else {
                    p.text()
                };
                json!({"text": text, "index": i, "logprobs": null, "finish_reason": finish(p)})
            })
            .collect();
        let usage = json!({"prompt_tokens": usage.prompt, "completion_tokens": usage.completion,
            "total_tokens": usage.prompt + usage.completion});
        let body = json!({"id": id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": "fp_sim", "choices": choices, "usage": usage});
        return Ok(SimReply::json(StatusCode::OK, &body));
    }
    let include_usage = req
        .stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chunk = |choices: Value| {
        let mut c = json!({"id": id, "object": "text_completion", "created": created,
            "model": model, "system_fingerprint": "fp_sim", "choices": choices});
        if include_usage {
            c["usage"] = Value::Null;
        }
        event(None, &c)
    };
    let mut out = Vec::new();
    for (i, (prompt, p)) in plans.iter().enumerate() {
        if echo {
            out.push(chunk(
                json!([{"text": prompt, "index": i, "logprobs": null, "finish_reason": null}]),
            ));
        }
        for piece in p.deltas() {
            out.push(chunk(
                json!([{"text": piece, "index": i, "logprobs": null, "finish_reason": null}]),
            ));
        }
        out.push(chunk(
            json!([{"text": "", "index": i, "logprobs": null, "finish_reason": finish(p)}]),
        ));
    }
    if include_usage {
        let u = json!({"prompt_tokens": usage.prompt, "completion_tokens": usage.completion,
            "total_tokens": usage.prompt + usage.completion});
        out.push(event(
            None,
            &json!({"id": id, "object": "text_completion", "created": created, "model": model,
                "system_fingerprint": "fp_sim", "choices": [], "usage": u}),
        ));
    }
    out.push(raw_event(None, "[DONE]"));
    Ok(SimReply::sse(out))
}
