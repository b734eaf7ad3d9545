//! The OpenAI-compatible dialects end to end: each writes the same answer (same words, same
//! usage) as OpenAI does, in its own way (spacing, member order, ids, where finish reasons and
//! usage go), under `/compat/{dialect}/v1`, and the fault layer works on them.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{json, Value};
use sluice_sim::{Dialect, SimHandle};

fn url(sim: &SimHandle, d: Dialect, path: &str) -> String {
    format!("{}{path}", d.base_url(sim.addr()))
}

async fn raw(sim: &SimHandle, d: Dialect, path: &str, body: &Value) -> (String, String) {
    let r = client()
        .post(url(sim, d, path))
        .bearer_auth(OPENAI_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{d}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, r.text().await.unwrap())
}

fn ask(stream: bool, usage: bool) -> Value {
    json!({"model": "served/model-7b", "stream": stream, "max_tokens": 5,
        "stream_options": {"include_usage": usage},
        "messages": [{"role": "user", "content": "hello there"}]})
}

/// Content, finish reasons and usage objects of a chat stream's events.
fn summary(events: &[Event]) -> (String, Vec<String>, Vec<Value>) {
    let (mut text, mut finishes, mut usages) = (String::new(), Vec::new(), Vec::new());
    for e in events.iter().filter(|e| e.data != "[DONE]") {
        let v = e.json();
        for c in v["choices"].as_array().unwrap() {
            text.push_str(c["delta"]["content"].as_str().unwrap_or(""));
            if let Some(f) = c["finish_reason"].as_str() {
                finishes.push(f.to_owned());
            }
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            usages.push(u.clone());
        }
    }
    (text, finishes, usages)
}

#[tokio::test]
async fn every_dialect_says_what_openai_says() {
    let sim = sim().await;
    let mut want = chat(false);
    want["max_tokens"] = json!(5);
    want["messages"] = json!([{"role": "user", "content": "hello there"}]);
    let openai = expect(
        post(&sim, sluice_sim::Provider::OpenAi, "/chat/completions").json(&want),
        200,
    )
    .await;
    let words = openai["choices"][0]["message"]["content"].clone();
    for d in Dialect::ALL {
        let (ct, body) = raw(&sim, d, "/chat/completions", &ask(false, false)).await;
        assert_eq!(ct, "application/json", "{d}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["model"], "served/model-7b", "{d}: any model is served");
        assert_eq!(v["choices"][0]["message"]["content"], words, "{d}");
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{d}");
        assert_eq!(v["usage"]["completion_tokens"], 5, "{d}");
        assert_eq!(
            v["usage"]["prompt_tokens"], openai["usage"]["prompt_tokens"],
            "{d}"
        );

        let (ct, body) = raw(&sim, d, "/chat/completions", &ask(true, true)).await;
        if d == Dialect::JsonOnly {
            assert_eq!(
                ct, "application/json",
                "{d} answers a stream request with JSON"
            );
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["choices"][0]["message"]["content"], words, "{d}");
            continue;
        }
        assert_eq!(ct, "text/event-stream", "{d}");
        let events = parse_sse(&body);
        assert_eq!(events.last().unwrap().data, "[DONE]", "{d}");
        let (text, finishes, usages) = summary(&events);
        assert_eq!(Value::from(text), words, "{d}");
        assert_eq!(usages.len(), 1, "{d}: one usage object: {body}");
        assert_eq!(usages[0]["completion_tokens"], 5, "{d}");
        let want_finish: &[&str] = if d == Dialect::FastApi {
            &[]
        } else {
            &["length"]
        };
        assert_eq!(finishes, want_finish, "{d}: {body}");
    }
}

#[tokio::test]
async fn each_dialect_writes_in_its_own_way() {
    let sim = sim().await;
    let text = |d| {
        let sim = &sim;
        async move { raw(sim, d, "/chat/completions", &ask(true, true)).await.1 }
    };
    let vllm = text(Dialect::Vllm).await;
    assert!(
        !vllm.contains("system_fingerprint") && !vllm.contains("\"usage\":null"),
        "{vllm}"
    );
    assert!(vllm.contains("\"choices\":[],\"usage\":{"), "{vllm}");
    let finish = parse_sse(&vllm)
        .into_iter()
        .map(|e| e.data)
        .find(|d| d.contains("\"length\""))
        .unwrap();
    assert!(
        finish.contains("\"content\":\"") && finish.contains("\"stop_reason\":null"),
        "{finish}"
    );
    let id = parse_sse(&vllm)[0].json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), "chatcmpl-".len() + 32, "{id}");

    let litellm = text(Dialect::Litellm).await;
    let first = &parse_sse(&litellm)[0].data;
    assert!(
        first.starts_with("{\"id\":\"chatcmpl-") && first.contains(",\"created\":"),
        "{first}"
    );
    assert!(
        !litellm.contains("\"finish_reason\":null") && !litellm.contains("logprobs"),
        "{litellm}"
    );
    assert!(
        litellm.contains("\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{"),
        "{litellm}"
    );
    assert!(
        litellm.contains("{\"finish_reason\":\"length\",\"index\":0,\"delta\":{}}"),
        "{litellm}"
    );

    let ollama = text(Dialect::Ollama).await;
    assert!(
        ollama.contains("\"system_fingerprint\":\"fp_ollama\""),
        "{ollama}"
    );
    for e in parse_sse(&ollama)
        .iter()
        .filter(|e| e.data.contains("\"delta\""))
    {
        assert_eq!(
            e.json()["choices"][0]["delta"]["role"],
            "assistant",
            "{}",
            e.data
        );
    }

    let llama = text(Dialect::LlamaCpp).await;
    let events = parse_sse(&llama);
    assert!(
        events[0]
            .data
            .starts_with("{\"choices\":[{\"finish_reason\":null,\"index\":0"),
        "{llama}"
    );
    assert!(events[0].data.contains("\"content\":null"), "{llama}");
    let last = events[events.len() - 2].json();
    assert_eq!(
        last["choices"][0]["finish_reason"], "length",
        "usage rides on the finish chunk"
    );
    assert!(
        last["usage"].is_object() && last["timings"].is_object(),
        "{last}"
    );

    let fastapi = text(Dialect::FastApi).await;
    assert!(
        fastapi.contains("\"usage\": {\"prompt_tokens\": "),
        "{fastapi}"
    );
    assert!(
        !fastapi.contains("created") && !fastapi.contains("object"),
        "{fastapi}"
    );
    let events = parse_sse(&fastapi);
    let last = events[events.len() - 2].json();
    assert!(
        !last["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{last}"
    );
}

