//! Connection-level faults seen by a plain client: stalls, TCP reset, blackhole, and that
//! the simulator's connection gauge and shutdown stay exact through them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use sluice_sim::{Provider, FAULT_HEADER};

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
