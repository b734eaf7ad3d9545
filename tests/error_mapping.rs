//! End to end: every way a request can fail reaches the client as a well-formed error in its
//! own format with the right status, never a 200 with an error inside.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice_test_support::{read_sse, Harness};
use std::time::Duration;

fn chat_with(model: &str, prompt: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 5,
        "messages": [{"role": "user", "content": prompt}]})
}

async fn openai_error(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"].is_string(),
        "not an OpenAI error body: {v}"
    );
    (status, v)
}

#[tokio::test]
async fn client_errors() {
    let h = Harness::builder()
        .config(|c, _| c.limits.max_request_body = 2048)
        .start()
        .await;
    let url = h.url("/v1/chat/completions");
    let body = chat_with("gpt-4o-mini", "hi", false);

    let resp = h.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(openai_error(resp).await.0, 401, "missing token");
    let resp = h
        .client
        .post(&url)
        .bearer_auth("sk-wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, v) = openai_error(resp).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );

    let resp = h
        .client
        .post(&url)
        .bearer_auth(sluice_test_support::TOKEN)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(openai_error(resp).await.0, 400, "malformed JSON");
    let resp = h
        .post("/v1/chat/completions", &json!({"messages": []}))
        .await;
    assert_eq!(openai_error(resp).await.0, 400, "missing model");
    let resp = h
        .post(
            "/v1/chat/completions",
            &chat_with("gpt-5-nonexistent", "hi", false),
        )
        .await;
    let (s, v) = openai_error(resp).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    let resp = h
        .post(
            "/v1/chat/completions",
            &chat_with("gpt-4o-mini", &"x".repeat(4096), false),
        )
        .await;
    assert_eq!(openai_error(resp).await.0, 413, "body over the limit");
    let resp = h
        .client
        .get(h.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(openai_error(resp).await.0, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn upstream_429_keeps_status_and_retry_after_on_every_provider() {
    let h = Harness::start().await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"] {
        let resp = h
            .post(
                "/v1/chat/completions",
                &chat_with(model, "hi <<sim:status=429>>", false),
            )
            .await;
        assert!(
            resp.headers().contains_key("retry-after"),
            "{model}: {:?}",
            resp.headers()
        );
        let (s, _) = openai_error(resp).await;
        assert_eq!(s, 429, "{model}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn upstream_5xx_and_529_map_consistently() {
    // One attempt per request and no circuit breaking: each status must reach the client as is
    // (fail-over and breakers have their own tests in failover.rs and channel_health.rs).
    let h = Harness::builder()
        .config(|c, _| {
            c.routing.max_attempts = 1;
            c.routing.breaker.consecutive_failures = 1000;
        })
        .start()
        .await;
    for code in [500u16, 502, 503, 504] {
        for model in ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"] {
            let prompt = format!("hi <<sim:status={code}>>");
            let resp = h
                .post("/v1/chat/completions", &chat_with(model, &prompt, false))
                .await;
            assert_eq!(openai_error(resp).await.0, code, "{model} {code}");
        }
    }
    let prompt = "hi <<sim:status=529>>";
    let resp = h
        .post(
            "/v1/chat/completions",
            &chat_with("claude-sonnet-4-20250514", prompt, false),
        )
        .await;
    assert_eq!(
        openai_error(resp).await.0,
        503,
        "529 is 503 for OpenAI clients"
    );
    let resp = h
        .post_anthropic(
            "/v1/messages",
            &chat_with("claude-sonnet-4-20250514", prompt, false),
        )
        .await;
    assert_eq!(resp.status(), 529, "529 stays 529 for Anthropic clients");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    h.shutdown().await;
}

#[tokio::test]
async fn missed_first_byte_deadline_is_504() {
    let h = Harness::builder()
        .config(|c, _| c.timeouts.first_byte = Duration::from_millis(300))
        .start()
        .await;
    let resp = h
        .post(
            "/v1/chat/completions",
            &chat_with("gpt-4o-mini", "hi <<sim:stall-headers>>", false),
        )
        .await;
    let (s, v) = openai_error(resp).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (504, Some("upstream_timeout"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_bad_channel_key_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let h = Harness::builder()
        .config(move |c, _| {
            c.channels[0].base_url = format!("http://127.0.0.1:{port}/v1");
            c.channels[1].keys = vec![sluice::config::Secret::new("not-an-anthropic-key")];
            c.channels[2].keys = vec![sluice::config::Secret::new("not-an-xai-key")];
        })
        .start()
        .await;
    let (s, _) = openai_error(
        h.post(
            "/v1/chat/completions",
            &chat_with("gpt-4o-mini", "hi", false),
        )
        .await,
    )
    .await;
    assert_eq!(s, 502);
    let (s, v) = openai_error(
        h.post(
            "/v1/chat/completions",
            &chat_with("claude-sonnet-4-20250514", "hi", false),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (502, Some("upstream_auth_failed"))
    );
    // xAI refuses a bad key with a 400, not a 401: still the channel's key, still a 502, and
    // the key is set aside like any refused key.
    let (s, v) = openai_error(
        h.post("/v1/chat/completions", &chat_with("grok-3", "hi", false))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (502, Some("upstream_auth_failed")),
        "{v}"
    );
    let xai = h.state.routes.channel_snapshot("demo-xai").unwrap();
    assert_eq!(xai.keys[0].state, "auth", "{:?}", xai.keys);
    h.shutdown().await;
}

#[tokio::test]
async fn broken_streams_end_with_an_error_event_in_the_client_format() {
    let h = Harness::start().await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-20250514"] {
        for fault in ["cut=2", "error-event", "no-done"] {
            let prompt = format!("hi <<sim:{fault}>>");
            let resp = h
                .post("/v1/chat/completions", &chat_with(model, &prompt, true))
                .await;
            assert_eq!(resp.status(), 200, "{model} {fault}");
            let (events, _) = read_sse(resp).await;
            let last = events
                .last()
                .unwrap_or_else(|| panic!("{model} {fault}: no events"));
            let v: Value = serde_json::from_str(&last.data)
                .unwrap_or_else(|_| panic!("{model} {fault}: last event {last:?}"));
            assert!(v["error"]["message"].is_string(), "{model} {fault}: {v}");
            assert!(
                events.iter().all(|e| e.data != "[DONE]"),
                "{model} {fault}: a broken stream must not look complete"
            );
        }
        let prompt = "hi <<sim:cut=2>>";
        let (events, _) = read_sse(
            h.post_anthropic("/v1/messages", &chat_with(model, prompt, true))
                .await,
        )
        .await;
        let last = events.last().unwrap();
        assert_eq!(last.event.as_deref(), Some("error"), "{model}: {events:?}");
        assert!(events
            .iter()
            .all(|e| e.event.as_deref() != Some("message_stop")));
    }
    h.shutdown().await;
}
