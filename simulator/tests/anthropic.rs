//! Anthropic endpoints end to end: messages (stream and not), tools, count_tokens, errors.

mod common;

use common::*;
use serde_json::{json, Value};
use sluice_sim::Provider;

const P: Provider = Provider::Anthropic;

fn msg(extra: Value) -> Value {
    let mut body = json!({"model": "claude-sonnet-4-20250514", "max_tokens": 16,
        "system": "be brief", "messages": [{"role": "user", "content": "hello there"}]});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    body
}

fn tools() -> Value {
    json!([{"name": "get_weather", "description": "w", "input_schema": {"type": "object",
        "properties": {"city": {"type": "string"}, "n": {"type": "number"}}, "required": ["city", "n"]}},
        {"name": "noop", "input_schema": {"type": "object"}}])
}

#[tokio::test]
async fn message_shape_and_headers() {
    let sim = sim().await;
    let r = post(&sim, P, "/v1/messages")
        .json(&msg(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert!(h["request-id"].to_str().unwrap().starts_with("req_"));
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        for part in ["limit", "remaining", "reset"] {
            assert!(h.contains_key(format!("anthropic-ratelimit-{kind}-{part}").as_str()));
        }
    }
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(
        v["content"][0]["text"].as_str().unwrap().split(' ').count(),
        16
    );
    assert_eq!(v["stop_reason"], "max_tokens");
    assert!(v["stop_sequence"].is_null());
    // "be brief" 2 + "hello there" 2 + 3.
    assert_eq!(v["usage"]["input_tokens"], 7);
    assert_eq!(v["usage"]["output_tokens"], 16);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
}

#[tokio::test]
async fn stop_sequences_and_blocks() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&msg(json!({"max_tokens": 30})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let words: Vec<String> = v["content"][0]["text"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    let stop = words[6].clone();
    let cut = words.iter().position(|w| *w == stop).unwrap();
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&msg(json!({"max_tokens": 30, "stop_sequences": [stop]})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "stop_sequence");
    assert_eq!(v["stop_sequence"], stop.as_str());
    assert_eq!(v["usage"]["output_tokens"], cut as u64);
    // System and content as blocks.
    let body = json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 5,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]});
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["usage"]["input_tokens"], 7);
}

#[tokio::test]
async fn message_stream_event_order() {
    let sim = sim().await;
    let r = post(&sim, P, "/v1/messages")
        .json(&msg(json!({"stream": true, "max_tokens": 20})))
        .send()
        .await
        .unwrap();
    let events = sse(r).await;
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", 20));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for e in &events {
        assert_eq!(e.json()["type"], e.name.as_deref().unwrap());
    }
    let start = events[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 7);
    let text: String = events[3..23]
        .iter()
        .map(|e| e.json()["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text.split(' ').count(), 20);
    let delta = events[24].json();
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 20);
}

#[tokio::test]
async fn tool_use_non_stream_and_stream() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&msg(json!({"tools": tools()})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"city": "sim", "n": 1}));

    let r = post(&sim, P, "/v1/messages")
        .json(&msg(json!({"tools": tools(), "stream": true})))
        .send()
        .await
        .unwrap();
    let events = sse(r).await;
    let start = events[1].json();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["input"], json!({}));
    let parts: Vec<String> = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let j = e.json();
            assert_eq!(j["delta"]["type"], "input_json_delta");
            j["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(parts.len() >= 2);
    let input: Value = serde_json::from_str(&parts.concat()).unwrap();
    assert_eq!(input, json!({"city": "sim", "n": 1}));
    let md = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(md["delta"]["stop_reason"], "tool_use");

    // Named tool, none, and a tool_result last.
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&msg(
            json!({"tools": tools(), "tool_choice": {"type": "tool", "name": "noop"}}),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["name"], "noop");
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&msg(
            json!({"tools": tools(), "tool_choice": {"type": "none"}}),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["type"], "text");
    let body = json!({"model": "claude-sonnet-4-20250514", "max_tokens": 10, "tools": tools(), "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}]});
    let v: Value = post(&sim, P, "/v1/messages")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["type"], "text");
}

#[tokio::test]
async fn count_tokens_and_models() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/v1/messages/count_tokens")
        .json(
            &json!({"model": "claude-sonnet-4-20250514", "system": "be brief",
            "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"input_tokens": 7}));
    let v: Value = get(&sim, P, "/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["type"] == "model"));
    assert_eq!(v["has_more"], false);
}

#[tokio::test]
async fn auth_and_version_rejections() {
    let sim = sim().await;
    let url = format!("{}/v1/messages", sim.base_url(P));
    for key in [None, Some("sk-openai-key"), Some("")] {
        let mut rb = client()
            .post(&url)
            .header("anthropic-version", "2023-06-01")
            .json(&msg(json!({})));
        if let Some(k) = key {
            rb = rb.header("x-api-key", k);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("request-id"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
    }
    let v = expect(
        client()
            .post(&url)
            .header("x-api-key", ANTHROPIC_KEY)
            .json(&msg(json!({}))),
        400,
    )
    .await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn validation_errors() {
    let sim = sim().await;
    let v = expect(
        post(&sim, P, "/v1/messages")
            .header("content-type", "application/json")
            .body("{"),
        400,
    )
    .await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let mut no_max = msg(json!({}));
    no_max.as_object_mut().unwrap().remove("max_tokens");
    expect(post(&sim, P, "/v1/messages").json(&no_max), 400).await;
    expect(
        post(&sim, P, "/v1/messages").json(&json!({"model": "claude-3", "max_tokens": 5})),
        400,
    )
    .await;
    let v = expect(
        post(&sim, P, "/v1/messages").json(&msg(json!({"model": "gpt-4o"}))),
        404,
    )
    .await;
    assert_eq!(v["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn same_request_same_answer() {
    let sim = sim().await;
    let mut out = Vec::new();
    for _ in 0..2 {
        let mut v: Value = post(&sim, P, "/v1/messages")
            .json(&msg(json!({})))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        strip_volatile(&mut v);
        out.push(v);
    }
    assert_eq!(out[0], out[1]);
}
