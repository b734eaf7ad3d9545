//! End to end through the simulator: `/v1/messages` for Anthropic-native clients, served by an
//! Anthropic channel directly and by OpenAI-format channels through conversion.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice_test_support::{read_sse, Harness};

const MODELS: [&str; 3] = ["claude-sonnet-4-20250514", "gpt-4o-mini", "grok-3"];

fn messages(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 7,
        "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]
    })
}

#[tokio::test]
async fn messages_non_streaming_native_and_converted() {
    let h = Harness::start().await;
    for model in MODELS {
        let resp = h
            .post_anthropic("/v1/messages", &messages(model, false))
            .await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "message", "{model}: {v}");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["model"], model);
        assert_eq!(v["content"][0]["type"], "text");
        assert!(!v["content"][0]["text"].as_str().unwrap().is_empty());
        assert_eq!(v["stop_reason"], "max_tokens", "{model}: {v}");
        assert_eq!(v["usage"]["output_tokens"], 7, "{model}: {v}");
        assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
    }
    h.shutdown().await;
}

#[tokio::test]
async fn messages_streaming_native_and_converted() {
    let h = Harness::start().await;
    for model in MODELS {
        let full: Value = h
            .post_anthropic("/v1/messages", &messages(model, false))
            .await
            .json()
            .await
            .unwrap();
        let want = full["content"][0]["text"].as_str().unwrap().to_owned();
        let (events, _) = read_sse(
            h.post_anthropic("/v1/messages", &messages(model, true))
                .await,
        )
        .await;
        let names: Vec<&str> = events
            .iter()
            .map(|e| e.event.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names.first(), Some(&"message_start"), "{model}: {names:?}");
        assert_eq!(names.last(), Some(&"message_stop"), "{model}: {names:?}");
        assert!(names.contains(&"content_block_start") && names.contains(&"message_delta"));
        let mut text = String::new();
        let mut output_tokens = None;
        for e in &events {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(
                Some(v["type"].as_str().unwrap()),
                e.event.as_deref(),
                "type matches event name"
            );
            if let Some(t) = v["delta"]["text"].as_str() {
                text.push_str(t);
            }
            if e.event.as_deref() == Some("message_delta") {
                output_tokens = v["usage"]["output_tokens"].as_u64();
                assert_eq!(v["delta"]["stop_reason"], "max_tokens", "{model}");
            }
        }
        assert_eq!(text, want, "{model}");
        assert_eq!(output_tokens, Some(7), "{model}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn tool_use_through_messages() {
    let h = Harness::start().await;
    for model in MODELS {
        let req = json!({
            "model": model, "max_tokens": 64,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [{"name": "get_weather", "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
        });
        let v: Value = h
            .post_anthropic("/v1/messages", &req)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["stop_reason"], "tool_use", "{model}: {v}");
        let block = v["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "tool_use")
            .unwrap();
        assert_eq!(block["name"], "get_weather");
        assert_eq!(block["input"]["city"], "sim");

        let mut sreq = req.clone();
        sreq["stream"] = json!(true);
        let (events, _) = read_sse(h.post_anthropic("/v1/messages", &sreq).await).await;
        let mut partial = String::new();
        for e in &events {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            if v["delta"]["type"] == "input_json_delta" {
                partial.push_str(v["delta"]["partial_json"].as_str().unwrap());
            }
        }
        assert_eq!(
            serde_json::from_str::<Value>(&partial).unwrap(),
            block["input"],
            "{model}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn messages_errors_use_the_anthropic_shape() {
    let h = Harness::start().await;
    let resp = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&messages(MODELS[0], false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");

    let resp = h
        .post_anthropic("/v1/messages", &messages("claude-none", false))
        .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    h.shutdown().await;
}
