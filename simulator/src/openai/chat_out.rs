//! Chat answers in a [`Style`]: the `chat.completion` object and the pieces of its stream.
//! Owns what a chat answer says per choice (message, deltas, tool calls); must never decide the
//! layout (that is the style's) or what is said (that is the job's).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::answer::{Choice, Content};
use super::chat::ChatJob;
use super::style::{Frame, Piece, Style};
use crate::gen::ids::unix_now;
use crate::gen::tools::fragments;

/// The non-streaming `chat.completion` object.
pub(crate) fn completion(style: &Style, job: &ChatJob, id: &str) -> Value {
    let choices: Vec<Value> = job
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| style.choice(i, "message", message(c), Some(finish(style, c, false))))
        .collect();
    let frame = Frame {
        id,
        object: "chat.completion",
        created: unix_now(),
        model: &job.model,
        body_key: "message",
    };
    style.frame(&frame, Value::Array(choices), Some(style.usage(job.usage)))
}

fn finish(style: &Style, c: &Choice, stream: bool) -> &'static str {
    match c.content {
        Content::Tool(_) => style.tool_finish(stream),
        Content::Text(_) => c.finish_reason(),
    }
}

fn message(c: &Choice) -> Value {
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    match &c.content {
        Content::Text(p) => {
            m.insert("content".into(), p.text().into());
        }
        Content::Tool(t) => {
            m.insert("content".into(), Value::Null);
            m.insert(
                "tool_calls".into(),
                json!([{"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}]),
            );
        }
    }
    m.insert("refusal".into(), Value::Null);
    if let Some(r) = &c.reasoning {
        m.insert("reasoning_content".into(), r.text().into());
    }
    Value::Object(m)
}

/// The SSE events of a streamed chat answer, `[DONE]` last.
pub(crate) fn chunks(style: &Style, job: &ChatJob, id: &str) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    for (i, c) in job.choices.iter().enumerate() {
        let mut first = style.first_delta();
        if let Content::Tool(t) = &c.content {
            let args = if style.whole_tool_call {
                t.arguments.as_str()
            } else {
                ""
            };
            first["content"] = Value::Null;
            first["tool_calls"] = json!([{"index": 0, "id": t.id, "type": "function",
                "function": {"name": t.name, "arguments": args}}]);
        }
        pieces.push(Piece::new(i, first));
        for piece in c.reasoning.iter().flat_map(|r| r.deltas()) {
            pieces.push(Piece::new(i, json!({"reasoning_content": piece})));
        }
        match &c.content {
            Content::Text(p) => {
                pieces.extend(p.deltas().map(|w| Piece::new(i, json!({"content": w}))));
            }
            Content::Tool(_) if style.whole_tool_call => {}
            Content::Tool(t) => pieces.extend(fragments(&t.arguments).into_iter().map(|frag| {
                Piece::new(
                    i,
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}),
                )
            })),
        }
        pieces.push(Piece::finish(i, json!({}), finish(style, c, true)));
    }
    let frame = Frame {
        id,
        object: "chat.completion.chunk",
        created: unix_now(),
        model: &job.model,
        body_key: "delta",
    };
    style.stream(&frame, pieces, style.usage(job.usage), job.include_usage)
}
