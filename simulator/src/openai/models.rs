//! `GET /v1/models` and `GET /v1/models/{id}` for the OpenAI-shaped providers.
//! Owns the model catalogue shown; must never reject models the chat routes accept.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{common, Api};
use crate::headers::respond;
use crate::Provider;

const CREATED: u64 = 1_715_367_049;

fn catalogue(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Xai => &["grok-4", "grok-3", "grok-3-mini", "grok-3-mini-fast"],
        _ => &[
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "o3-mini",
            "o4-mini",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
            "davinci-002",
            "babbage-002",
        ],
    }
}

fn model_object(provider: Provider, id: &str) -> Value {
    let owner = if provider == Provider::Xai {
        "xai"
    } else {
        "system"
    };
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": owner})
}

pub(crate) async fn list(State(api): State<Api>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let provider = api.ctx.provider;
    let result = common::check_auth(provider, &headers).map(|()| {
        let data: Vec<Value> = catalogue(provider)
            .iter()
            .map(|id| model_object(provider, id))
            .collect();
        api.style
            .reply(StatusCode::OK, &json!({"object": "list", "data": data}))
    });
    respond(provider, &api.ctx.shared.ids, started, result)
}

pub(crate) async fn get_one(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let provider = api.ctx.provider;
    let result = common::check_auth(provider, &headers).and_then(|()| {
        let model = api.model(Some(id))?;
        Ok(api
            .style
            .reply(StatusCode::OK, &model_object(provider, &model)))
    });
    respond(provider, &api.ctx.shared.ids, started, result)
}
