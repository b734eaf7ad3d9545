//! OpenAI endpoints end to end: shapes, streams, tools, usage, errors, determinism.

mod common;

use common::*;
use serde_json::{json, Value};
use sluice_sim::Provider;

const P: Provider = Provider::OpenAi;

fn chat(extra: Value) -> Value {
    let mut body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there"}]});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    body
}

#[tokio::test]
async fn chat_completion_shape_and_headers() {
    let sim = sim().await;
    let resp = post(&sim, P, "/chat/completions")
        .json(&chat(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(h["openai-version"], "2020-10-01");
    assert!(h.contains_key("openai-processing-ms"));
    for k in ["limit", "remaining", "reset"] {
        for t in ["requests", "tokens"] {
            assert!(
                h.contains_key(format!("x-ratelimit-{k}-{t}").as_str()),
                "{k}-{t}"
            );
        }
    }
    assert!(h.contains_key("content-length"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["model"], "gpt-4o-mini");
    let c = &v["choices"][0];
    assert_eq!(c["message"]["role"], "assistant");
    assert_eq!(c["finish_reason"], "stop");
    let text = c["message"]["content"].as_str().unwrap();
    assert_eq!(text.split(' ').count(), 12);
    let u = &v["usage"];
    assert_eq!(u["completion_tokens"], 12);
    // "be brief" (2) + "hello there" (2) + 3 per message.
    assert_eq!(u["prompt_tokens"], 10);
    assert_eq!(u["total_tokens"], 22);
}

#[tokio::test]
async fn max_tokens_n_and_stop() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"max_completion_tokens": 20, "n": 2})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    for c in choices {
        assert_eq!(c["finish_reason"], "length");
        assert_eq!(
            c["message"]["content"].as_str().unwrap().split(' ').count(),
            20
        );
    }
    assert_eq!(v["usage"]["completion_tokens"], 40);
    let words: Vec<&str> = choices[0]["message"]["content"]
        .as_str()
        .unwrap()
        .split(' ')
        .collect();
    let stop = words[4];
    let cut = words.iter().position(|w| *w == stop).unwrap();
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"max_tokens": 20, "stop": [stop]})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "stop");
    let got = c["message"]["content"].as_str().unwrap();
    assert_eq!(got, words[..cut].join(" "));
    assert_eq!(v["usage"]["completion_tokens"], cut as u64);
}

#[tokio::test]
async fn chat_stream_with_usage() {
    let sim = sim().await;
    let resp = post(&sim, P, "/chat/completions")
        .json(&chat(
            json!({"stream": true, "max_tokens": 20, "stream_options": {"include_usage": true}}),
        ))
        .send()
        .await
        .unwrap();
    let events = sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert!(c.as_object().unwrap().contains_key("usage"));
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|ch| ch["delta"].get("content"))
        })
        .filter(|c| c.as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    assert_eq!(content.len(), 20);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(finish["usage"].is_null());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 20);
    assert_eq!(last["usage"]["total_tokens"], 30);
}

#[tokio::test]
async fn chat_stream_without_usage_has_no_usage() {
    let sim = sim().await;
    let resp = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"stream": true})))
        .send()
        .await
        .unwrap();
    let events = sse(resp).await;
    for e in &events[..events.len() - 1] {
        let c = e.json();
        assert!(c.get("usage").is_none());
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    // role chunk + 12 words + finish chunk + [DONE]
    assert_eq!(events.len(), 15);
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
        "metric": {"type": "boolean"}, "extra": {"type": "array"}, "opt": {"type": "string"}},
        "required": ["city", "days", "metric", "extra"]}}},
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}])
}

