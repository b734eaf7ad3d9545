//! An upstream that answered a `stream: true` request with one complete JSON body: that answer
//! as the stream the upstream would have sent, in its own wire format, so that the usual
//! transform (pass-through or conversion) serves it to the client as a well-formed stream.
//!
//! Owns: JSON answer -> the upstream format's SSE events (OpenAI chat and completions chunks
//! with a usage chunk and `[DONE]`; Anthropic's message event sequence), and telling an error
//! body (or an event stream labelled JSON) from an answer. Must never: answer an error body as a stream (it is an error, sent
//! before any 200), or read more than the bounded body it is given.

use super::sse::encode;
use crate::providers::{Endpoint, WireFormat};
use crate::upstream::UpstreamError;
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use serde_json::{json, Map, Value};

/// The SSE bytes of the stream the upstream would have sent for `body`, its JSON answer to a
/// streaming request on `endpoint` (the upstream's endpoint). An error body is an
/// [`UpstreamError::Status`] with the status it names (`code` or `status`, 400-599), else 502.
///
/// A body that is an event stream after all (a server that labels its SSE `application/json`)
/// is returned as it is.
pub fn replay(wire: WireFormat, endpoint: Endpoint, body: &[u8]) -> Result<Bytes, UpstreamError> {
    if looks_like_sse(body) {
        return Ok(Bytes::copy_from_slice(body));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        UpstreamError::Invalid(format!(
            "the upstream answered a stream request with invalid JSON: {e}"
        ))
    })?;
    if let Some(status) = error_status(wire, &v) {
        return Err(UpstreamError::Status {
            status,
            body: Bytes::copy_from_slice(body),
            wire,
            retry_after: Vec::new(),
        });
    }
    let mut out = BytesMut::new();
    let mut put = |event: Option<&str>, data: &Value| {
        out.extend_from_slice(&encode(event, &data.to_string()))
    };
    match (wire, endpoint) {
        (WireFormat::OpenAi, Endpoint::Chat | Endpoint::Messages) => {
            openai_chunks(&v, "chat.completion.chunk", chat_pieces, &mut |c| {
                put(None, c)
            })?;
        }
        (WireFormat::OpenAi, Endpoint::Completions) => {
            openai_chunks(&v, "text_completion", text_pieces, &mut |c| put(None, c))?;
        }
        (WireFormat::Anthropic, Endpoint::Messages) => {
            for (name, data) in message_events(&v)? {
                put(Some(name), &data);
            }
        }
        (WireFormat::OpenAi, Endpoint::Embeddings)
        | (WireFormat::Anthropic, Endpoint::Chat | Endpoint::Completions | Endpoint::Embeddings) => {
            return Err(UpstreamError::Invalid(
                "the upstream answered with JSON on an endpoint that does not stream".to_owned(),
            ))
        }
    }
    if wire == WireFormat::OpenAi {
        out.extend_from_slice(&encode(None, "[DONE]"));
    }
    Ok(out.freeze())
}

/// Whether a body starts as an event stream does (`data:`, `event:`, or a `:` comment).
fn looks_like_sse(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let rest = &body[start..];
    rest.starts_with(b"data:") || rest.starts_with(b"event:") || rest.starts_with(b":")
}

/// The status an error body stands for, or `None` if the body is an answer.
fn error_status(wire: WireFormat, v: &Value) -> Option<StatusCode> {
    let is_error = match wire {
        WireFormat::OpenAi => {
            v.get("error").is_some_and(|e| !e.is_null()) && v.get("choices").is_none()
        }
        WireFormat::Anthropic => v["type"] == "error",
    };
    if !is_error {
        return None;
    }
    let named = [
        &v["error"]["code"],
        &v["error"]["status"],
        &v["code"],
        &v["status"],
    ]
    .into_iter()
    .find_map(Value::as_u64)
    .and_then(|c| u16::try_from(c).ok())
    .filter(|c| (400..600).contains(c));
    Some(
        named
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_GATEWAY),
    )
}

fn invalid(what: &str) -> UpstreamError {
    UpstreamError::Invalid(format!(
        "the upstream's JSON answer to a stream request {what}"
    ))
}

