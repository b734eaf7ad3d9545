//! xAI end to end: OpenAI shapes with xAI's errors and reasoning content.

mod common;

use common::*;
use serde_json::{json, Value};
use sluice_sim::Provider;

const P: Provider = Provider::Xai;

#[tokio::test]
async fn chat_and_reasoning() {
    let sim = sim().await;
    let body = json!({"model": "grok-3", "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["choices"][0]["message"]
        .get("reasoning_content")
        .is_none());

    let body = json!({"model": "grok-3-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &v["choices"][0]["message"];
    assert!(m["reasoning_content"].as_str().unwrap().split(' ').count() == 8);
    let u = &v["usage"];
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 8);
    assert_eq!(u["completion_tokens"], 5);
    assert_eq!(u["prompt_tokens"], 4);
    assert_eq!(u["total_tokens"], 4 + 5 + 8);

    let mut stream = body.clone();
    stream["stream"] = json!(true);
    stream["stream_options"] = json!({"include_usage": true});
    let events = sse(post(&sim, P, "/chat/completions")
        .json(&stream)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let reasoning = events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter(|e| {
            e.json()["choices"]
                .get(0)
                .is_some_and(|c| c["delta"].get("reasoning_content").is_some())
        })
        .count();
    assert_eq!(reasoning, 8);
}

#[tokio::test]
async fn completions_and_models() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/completions")
        .json(&json!({"model": "grok-3", "prompt": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    let v: Value = get(&sim, P, "/models")
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
        .all(|m| m["owned_by"] == "xai"));
    // No embeddings at xAI.
    expect(
        post(&sim, P, "/embeddings").json(&json!({"model": "grok-3", "input": "x"})),
        404,
    )
    .await;
}

#[tokio::test]
async fn errors_in_xai_shape() {
    let sim = sim().await;
    let url = format!("{}/chat/completions", sim.base_url(P));
    let body = json!({"model": "grok-3", "messages": [{"role": "user", "content": "hi"}]});
    for key in [None, Some("sk-openai")] {
        let mut rb = client().post(&url).json(&body);
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].is_string());
        assert!(v["code"].is_string());
    }
    expect(
        post(&sim, P, "/chat/completions").json(&json!({"model": "grok-3", "messages": []})),
        400,
    )
    .await;
    let v = expect(
        post(&sim, P, "/chat/completions")
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})),
        404,
    )
    .await;
    assert!(v["error"].is_string());
    let v = expect(
        post(&sim, P, "/chat/completions")
            .header("content-type", "application/json")
            .body("["),
        400,
    )
    .await;
    assert!(v["error"].is_string());
}
