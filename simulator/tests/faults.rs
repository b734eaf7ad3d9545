//! Fault injection seen by a plain client: status, body and stream faults, selection rules.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use sluice_sim::{Mix, Provider, Scenario, SimConfig, FAULT_HEADER};

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

fn anthropic_msg(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-20250514", "max_tokens": 12, "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]})
}

fn xai_chat(stream: bool) -> Value {
    json!({"model": "grok-3", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

fn with_fault(rb: reqwest::RequestBuilder, fault: &str) -> reqwest::RequestBuilder {
    rb.header(FAULT_HEADER, fault)
}

/// Reads a body chunk by chunk; returns the bytes and whether it ended in an error.
async fn read_all(mut resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("body in time")
        {
            Ok(Some(c)) => out.extend_from_slice(&c),
            Ok(None) => return (out, false),
            Err(_) => return (out, true),
        }
    }
}

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
    let r = client()
        .get(format!("{}/models", sim.base_url(Provider::OpenAi)))
        .header(FAULT_HEADER, "status=500")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
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

#[tokio::test]
async fn stall_after_keeps_the_stream_open_and_silent() {
    let sim = sim().await;
    let mut r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(true)),
        "stall-after=2",
    )
    .send()
    .await
    .unwrap();
    let mut got = Vec::new();
    while parse_sse(&String::from_utf8_lossy(&got)).len() < 2 {
        let c = tokio::time::timeout(Duration::from_secs(2), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.extend_from_slice(&c);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(150), r.chunk())
            .await
            .is_err(),
        "no more events"
    );
    assert_eq!(sim.stats().connections_open, 1);
    drop(r);
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
}

#[tokio::test]
async fn stall_headers_answers_nothing() {
    let sim = sim().await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let url = format!("{}/chat/completions", sim.base_url(Provider::OpenAi));
    let e = c
        .post(&url)
        .bearer_auth(OPENAI_KEY)
        .header(FAULT_HEADER, "stall-headers")
        .json(&chat(false))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout());
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
    // With a duration: the connection is closed, unanswered, after it.
    let c = client();
    let t = Instant::now();
    let e = c
        .post(&url)
        .bearer_auth(OPENAI_KEY)
        .header(FAULT_HEADER, "stall-headers=60ms")
        .json(&chat(false))
        .send()
        .await
        .unwrap_err();
    assert!(!e.is_timeout(), "{e:?}");
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert_eq!(sim.stats().faults_of("stall-headers"), 2);
}

fn raw_request(body: &str, fault: &str) -> String {
    format!(
        "POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-1234\r\nx-sim-fault: {fault}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn reset_is_a_connection_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim().await;
    let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    tcp.write_all(raw_request(&chat(false).to_string(), "reset").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf))
        .await
        .unwrap();
    assert_eq!(got.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    // And through reqwest: an error, not a response.
    let e = with_fault(
        post(&sim, Provider::Anthropic, "/v1/messages").json(&anthropic_msg(false)),
        "reset",
    )
    .send()
    .await
    .unwrap_err();
    assert!(!e.is_timeout());
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
    assert_eq!(sim.stats().faults_of("reset"), 2);
}

#[tokio::test]
async fn blackhole_times_the_client_out() {
    let sim = sim().await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let e = c
        .get(format!("{}/models", sim.base_url(Provider::Xai)))
        .bearer_auth(XAI_KEY)
        .header(FAULT_HEADER, "blackhole")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout());
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
    // A raw client sees silence while it stays.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    tcp.write_all(raw_request(&chat(false).to_string(), "blackhole").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(150), tcp.read(&mut buf))
            .await
            .is_err()
    );
    assert_eq!(sim.stats().connections_open, 1);
    drop(tcp);
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
}

#[tokio::test]
async fn body_directive_and_header_precedence() {
    let sim = sim().await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi <<sim:status=503>>"}]});
    let r = post(&sim, Provider::OpenAi, "/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&body),
        "status=418",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 418);
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&body),
        "none",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body = json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "stream": true,
        "messages": [{"role": "user", "content": "<<sim:drip=1ms..2ms, cut=2>>"}]});
    let r = post(&sim, Provider::Anthropic, "/v1/messages")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (bytes, failed) = read_all(r).await;
    assert!(failed);
    assert_eq!(parse_sse(&String::from_utf8_lossy(&bytes)).len(), 2);
}