/// The pieces of one choice: what it says (a delta, or a text), then an empty one.
type Pieces = fn(&Value) -> (Value, Value);

fn chat_pieces(choice: &Value) -> (Value, Value) {
    let mut delta = Map::new();
    delta.insert("role".into(), "assistant".into());
    let m = &choice["message"];
    for key in ["content", "reasoning_content", "reasoning", "refusal"] {
        if let Some(v) = m.get(key).filter(|v| v.is_string()) {
            delta.insert(key.into(), v.clone());
        }
    }
    if let Some(calls) = m["tool_calls"].as_array().filter(|c| !c.is_empty()) {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                if let Some(o) = c.as_object_mut() {
                    o.entry("index").or_insert_with(|| i.into());
                }
                c
            })
            .collect();
        delta.insert("tool_calls".into(), Value::Array(calls));
    }
    (Value::Object(delta), json!({}))
}

fn text_pieces(choice: &Value) -> (Value, Value) {
    (
        choice.get("text").cloned().unwrap_or(Value::from("")),
        Value::from(""),
    )
}

/// A chat completion or text completion as chunks: per choice what it says, then its finish
/// reason, then the usage (`"choices": []`).
fn openai_chunks(
    v: &Value,
    object: &str,
    pieces: Pieces,
    put: &mut dyn FnMut(&Value),
) -> Result<(), UpstreamError> {
    let choices = v["choices"]
        .as_array()
        .ok_or_else(|| invalid("has no choices"))?;
    let key = if object == "text_completion" {
        "text"
    } else {
        "delta"
    };
    let chunk = |choices: Value| {
        let mut c = Map::new();
        for k in ["id", "created", "model", "system_fingerprint"] {
            if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
                c.insert(k.into(), x.clone());
            }
        }
        c.insert("object".into(), object.into());
        c.insert("choices".into(), choices);
        Value::Object(c)
    };
    for (i, choice) in choices.iter().enumerate() {
        let index = choice.get("index").cloned().unwrap_or_else(|| i.into());
        let (says, empty) = pieces(choice);
        put(&chunk(
            json!([{"index": index, key: says, "finish_reason": null}]),
        ));
        let finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        if !finish.is_null() {
            put(&chunk(
                json!([{"index": index, key: empty, "finish_reason": finish}]),
            ));
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        let mut last = chunk(json!([]));
        last["usage"] = u.clone();
        put(&last);
    }
    Ok(())
}

