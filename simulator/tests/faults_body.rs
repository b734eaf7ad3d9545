//! Body and status faults seen by a plain client: each provider's error shapes and headers,
//! truncated bodies, cut/stalled/dripped streams, broken and oversized payloads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use sluice_sim::{Provider, FAULT_HEADER};

#[tokio::test]
async fn status_faults_in_each_providers_shape() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
        "status=429",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");

    let r = with_fault(
        post(&sim, Provider::OpenAi, "/embeddings").json(&json!({})),
        "status=503, retry-after=0",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "server_is_overloaded");
    assert_eq!(v["error"]["type"], "server_error");

    for (code, ty) in [
        (529, "overloaded_error"),
        (500, "api_error"),
        (504, "timeout_error"),
        (429, "rate_limit_error"),
    ] {
        let r = with_fault(
            post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(true)),
            &format!("status={code}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), code);
        assert!(r.headers().contains_key("request-id"));
        if code == 429 {
            assert_eq!(r.headers()["anthropic-ratelimit-requests-remaining"], "0");
            assert_eq!(r.headers()["retry-after"], "1");
        }
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], ty);
        assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
    }

    for code in [502, 503] {
        let r = with_fault(
            post(&sim, Provider::Xai, "/chat/completions").json(&xai_chat(false)),
            &format!("status={code}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), code);
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].is_string() && v["code"].is_string());
    }
    // Faults apply before auth: a GET with a bad key still gets the injected status.
    expect(
        client()
            .get(format!("{}/models", sim.base_url(Provider::OpenAi)))
            .header(FAULT_HEADER, "status=500"),
        500,
    )
    .await;
    let s = sim.stats();
    assert_eq!(s.faults_of("status=429"), 2);
    assert_eq!(s.faults_of("status=529"), 1);
    assert_eq!(s.faults_of("status=503"), 2);
}

#[tokio::test]
async fn truncate_promises_more_than_it_sends() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
        "truncate=40",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let promised: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(promised > 40);
    let (body, failed) = read_all(r).await;
    assert!(failed, "a short body must be a body error");
    assert_eq!(body.len(), 40);
    // Streams: cut mid-event after N bytes.
    let r = with_fault(
        post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(true)),
        "truncate=100",
    )
    .send()
    .await
    .unwrap();
    let (body, failed) = read_all(r).await;
    assert!(failed);
    assert_eq!(body.len(), 100);
    assert_eq!(sim.stats().faults_of("truncate"), 2);
}

#[tokio::test]
async fn cut_breaks_a_stream_after_n_events() {
    let sim = sim().await;
    for (provider, path, body) in [
        (Provider::OpenAi, "/chat/completions", chat(true)),
        (Provider::Anthropic, "/v1/messages", anthropic_msg(true)),
        (Provider::Xai, "/chat/completions", xai_chat(true)),
    ] {
        let r = with_fault(post(&sim, provider, path).json(&body), "cut=3")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (bytes, failed) = read_all(r).await;
        assert!(failed, "{provider}: cut is a body error");
        let events = parse_sse(&String::from_utf8_lossy(&bytes));
        assert_eq!(events.len(), 3, "{provider}");
        assert!(events
            .iter()
            .all(|e| e.data != "[DONE]" && e.name.as_deref() != Some("message_stop")));
    }
}

#[tokio::test]
async fn no_done_ends_cleanly_without_terminator() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "no-done",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert_eq!(events.len(), 14);
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    let r = with_fault(
        post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(true)),
        "no-done",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert_eq!(
        events.last().unwrap().name.as_deref(),
        Some("message_delta")
    );
}

#[tokio::test]
async fn error_event_in_each_providers_shape() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "error-event",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].json()["error"]["type"], "server_error");
    let r = with_fault(
        post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(true)),
        "error-event=4",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert_eq!(events.len(), 5);
    assert_eq!(events[4].name.as_deref(), Some("error"));
    assert_eq!(events[4].json()["error"]["type"], "overloaded_error");
    let r = with_fault(
        post(&sim, Provider::Xai, "/chat/completions").json(&xai_chat(true)),
        "error-event",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert!(events[2].json()["error"].is_string());
}