#[tokio::test]
async fn usage_unasked_and_tool_call_quirks() {
    let sim = sim().await;
    for d in Dialect::ALL.into_iter().filter(|d| *d != Dialect::JsonOnly) {
        let (_, body) = raw(&sim, d, "/chat/completions", &ask(true, false)).await;
        let (_, _, usages) = summary(&parse_sse(&body));
        let unasked = matches!(d, Dialect::LlamaCpp | Dialect::FastApi);
        assert_eq!(usages.len(), usize::from(unasked), "{d}: {body}");
    }
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut req = ask(false, false);
    req["tools"] = tools.clone();
    let (_, body) = raw(&sim, Dialect::Vllm, "/chat/completions", &req).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["choices"][0]["finish_reason"], "stop",
        "vLLM: stop beside tool_calls"
    );
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    req["stream"] = json!(true);
    let (_, body) = raw(&sim, Dialect::Ollama, "/chat/completions", &req).await;
    let events = parse_sse(&body);
    let (_, finishes, _) = summary(&events);
    assert_eq!(finishes, ["stop"], "Ollama before PR #7963: {body}");
    let call = &events[0].json()["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(
        call["function"]["arguments"], "{\"city\":\"sim\"}",
        "a whole call: {body}"
    );
}

#[tokio::test]
async fn completions_embeddings_and_models_per_dialect() {
    let sim = sim().await;
    let body = json!({"model": "served/model-7b", "prompt": "hello there", "max_tokens": 4,
        "stream": true, "stream_options": {"include_usage": true}});
    for d in Dialect::ALL {
        let (ct, text) = raw(&sim, d, "/completions", &body).await;
        if d == Dialect::JsonOnly {
            assert_eq!(ct, "application/json");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["object"], "text_completion");
            continue;
        }
        let events = parse_sse(&text);
        let mut words = String::new();
        for e in events.iter().filter(|e| e.data != "[DONE]") {
            for c in e.json()["choices"].as_array().unwrap() {
                words.push_str(c["text"].as_str().unwrap_or(""));
            }
        }
        assert_eq!(words.split(' ').count(), 4, "{d}: {text}");
        assert!(text.contains("completion_tokens"), "{d}: usage asked");
    }
    let (_, text) = raw(
        &sim,
        Dialect::FastApi,
        "/embeddings",
        &json!({"model": "embed-small", "input": "hi"}),
    )
    .await;
    assert!(
        text.starts_with("{\"object\": \"list\", \"data\": [{"),
        "{text}"
    );
    let models = client()
        .get(url(&sim, Dialect::Vllm, "/models/qwen2.5-7b"))
        .bearer_auth(OPENAI_KEY);
    assert_eq!(
        expect(models, 200).await["id"],
        "qwen2.5-7b",
        "any model is served"
    );
    let models = client()
        .get(url(&sim, Dialect::Vllm, "/models"))
        .bearer_auth(OPENAI_KEY);
    assert_eq!(expect(models, 200).await["object"], "list");
}

#[tokio::test]
async fn faults_work_on_dialects_and_are_counted() {
    let sim = sim().await;
    let r = with_fault(
        client()
            .post(url(&sim, Dialect::Litellm, "/chat/completions"))
            .bearer_auth(OPENAI_KEY),
        "status=503",
    )
    .json(&ask(false, false));
    let v = expect(r, 503).await;
    assert!(
        v["error"]["message"].is_string(),
        "OpenAI's error shape: {v}"
    );
    let r = with_fault(
        client()
            .post(url(&sim, Dialect::Vllm, "/chat/completions"))
            .bearer_auth(OPENAI_KEY),
        "cut=2",
    )
    .json(&ask(true, false))
    .send()
    .await
    .unwrap();
    assert!(r.text().await.is_err(), "the stream was cut");
    let stats = sim.stats();
    assert_eq!(stats.faults_of("status=503"), 1);
    assert_eq!(stats.faults_of("cut"), 1);
    assert_eq!(
        stats.requests_to(
            sluice_sim::Provider::OpenAi,
            "/compat/vllm/v1/chat/completions"
        ),
        1
    );
    let bad_key = client()
        .post(url(&sim, Dialect::Ollama, "/chat/completions"))
        .bearer_auth("nope")
        .json(&ask(false, false));
    expect(bad_key, 401).await;
}
