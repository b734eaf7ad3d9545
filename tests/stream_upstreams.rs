//! End to end: what an upstream does with a stream once it has started counts for its channel,
//! and an upstream that answers a stream request with one JSON body is served well.
//! - Failures inside a started stream (cut, idle deadline, missing terminator, oversize event,
//!   the upstream's own error event) feed the channel's circuit breaker; a client that leaves
//!   mid-stream does not.
//! - A JSON error body answering a stream request is a clean error before any 200; a JSON
//!   answer is replayed as a well-formed stream in the client's format.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice::config::ProviderKind;
use sluice::routing::BreakerState;
use sluice_test_support::{
    access_log, assert_upstream_settled, openai_channel, read_sse, request_id, with_fault, Harness,
    ROUTED_MODEL,
};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IDLE: usize = 4;

fn streamed(prompt: &str) -> Value {
    json!({"model": ROUTED_MODEL, "stream": true, "max_tokens": 8,
        "messages": [{"role": "user", "content": prompt}]})
}

/// A harness whose priority channel `flaky` carries `fault` on every request, with `good` below
/// it; the breaker opens after 3 faults in a row and stays open for the test.
async fn flaky(fault: &str) -> Harness {
    let fault = fault.to_owned();
    Harness::builder()
        .config(move |c, sim| {
            let mut flaky = with_fault(openai_channel(sim, "flaky", "gpt-4o"), &fault);
            flaky.priority = 1;
            c.channels = vec![flaky, openai_channel(sim, "good", "gpt-4o-mini")];
            c.upstream.pool_max_idle_per_host = IDLE;
            c.timeouts.stream_idle = Duration::from_millis(300);
            c.timeouts.keepalive = Duration::from_millis(100);
            c.limits.max_stream_event = 50_000;
            let b = &mut c.routing.breaker;
            b.consecutive_failures = 3;
            b.backoff = Duration::from_secs(60);
        })
        .start()
        .await
}

#[tokio::test]
async fn failures_inside_a_started_stream_open_the_channels_circuit() {
    for fault in [
        "cut=3",
        "stall-after=2",
        "no-done",
        "oversize=100000",
        "error-event=2",
    ] {
        let h = flaky(fault).await;
        let state = || h.state.routes.channel_snapshot("flaky").unwrap();
        for i in 0..3 {
            // Some streams through a conversion (an Anthropic client on the OpenAI channel);
            // converted, a stream whose finish reason came is complete without `[DONE]`.
            let converted = i % 2 == 1 && fault != "no-done";
            let resp = if !converted {
                h.post("/v1/chat/completions", &streamed("count")).await
            } else {
                let mut body = streamed("count");
                body["max_tokens"] = json!(8);
                h.post_anthropic("/v1/messages", &body).await
            };
            assert_eq!(resp.status(), 200, "{fault}: the stream started");
            let id = request_id(&resp);
            let (events, _) = read_sse(resp).await;
            let last = &events.last().unwrap().data;
            assert!(
                last.contains("error"),
                "{fault}: ends with an error event: {last}"
            );
            // The access record says the answer failed, although its status was 200.
            let record = access_log::take(&id).await;
            let outcome = if fault.starts_with("stall") {
                "deadline"
            } else {
                "upstream_error"
            };
            assert_eq!(
                (record.status, record.outcome.as_str()),
                (200, outcome),
                "{fault}: {record:?}"
            );
        }
        let s = state();
        assert_eq!(
            (s.breaker, s.faults),
            (BreakerState::Open, 3),
            "{fault}: three failed streams open the circuit: {s:?}"
        );
        let resp = h.post("/v1/chat/completions", &streamed("count")).await;
        let (events, _) = read_sse(resp).await;
        assert_eq!(
            events.last().unwrap().data,
            "[DONE]",
            "{fault}: served by the good channel"
        );
        assert_upstream_settled(&h, IDLE).await;
        h.shutdown().await;
    }
}

#[tokio::test]
async fn a_client_leaving_mid_stream_is_not_the_channels_fault() {
    let h = flaky("drip=20ms..20ms").await;
    for _ in 0..4 {
        let resp = h.post("/v1/chat/completions", &streamed("count")).await;
        let mut body = resp.bytes_stream();
        let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
        assert!(first.unwrap().is_some());
        drop(body);
    }
    let resp = h.post("/v1/chat/completions", &streamed("count")).await;
    let (events, _) = read_sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let s = h.state.routes.channel_snapshot("flaky").unwrap();
    assert_eq!(
        (s.breaker, s.faults, s.consecutive_failures, s.in_flight),
        (BreakerState::Closed, 0, 0, 0),
        "{s:?}"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

/// A relay whose only channel for [`ROUTED_MODEL`] is the mock server, speaking `provider`.
async fn behind(server: &MockServer, provider: ProviderKind, base: &str) -> Harness {
    let base_url = format!("{}{base}", server.uri());
    Harness::builder()
        .config(move |c, sim| {
            let mut ch = openai_channel(sim, "mock", "unused");
            ch.provider = provider;
            ch.base_url = base_url;
            ch.model_mapping.clear();
            c.channels = vec![ch];
            c.routing.max_attempts = 1;
        })
        .start()
        .await
}

fn json_answer(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json")
}

#[tokio::test]
async fn a_json_error_answering_a_stream_request_is_an_error_before_any_200() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(json_answer(
            r#"{"error": {"message": "model is loading", "type": "server_error", "code": 503}}"#,
        ))
        .mount(&server)
        .await;
    let h = behind(&server, ProviderKind::OpenaiCompatible, "/v1").await;
    let resp = h.post("/v1/chat/completions", &streamed("hi")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "model is loading", "{v}");
    let resp = h.post_anthropic("/v1/messages", &streamed("hi")).await;
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("overloaded_error")),
        "{v}"
    );
    let s = h.state.routes.channel_snapshot("mock").unwrap();
    assert_eq!(s.faults, 2, "the channel's fault: {s:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn an_anthropic_json_answer_to_a_stream_request_is_replayed_for_an_openai_client() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(json_answer(
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-up",
            "content":[{"type":"text","text":"Hello there"}],"stop_reason":"end_turn",
            "stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}"#,
        ))
        .mount(&server)
        .await;
    let h = behind(&server, ProviderKind::Anthropic, "").await;
    let mut req = streamed("hi");
    req["stream_options"] = json!({"include_usage": true});
    let resp = h.post("/v1/chat/completions", &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (events, _) = read_sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello there");
    assert!(chunks.iter().all(|c| c["model"] == ROUTED_MODEL));
    let usage = chunks.iter().find_map(|c| c["usage"].as_object()).unwrap();
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(5), Some(2))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_request_that_is_not_a_json_object_is_a_client_error() {
    let h = Harness::builder()
        .config(|c, sim| c.channels.push(openai_channel(sim, "mapped", "gpt-4o")))
        .start()
        .await;
    for body in [
        json!([ROUTED_MODEL]),
        json!(ROUTED_MODEL),
        json!([{"model": ROUTED_MODEL}]),
    ] {
        let resp = h.post("/v1/chat/completions", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("JSON object"),
            "{v}"
        );
    }
    h.shutdown().await;
}