#[tokio::test]
async fn tool_call_non_stream_and_stream() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"tools": weather_tools()})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert!(c["message"]["content"].is_null());
    let call = &c["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args,
        json!({"city": "sim", "days": 1, "metric": true, "extra": null})
    );

    let resp = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"tools": weather_tools(), "stream": true,
            "tool_choice": {"type": "function", "function": {"name": "other"}}})))
        .send()
        .await
        .unwrap();
    let events = sse(resp).await;
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "other");
    assert_eq!(first["function"]["arguments"], "");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let frags: Vec<String> = chunks[1..]
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(frags.len() >= 2);
    let args: Value = serde_json::from_str(&frags.concat()).unwrap();
    assert_eq!(args, json!({}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // A tool result last: text. tool_choice none: text.
    let body = json!({"model": "gpt-4o", "tools": weather_tools(), "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]});
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let v: Value = post(&sim, P, "/chat/completions")
        .json(&chat(
            json!({"tools": weather_tools(), "tool_choice": "none"}),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn stream_tool_call_streamed_arguments_reassemble() {
    let sim = sim().await;
    let resp = post(&sim, P, "/chat/completions")
        .json(&chat(json!({"tools": weather_tools(), "stream": true})))
        .send()
        .await
        .unwrap();
    let events = sse(resp).await;
    let mut args = String::new();
    for e in &events[..events.len() - 1] {
        if let Some(a) =
            e.json()["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        {
            args.push_str(a);
        }
    }
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args["city"], "sim");
}

#[tokio::test]
async fn completions_legacy() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/completions")
        .json(&json!({"model": "davinci-002", "prompt": "once upon a time", "max_tokens": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(
        v["choices"][0]["text"].as_str().unwrap().split(' ').count(),
        5
    );
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 9);

    let resp = post(&sim, P, "/completions")
        .json(
            &json!({"model": "gpt-3.5-turbo-instruct", "prompt": ["a", "b"], "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .unwrap();
    let events = sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    let last = chunks.last().unwrap();
    assert_eq!(last["usage"]["completion_tokens"], 24);
    let text0: String = chunks
        .iter()
        .filter(|c| c["choices"].get(0).is_some_and(|ch| ch["index"] == 0))
        .map(|c| c["choices"][0]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text0.split(' ').count(), 12);
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let sim = sim().await;
    let v: Value = post(&sim, P, "/embeddings")
        .json(&json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"], "encoding_format": "float"}))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let floats: Vec<f64> = v["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(floats.len(), 1536);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 3);

    // The SDK default: base64, little-endian float32; `dimensions` shortens.
    let v: Value = post(&sim, P, "/embeddings")
        .json(&json!({"model": "text-embedding-3-large", "input": "hello world", "encoding_format": "base64", "dimensions": 4}))
        .send().await.unwrap().json().await.unwrap();
    let b64 = v["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(b64.len(), 24); // 16 bytes
    let v2: Value = post(&sim, P, "/embeddings")
        .json(&json!({"model": "text-embedding-3-large", "input": "hello world", "dimensions": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v2["data"][0]["embedding"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn models_list_and_get() {
    let sim = sim().await;
    let v: Value = get(&sim, P, "/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["object"] == "model"));
    let r = get(&sim, P, "/models/gpt-4o").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], "gpt-4o");
    let r = get(&sim, P, "/models/llama-3").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn auth_rejections() {
    let sim = sim().await;
    let url = format!("{}/chat/completions", sim.base_url(P));
    for key in [None, Some("bad-key"), Some("xai-123")] {
        let mut rb = client().post(&url).json(&chat(json!({})));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 401, "{key:?}");
        assert!(r.headers().contains_key("x-request-id"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn validation_errors() {
    let sim = sim().await;
    let v = expect(
        post(&sim, P, "/chat/completions")
            .header("content-type", "application/json")
            .body("{not json"),
        400,
    )
    .await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    expect(
        post(&sim, P, "/chat/completions").json(&json!({"model": "gpt-4o"})),
        400,
    )
    .await;
    expect(
        post(&sim, P, "/chat/completions").json(&json!({"messages": []})),
        400,
    )
    .await;
    let v = expect(
        post(&sim, P, "/chat/completions")
            .json(&json!({"model": "claude-3", "messages": [{"role": "user", "content": "x"}]})),
        404,
    )
    .await;
    assert_eq!(v["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn same_request_same_answer() {
    let sim = sim().await;
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let mut v: Value = post(&sim, P, "/chat/completions")
            .json(&chat(json!({"n": 2, "max_tokens": 30})))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        strip_volatile(&mut v);
        bodies.push(v);
    }
    assert_eq!(bodies[0], bodies[1]);
    let other: Value = post(&sim, P, "/chat/completions")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "something else"}]}))
        .send().await.unwrap().json().await.unwrap();
    assert_ne!(
        other["choices"][0]["message"]["content"],
        bodies[0]["choices"][0]["message"]["content"]
    );
    // Streams: the same words, chunk for chunk.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let resp = post(&sim, P, "/chat/completions")
            .json(&chat(json!({"stream": true})))
            .send()
            .await
            .unwrap();
        let mut chunks: Vec<Value> = sse(resp)
            .await
            .iter()
            .filter(|e| e.data != "[DONE]")
            .map(Event::json)
            .collect();
        chunks.iter_mut().for_each(strip_volatile);
        streams.push(chunks);
    }
    assert_eq!(streams[0], streams[1]);
}