#[tokio::test]
async fn echo_key_repeats_the_requests_key_in_status_errors_and_error_events() {
    let sim = sim().await;
    let cases = [
        (
            Provider::OpenAi,
            "/chat/completions",
            chat(true),
            OPENAI_KEY,
            "authorization",
        ),
        (
            Provider::Anthropic,
            "/v1/messages",
            anthropic_msg(true),
            ANTHROPIC_KEY,
            "x-api-key",
        ),
        (
            Provider::Xai,
            "/chat/completions",
            xai_chat(true),
            XAI_KEY,
            "authorization",
        ),
    ];
    for (provider, path, body, key, header) in cases {
        for code in [400u16, 401, 429, 500] {
            let fault = format!("status={code}, echo-key");
            let v = expect(
                with_fault(post(&sim, provider, path).json(&body), &fault),
                code,
            )
            .await;
            let (message, debug) = match provider {
                Provider::Xai
                | Provider::GoogleOAuth
                | Provider::Kling
                | Provider::Runway
                | Provider::Luma
                | Provider::Zhipu
                | Provider::Dashscope
                | Provider::Viggle => (&v["error"], &v["debug"]),
                Provider::OpenAi | Provider::Anthropic | Provider::Gemini | Provider::Vertex => {
                    (&v["error"]["message"], &v["error"]["debug"])
                }
            };
            assert!(
                message.as_str().unwrap().contains(key),
                "{provider} {code}: {v}"
            );
            assert!(
                debug[header].as_str().unwrap().contains(key),
                "{provider} {code}: {v}"
            );
        }
        let r = with_fault(
            post(&sim, provider, path).json(&body),
            "error-event=1, echo-key",
        )
        .send()
        .await
        .unwrap();
        let events = sse(r).await;
        assert_eq!(events.len(), 2, "{provider}: {events:?}");
        assert_eq!(
            events[1].data.matches(key).count(),
            2,
            "{provider}: {events:?}"
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.faults_of("echo-key"), 15);
    // Without a status or an error event there is no error to echo into.
    let v = expect(
        with_fault(
            post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
            "echo-key",
        ),
        200,
    )
    .await;
    assert!(!v.to_string().contains(OPENAI_KEY));
}

#[tokio::test]
async fn malformed_and_oversize() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
        "malformed",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "malformed",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert!(serde_json::from_str::<Value>(&events[1].data).is_err());
    assert!(serde_json::from_str::<Value>(&events[2].data).is_ok());

    let r = with_fault(
        post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(false)),
        "oversize=100000",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.headers()["content-length"], "100000");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "oversize=64KiB",
    )
    .send()
    .await
    .unwrap();
    let text = r.text().await.unwrap();
    let big = text.split("\n\n").nth(1).unwrap();
    assert_eq!(big.len() + 2, 65536);
    assert_eq!(parse_sse(big)[0].json()["object"], "chat.completion.chunk");
}

#[tokio::test]
async fn delay_and_drip_slow_things_down() {
    let sim = sim().await;
    let t = Instant::now();
    let r = with_fault(get(&sim, Provider::OpenAi, "/models"), "delay=120ms")
        .send()
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(120));
    assert_eq!(r.status(), 200);

    let t = Instant::now();
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "drip=8ms..10ms",
    )
    .send()
    .await
    .unwrap();
    let events = sse(r).await;
    assert_eq!(events.len(), 15);
    assert!(
        t.elapsed() >= Duration::from_millis(15 * 8),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sim.stats().faults_of("drip"), 1);

    // Combined: drip, then a cut.
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "drip=1ms..3ms, cut=5",
    )
    .send()
    .await
    .unwrap();
    let (bytes, failed) = read_all(r).await;
    assert!(failed);
    assert_eq!(parse_sse(&String::from_utf8_lossy(&bytes)).len(), 5);
}
