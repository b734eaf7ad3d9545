//! An OpenAI-format JSON answer to a stream request as the chunks the upstream would have sent:
//! per choice what it says, then its finish reason, then the usage (`"choices": []`), then
//! `[DONE]`; chat completions as `chat.completion.chunk`s, text completions as
//! `text_completion` chunks.
//!
//! Owns: those chunks, and telling an OpenAI error body from an answer. Must never: read beyond
//! the answer it is given.

use super::super::replay::{invalid, not_streamed, Events};
use crate::upstream::UpstreamError;
use crate::wire::Endpoint;
use serde_json::{json, Map, Value};

/// An error body: an `error` member and no choices.
pub(crate) fn is_error(v: &Value) -> bool {
    v.get("error").is_some_and(|e| !e.is_null()) && v.get("choices").is_none()
}

/// The chunks of the answer `v` on `op`.
pub(crate) fn events(op: Endpoint, v: &Value, out: &mut Events) -> Result<(), UpstreamError> {
    match op {
        Endpoint::Chat | Endpoint::Messages | Endpoint::GenerateContent => {
            chunks(v, "chat.completion.chunk", chat_pieces, out)?;
        }
        Endpoint::Completions => chunks(v, "text_completion", text_pieces, out)?,
        Endpoint::Embeddings
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents
        | Endpoint::ImageGenerations
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => return Err(not_streamed()),
    }
    out.put_text(None, "[DONE]");
    Ok(())
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
fn chunks(v: &Value, object: &str, pieces: Pieces, out: &mut Events) -> Result<(), UpstreamError> {
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
        out.put(
            None,
            &chunk(json!([{"index": index, key: says, "finish_reason": null}])),
        );
        let finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        if !finish.is_null() {
            out.put(
                None,
                &chunk(json!([{"index": index, key: empty, "finish_reason": finish}])),
            );
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        let mut last = chunk(json!([]));
        last["usage"] = u.clone();
        out.put(None, &last);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::stream::sse::{SseEvent, SseParser};
    use crate::upstream::Redactor;
    use crate::wire::Endpoint;
    use serde_json::{json, Value};

    fn events(op: Endpoint, body: &[u8]) -> Vec<SseEvent> {
        let p = provider_for(ProviderKind::Openai);
        let bytes = p.replay(op, body, &Redactor::default()).unwrap();
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.push(&bytes, &mut out).unwrap();
        out
    }

    #[test]
    fn a_chat_completion_becomes_its_chunks_usage_and_done() {
        let body = br#"{"id": "c1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
              "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
              "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}}"#;
        let ev = events(Endpoint::Chat, body);
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
    fn a_text_completion_replays_as_text_chunks() {
        let body = br#"{"choices":[{"text":"hi there","index":0,"finish_reason":"length"}]}"#;
        let ev = events(Endpoint::Completions, body);
        let first: Value = serde_json::from_str(&ev[0].data).unwrap();
        assert_eq!(
            (
                first["object"].as_str(),
                first["choices"][0]["text"].as_str()
            ),
            (Some("text_completion"), Some("hi there"))
        );
        assert_eq!(ev.last().unwrap().data, "[DONE]");
    }
}
