//! Wire shapes of chat answers: the `chat.completion` object and its SSE chunks.
//! Owns the OpenAI/xAI chat JSON layout; must never decide what is said.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::answer::{Choice, Content};
use super::chat::ChatJob;
use crate::gen::ids::unix_now;
use crate::gen::tools::fragments;
use crate::http::reply::{event, raw_event};

/// The non-streaming `chat.completion` object.
pub(crate) fn completion(job: &ChatJob, id: &str) -> Value {
    let choices: Vec<Value> = job
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"index": i, "message": message(c), "logprobs": null, "finish_reason": c.finish_reason()})
        })
        .collect();
    json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_now(),
        "model": job.model,
        "system_fingerprint": "fp_sim",
        "choices": choices,
        "usage": job.usage.to_json(),
    })
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
pub(crate) fn chunks(job: &ChatJob, id: &str) -> Vec<Bytes> {
    let created = unix_now();
    let chunk = |choices: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": job.model,
            "system_fingerprint": "fp_sim",
            "choices": choices,
        });
        if job.include_usage {
            c["usage"] = Value::Null;
        }
        event(None, &c)
    };
    let delta = |i: usize, d: Value| json!([{"index": i, "delta": d, "logprobs": null, "finish_reason": null}]);
    let mut out = Vec::new();
    for (i, c) in job.choices.iter().enumerate() {
        match &c.content {
            Content::Text(_) => {
                out.push(chunk(delta(i, json!({"role": "assistant", "content": ""}))));
            }
            Content::Tool(t) => {
                let first = json!({"index": 0, "id": t.id, "type": "function",
                    "function": {"name": t.name, "arguments": ""}});
                out.push(chunk(delta(
                    i,
                    json!({"role": "assistant", "content": null, "tool_calls": [first]}),
                )));
            }
        }
        for piece in c.reasoning.iter().flat_map(|r| r.deltas()) {
            out.push(chunk(delta(i, json!({"reasoning_content": piece}))));
        }
        match &c.content {
            Content::Text(p) => {
                for piece in p.deltas() {
                    out.push(chunk(delta(i, json!({"content": piece}))));
                }
            }
            Content::Tool(t) => {
                for frag in fragments(&t.arguments) {
                    let call = json!({"index": 0, "function": {"arguments": frag}});
                    out.push(chunk(delta(i, json!({"tool_calls": [call]}))));
                }
            }
        }
        out.push(chunk(json!([{"index": i, "delta": {}, "logprobs": null,
            "finish_reason": c.finish_reason()}])));
    }
    if job.include_usage {
        let last = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": job.model,
            "system_fingerprint": "fp_sim",
            "choices": [],
            "usage": job.usage.to_json(),
        });
        out.push(event(None, &last));
    }
    out.push(raw_event(None, "[DONE]"));
    out
}
