//! `POST /v1/messages`: the answer (text or tool_use) and its non-streamed shape.
//! Owns stop reasons and usage of Anthropic answers; must never apply faults.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::request::{self, invalid_field};
use super::{auth, stream};
use crate::errors::ApiError;
use crate::gen::tools::fragments;
use crate::gen::words::{self, Finish, Plan};
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::state::Ctx;

/// The one content block of an answer.
pub(crate) enum Block {
    Text(Plan),
    Tool {
        id: String,
        name: String,
        input: Value,
    },
}

/// A complete answer to a Messages request.
pub(crate) struct Answer {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) block: Block,
    pub(crate) input_tokens: u64,
}

impl Answer {
    pub(crate) fn stop_reason(&self) -> &'static str {
        match &self.block {
            Block::Tool { .. } => "tool_use",
            Block::Text(p) => match p.finish {
                Finish::Length => "max_tokens",
                Finish::StopSequence(_) => "stop_sequence",
                Finish::Natural => "end_turn",
            },
        }
    }

    pub(crate) fn stop_sequence(&self) -> Value {
        match &self.block {
            Block::Text(Plan {
                finish: Finish::StopSequence(s),
                ..
            }) => Value::from(s.clone()),
            _ => Value::Null,
        }
    }

    pub(crate) fn output_tokens(&self) -> u64 {
        match &self.block {
            Block::Text(p) => p.words.len() as u64,
            Block::Tool { input, .. } => fragments(&input.to_string()).len() as u64 + 1,
        }
    }

    pub(crate) fn usage(&self, output_tokens: u64) -> Value {
        json!({"input_tokens": self.input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    }

    fn message(&self) -> Value {
        let content = match &self.block {
            Block::Text(p) => json!([{"type": "text", "text": p.text()}]),
            Block::Tool { id, name, input } => {
                json!([{"type": "tool_use", "id": id, "name": name, "input": input}])
            }
        };
        json!({"id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.stop_reason(),
            "stop_sequence": self.stop_sequence(), "usage": self.usage(self.output_tokens())})
    }
}

pub(crate) async fn handle(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&ctx, &headers, &body);
    respond(ctx.provider, &ctx.shared.ids, started, result)
}

fn answer(ctx: &Ctx, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    auth::check(headers)?;
    let (req, model) = request::parse(body)?;
    let max_tokens = match req.max_tokens {
        None => return Err(invalid_field("max_tokens", "Field required")),
        Some(0) => {
            return Err(invalid_field(
                "max_tokens",
                "Input should be greater than or equal to 1",
            ))
        }
        Some(n) => n,
    };
    let prompt = req.prompt();
    let tool = if prompt.user_spoke_last {
        req.tool_call()?
    } else {
        None
    };
    let block = match tool {
        Some((name, input)) => Block::Tool {
            id: ctx.shared.ids.next("toolu_"),
            name,
            input,
        },
        None => {
            let stops = req.stop_sequences.clone().unwrap_or_default();
            Block::Text(words::plan(&prompt.text, 0, Some(max_tokens), &stops))
        }
    };
    let answer = Answer {
        id: ctx.shared.ids.next("msg_"),
        model,
        block,
        input_tokens: prompt.tokens,
    };
    Ok(if req.stream.unwrap_or(false) {
        SimReply::sse(stream::events(&answer))
    } else {
        SimReply::json(StatusCode::OK, &answer.message())
    })
}