/// An Anthropic message as its event sequence: `message_start`, each block's start, delta and
/// stop, `message_delta` with the stop reason and output tokens, `message_stop`.
fn message_events(v: &Value) -> Result<Vec<(&'static str, Value)>, UpstreamError> {
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| invalid("has no content"))?;
    let mut usage = v.get("usage").cloned().unwrap_or_else(|| json!({}));
    let output = usage["output_tokens"].take();
    if let Some(u) = usage.as_object_mut() {
        u.insert("output_tokens".into(), 0.into());
    }
    let mut message = v.clone();
    if let Some(m) = message.as_object_mut() {
        m.insert("content".into(), json!([]));
        m.insert("stop_reason".into(), Value::Null);
        m.insert("stop_sequence".into(), Value::Null);
        m.insert("usage".into(), usage);
    }
    let mut out = vec![(
        "message_start",
        json!({"type": "message_start", "message": message}),
    )];
    for (index, b) in blocks.iter().enumerate() {
        let (start, delta) = match b["type"].as_str() {
            Some("text") => (
                json!({"type": "text", "text": ""}),
                Some(json!({"type": "text_delta", "text": b["text"]})),
            ),
            Some("thinking") => (
                json!({"type": "thinking", "thinking": ""}),
                Some(json!({"type": "thinking_delta", "thinking": b["thinking"]})),
            ),
            Some("tool_use") => (
                json!({"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}),
                Some(json!({"type": "input_json_delta", "partial_json": b["input"].to_string()})),
            ),
            _ => (b.clone(), None),
        };
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        if let Some(d) = delta {
            out.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            ));
        }
        out.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    out.push((
        "message_delta",
        json!({"type": "message_delta",
            "delta": {"stop_reason": v["stop_reason"], "stop_sequence": v["stop_sequence"]},
            "usage": {"output_tokens": output}}),
    ));
    out.push(("message_stop", json!({"type": "message_stop"})));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::sse::{SseEvent, SseParser};

    fn events(bytes: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        p.push(bytes, &mut out).unwrap();
        out
    }

    #[test]
    fn a_chat_completion_becomes_its_chunks_usage_and_done() {
        let body = br#"{"id": "c1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
              "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
              "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}}"#;
        let ev = events(&replay(WireFormat::OpenAi, Endpoint::Chat, body).unwrap());
        let data: Vec<Value> = ev[..3]
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        assert_eq!(data[0]["object"], "chat.completion.chunk");
        assert_eq!(data[0]["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
        assert_eq!(
            data[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(data[1]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(data[2]["choices"], json!([]));
        assert_eq!(data[2]["usage"]["prompt_tokens"], 4);
        assert_eq!(ev[3].data, "[DONE]");
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn a_text_completion_and_an_anthropic_message_replay_in_their_formats() {
        let body = br#"{"choices":[{"text":"hi there","index":0,"finish_reason":"length"}]}"#;
        let ev = events(&replay(WireFormat::OpenAi, Endpoint::Completions, body).unwrap());
        let first: Value = serde_json::from_str(&ev[0].data).unwrap();
        assert_eq!(
            (
                first["object"].as_str(),
                first["choices"][0]["text"].as_str()
            ),
            (Some("text_completion"), Some("hi there"))
        );
        assert_eq!(ev.last().unwrap().data, "[DONE]");

        let msg = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Hello"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}],
            "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":3}}"#;
        let ev = events(&replay(WireFormat::Anthropic, Endpoint::Messages, msg).unwrap());
        let names: Vec<&str> = ev.iter().map(|e| e.event.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let start: Value = serde_json::from_str(&ev[0].data).unwrap();
        assert_eq!(
            start["message"]["usage"],
            json!({"input_tokens": 7, "output_tokens": 0})
        );
        let input: Value = serde_json::from_str(&ev[5].data).unwrap();
        assert_eq!(input["delta"]["partial_json"], "{\"a\":1}");
        let delta: Value = serde_json::from_str(&ev[7].data).unwrap();
        assert_eq!(
            (
                delta["delta"]["stop_reason"].as_str(),
                delta["usage"]["output_tokens"].as_u64()
            ),
            (Some("tool_use"), Some(3))
        );
    }

    #[test]
    fn an_error_body_is_an_upstream_status_and_bad_json_is_invalid() {
        let cases: [(WireFormat, &[u8], u16); 4] = [
            (
                WireFormat::OpenAi,
                br#"{"error":{"message":"overloaded","type":"server_error"}}"#,
                502,
            ),
            (
                WireFormat::OpenAi,
                br#"{"object":"error","error":{"message":"bad","code":400}}"#,
                400,
            ),
            (
                WireFormat::OpenAi,
                br#"{"error":"Model not loaded","code":503}"#,
                503,
            ),
            (
                WireFormat::Anthropic,
                br#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#,
                502,
            ),
        ];
        for (wire, body, want) in cases {
            let endpoint = if wire == WireFormat::OpenAi {
                Endpoint::Chat
            } else {
                Endpoint::Messages
            };
            match replay(wire, endpoint, body) {
                Err(UpstreamError::Status {
                    status, body: b, ..
                }) => {
                    assert_eq!(status.as_u16(), want, "{}", String::from_utf8_lossy(body));
                    assert_eq!(&b[..], body);
                }
                other => panic!("{other:?}"),
            }
        }
        let sse = b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n";
        assert_eq!(
            &replay(WireFormat::OpenAi, Endpoint::Chat, sse).unwrap()[..],
            &sse[..]
        );
        assert!(matches!(
            replay(WireFormat::OpenAi, Endpoint::Chat, b"{nope"),
            Err(UpstreamError::Invalid(_))
        ));
        assert!(matches!(
            replay(WireFormat::OpenAi, Endpoint::Chat, b"{}"),
            Err(UpstreamError::Invalid(_))
        ));
    }
}
