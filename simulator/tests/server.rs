//! The server itself: routing of unknown paths, stats, connection counting, shutdown.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use sluice_sim::{Provider, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn unknown_path_is_json_404() {
    let sim = sim().await;
    for path in ["/nope", "/openai/v1/nope", "/anthropic/v2/messages"] {
        let r = client()
            .get(format!("http://{}{path}", sim.addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains(path));
    }
}

#[tokio::test]
async fn wrong_method_is_json_405() {
    let sim = sim().await;
    let v = expect(
        client().get(format!(
            "{}/chat/completions",
            sim.base_url(Provider::OpenAi)
        )),
        405,
    )
    .await;
    assert_eq!(v["error"]["type"], "method_not_allowed");
}

#[tokio::test]
async fn base_urls() {
    let sim = sim().await;
    let a = sim.addr();
    assert_eq!(
        sim.base_url(Provider::OpenAi),
        format!("http://{a}/openai/v1")
    );
    assert_eq!(
        sim.base_url(Provider::Anthropic),
        format!("http://{a}/anthropic")
    );
    assert_eq!(sim.base_url(Provider::Xai), format!("http://{a}/xai/v1"));
}

#[tokio::test]
async fn stats_count_requests_and_reset() {
    let sim = sim().await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]});
    for _ in 0..3 {
        post(&sim, Provider::OpenAi, "/chat/completions")
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    get(&sim, Provider::OpenAi, "/models/gpt-4o")
        .send()
        .await
        .unwrap();
    get(&sim, Provider::Anthropic, "/v1/models")
        .send()
        .await
        .unwrap();
    let s = sim.stats();
    assert_eq!(s.requests_to(Provider::OpenAi, "/v1/chat/completions"), 3);
    assert_eq!(s.requests_to(Provider::OpenAi, "/v1/models/{id}"), 1);
    assert_eq!(s.requests_to(Provider::Anthropic, "/v1/models"), 1);
    assert_eq!(s.requests_total, 5);
    assert!(s.connections_accepted >= 5);
    let over_http: Stats = client()
        .get(format!("http://{}/__sim/stats", sim.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.requests, s.requests);
    expect(
        client().post(format!("http://{}/__sim/stats/reset", sim.addr())),
        204,
    )
    .await;
    let s = sim.stats();
    assert_eq!(s.requests_total, 0);
    sim.reset_stats();
    assert!(sim.stats().requests.is_empty());
}

#[tokio::test]
async fn connections_open_follows_a_held_stream() {
    let sim = sim().await;
    assert_eq!(sim.stats().connections_open, 0);
    let body = json!({"model": "gpt-4o", "stream": true, "max_tokens": 4096,
        "messages": [{"role": "user", "content": "x"}]});
    let resp = post(&sim, Provider::OpenAi, "/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sim.stats().connections_open, 1);
    drop(resp);
    assert!(eventually(Duration::from_secs(2), || sim.stats().connections_open == 0).await);
    assert_eq!(sim.stats().connections_accepted, 1);
}

#[tokio::test]
async fn raw_client_leaving_mid_stream_closes_the_connection() {
    let sim = sim().await;
    let mut tcp = TcpStream::connect(sim.addr()).await.unwrap();
    let body = r#"{"model":"gpt-4o","stream":true,"max_tokens":4096,"messages":[{"role":"user","content":"x"}]}"#;
    let req = format!(
        "POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-1234\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(eventually(Duration::from_secs(1), || sim.stats().connections_open == 1).await);
    drop(tcp);
    assert!(
        eventually(Duration::from_millis(500), || sim.stats().connections_open
            == 0)
        .await
    );
}

#[tokio::test]
async fn idle_connections_are_counted_and_shutdown_closes_them() {
    let sim = sim().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(sim.addr()).await.unwrap());
    }
    assert!(eventually(Duration::from_secs(1), || sim.stats().connections_open == 3).await);
    tokio::time::timeout(Duration::from_secs(2), sim.shutdown())
        .await
        .expect("shutdown joins");
    for mut s in held {
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sim = sim().await;
    let addr = sim.addr();
    drop(sim);
    let ok = eventually(Duration::from_secs(1), || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
    assert!(ok);
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    let sim = sim().await;
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = c
        .get(format!("{}/models", sim.base_url(Provider::OpenAi)))
        .bearer_auth(OPENAI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
}
