//! End to end through the simulator: the OpenAI-compatible endpoints on every provider kind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice_test_support::{read_sse, Harness};

const CHAT_MODELS: [&str; 3] = ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"];

fn chat(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "max_tokens": 9,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to the relay"}
        ]
    })
}

/// Concatenated content and the usage chunk of an OpenAI chat stream.
fn assemble(events: &[sluice_test_support::SseEvent]) -> (String, Option<Value>, Option<String>) {
    let mut text = String::new();
    let mut usage = None;
    let mut finish = None;
    for e in events.iter().filter(|e| e.data != "[DONE]") {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk", "{v}");
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            usage = Some(u.clone());
        }
        for c in v["choices"].as_array().unwrap() {
            if let Some(t) = c["delta"]["content"].as_str() {
                text.push_str(t);
            }
            if let Some(f) = c["finish_reason"].as_str() {
                finish = Some(f.to_owned());
            }
        }
    }
    (text, usage, finish)
}

#[tokio::test]
async fn chat_non_streaming_on_every_provider() {
    let h = Harness::start().await;
    for model in CHAT_MODELS {
        let resp = h.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(resp.status(), 200, "{model}");
        assert!(resp.headers().contains_key("x-request-id"));
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "chat.completion", "{model}: {v}");
        assert_eq!(v["model"], model);
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["role"], "assistant");
        assert!(!msg["content"].as_str().unwrap().is_empty(), "{model}: {v}");
        let u = &v["usage"];
        assert_eq!(u["completion_tokens"], 9, "{model}: {v}");
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
        );
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{model}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn chat_streaming_matches_non_streaming_on_every_provider() {
    let h = Harness::start().await;
    for model in CHAT_MODELS {
        let full: Value = h
            .post("/v1/chat/completions", &chat(model, false))
            .await
            .json()
            .await
            .unwrap();
        let want = full["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut req = chat(model, true);
        req["stream_options"] = json!({"include_usage": true});
        let resp = h.post("/v1/chat/completions", &req).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let (events, _) = read_sse(resp).await;
        assert_eq!(events.last().unwrap().data, "[DONE]", "{model}");
        let (text, usage, finish) = assemble(&events);
        assert_eq!(text, want, "{model}");
        assert_eq!(finish.as_deref(), Some("length"), "{model}");
        let usage = usage.unwrap_or_else(|| panic!("{model}: no usage chunk"));
        assert_eq!(usage["completion_tokens"], 9, "{model}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn stream_without_include_usage_gets_no_usage_chunk() {
    let h = Harness::start().await;
    for model in CHAT_MODELS {
        let (events, _) = read_sse(h.post("/v1/chat/completions", &chat(model, true)).await).await;
        let (text, usage, _) = assemble(&events);
        assert!(!text.is_empty());
        assert!(usage.is_none(), "{model}: client did not ask for usage");
        assert!(
            events.iter().all(|e| !e.data.contains("\"choices\":[]")),
            "{model}"
        );
    }
    h.shutdown().await;
}

fn tool_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}]
    })
}

#[tokio::test]
async fn tool_calls_on_every_provider_stream_and_not() {
    let h = Harness::start().await;
    for model in CHAT_MODELS {
        let v: Value = h
            .post("/v1/chat/completions", &tool_request(model, false))
            .await
            .json()
            .await
            .unwrap();
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{model}: {v}");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["city"], "sim", "{model}");

        let (events, _) = read_sse(
            h.post("/v1/chat/completions", &tool_request(model, true))
                .await,
        )
        .await;
        let mut name = None;
        let mut arguments = String::new();
        let mut finish = None;
        for e in events.iter().filter(|e| e.data != "[DONE]") {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            for c in v["choices"].as_array().unwrap() {
                for tc in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
                    assert_eq!(tc["index"], 0);
                    if let Some(n) = tc["function"]["name"].as_str() {
                        name = Some(n.to_owned());
                        assert!(tc["id"].is_string());
                    }
                    arguments.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
                }
                if let Some(f) = c["finish_reason"].as_str() {
                    finish = Some(f.to_owned());
                }
            }
        }
        assert_eq!(name.as_deref(), Some("get_weather"), "{model}");
        assert_eq!(
            serde_json::from_str::<Value>(&arguments).unwrap(),
            args,
            "{model}"
        );
        assert_eq!(finish.as_deref(), Some("tool_calls"), "{model}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn n_and_stop_pass_through_to_openai() {
    let h = Harness::start().await;
    let mut req = chat("gpt-4o-mini", false);
    req["n"] = json!(2);
    let v: Value = h
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"].as_array().unwrap().len(), 2, "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn completions_stream_and_not() {
    let h = Harness::start().await;
    for model in ["gpt-3.5-turbo-instruct", "grok-3"] {
        let req = json!({"model": model, "prompt": "Once upon a time", "max_tokens": 5});
        let v: Value = h.post("/v1/completions", &req).await.json().await.unwrap();
        assert_eq!(v["object"], "text_completion", "{model}: {v}");
        assert!(v["choices"][0]["text"].is_string());
        assert_eq!(v["usage"]["completion_tokens"], 5);

        let mut req = req.clone();
        req["stream"] = json!(true);
        let (events, _) = read_sse(h.post("/v1/completions", &req).await).await;
        assert_eq!(events.last().unwrap().data, "[DONE]");
        assert!(events.len() >= 3, "{model}: {events:?}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let h = Harness::start().await;
    let req =
        json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"});
    let v: Value = h.post("/v1/embeddings", &req).await.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert!(v["data"][0]["embedding"][0].is_f64(), "{v}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let req = json!({"model": "text-embedding-3-small", "input": "a", "encoding_format": "base64"});
    let v: Value = h.post("/v1/embeddings", &req).await.json().await.unwrap();
    assert!(v["data"][0]["embedding"].is_string(), "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn embeddings_on_a_chat_only_provider_is_a_clear_400() {
    let h = Harness::start().await;
    for model in ["grok-3", "claude-sonnet-4-20250514"] {
        let resp = h
            .post("/v1/embeddings", &json!({"model": model, "input": "x"}))
            .await;
        assert_eq!(resp.status(), 400, "{model}");
        let v: Value = resp.json().await.unwrap();
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/embeddings"));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn models_lists_only_what_the_token_may_use() {
    let h = Harness::builder()
        .config(|c, _| {
            c.tokens.push(sluice::config::TokenConfig {
                name: Some("narrow".into()),
                key: sluice::config::Secret::new("sk-narrow-token"),
                models: Some(vec!["grok-3".into()]),
            });
        })
        .start()
        .await;
    let v: Value = h
        .client
        .get(h.url("/v1/models"))
        .bearer_auth(sluice_test_support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for m in CHAT_MODELS {
        assert!(ids.contains(&m), "{ids:?}");
    }
    assert_eq!(v["object"], "list");

    let v: Value = h
        .client
        .get(h.url("/v1/models"))
        .bearer_auth("sk-narrow-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["data"][0]["id"], "grok-3");

    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .bearer_auth("sk-narrow-token")
        .json(&chat("gpt-4o-mini", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let v: Value = h
        .client
        .get(h.url("/v1/models"))
        .header("x-api-key", sluice_test_support::TOKEN)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["type"], "model", "{v}");
    assert_eq!(v["has_more"], false);

    let resp = h
        .client
        .get(h.url("/v1/models/grok-3"))
        .bearer_auth(sluice_test_support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = h
        .client
        .get(h.url("/v1/models/nope"))
        .bearer_auth(sluice_test_support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    h.shutdown().await;
}