#[tokio::test]
async fn bad_fault_specs_are_clear_400s() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
        "stauts=429",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "sim_fault_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("stauts"));
}

#[tokio::test]
async fn scenario_rules_at_runtime() {
    let sim = sim().await;
    let scenario = Scenario::parse(
        r#"
        [[rule]]
        provider = "openai"
        path = "/v1/chat/completions"
        requests = "1..=2"
        fault = "status=429"
        [[rule]]
        provider = "anthropic"
        model = "claude-3*"
        fault = "status=529"
    "#,
    )
    .unwrap();
    sim.set_scenario(Some(scenario));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            post(&sim, Provider::OpenAi, "/chat/completions")
                .json(&chat(false))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![429, 429, 200]);
    let mut m = anthropic_msg(false);
    m["model"] = json!("claude-3-5-haiku-20241022");
    assert_eq!(
        post(&sim, Provider::Anthropic, "/v1/messages")
            .json(&m)
            .send()
            .await
            .unwrap()
            .status(),
        529
    );
    assert_eq!(
        post(&sim, Provider::Anthropic, "/v1/messages")
            .json(&anthropic_msg(false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Over HTTP: a bad scenario is a 400 naming the problem; DELETE clears.
    let url = format!("http://{}/__sim/scenario", sim.addr());
    let r = client()
        .put(&url)
        .body("[[rule]]\nfault = \"cut=x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("rule 1"));
    let r = client()
        .put(&url)
        .body("[[rule]]\nfault = \"status=500\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        get(&sim, Provider::Xai, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(
        get(&sim, Provider::Xai, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn mix_statuses(seed: u64) -> Vec<u16> {
    let mix = Mix::parse("status=429:20%, status=503:20%, error-event:10%").unwrap();
    let sim = sluice_sim::start(SimConfig {
        seed,
        mix: Some(mix),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..60 {
        let r = post(&sim, Provider::OpenAi, "/chat/completions")
            .json(&chat(true))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        out.push(if text.contains("\"error\"") && status == 200 {
            1
        } else {
            status
        });
    }
    let s = sim.stats();
    assert_eq!(
        s.faults_total(),
        out.iter().filter(|s| **s != 200).count() as u64
    );
    sim.shutdown().await;
    out
}

#[tokio::test]
async fn mix_is_deterministic_per_seed() {
    let a = mix_statuses(42).await;
    let b = mix_statuses(42).await;
    let c = mix_statuses(7).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&429) && a.contains(&503) && a.contains(&200));
}

#[tokio::test]
async fn set_mix_at_runtime_and_over_http() {
    let sim = sim().await;
    sim.set_mix(Some(Mix::parse("status=500:100%").unwrap()));
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    sim.set_mix(None);
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let url = format!("http://{}/__sim/mix", sim.addr());
    assert_eq!(
        client()
            .put(&url)
            .body("status=502:100%")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    assert_eq!(
        client()
            .put(&url)
            .body("status=502:200%")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn shutdown_with_stalled_and_blackholed_connections() {
    let sim = sim().await;
    let c = client();
    let url = format!("{}/chat/completions", sim.base_url(Provider::OpenAi));
    let mut pending = tokio::task::JoinSet::new();
    for fault in ["stall-headers", "blackhole", "stall-after=1"] {
        let rb = c
            .post(&url)
            .bearer_auth(OPENAI_KEY)
            .header(FAULT_HEADER, fault)
            .json(&chat(true));
        pending.spawn(async move { rb.send().await.map(|r| r.status()) });
    }
    assert!(eventually(Duration::from_secs(2), || sim.stats().faults_total() == 3).await);
    tokio::time::timeout(Duration::from_secs(2), sim.shutdown())
        .await
        .expect("shutdown joins");
    let all = async { while pending.join_next().await.is_some() {} };
    tokio::time::timeout(Duration::from_secs(2), all)
        .await
        .expect("clients freed");
}
