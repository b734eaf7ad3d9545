//! End to end: stream lifetimes. A client that leaves cancels the upstream at once; a silent
//! upstream gets keep-alives and then the idle deadline; shutdown lets streams finish.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_test_support::{assert_eventually, read_sse, Harness};
use std::time::Duration;

fn slow_stream(model: &str, fault: &str, tokens: u32) -> Value {
    json!({"model": model, "stream": true, "max_tokens": tokens,
        "messages": [{"role": "user", "content": format!("count <<sim:{fault}>>")}]})
}

#[tokio::test]
async fn client_disconnect_mid_stream_closes_the_upstream_at_once() {
    let h = Harness::start().await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-20250514"] {
        let mut held = Vec::new();
        for _ in 0..20 {
            let resp = h
                .post(
                    "/v1/chat/completions",
                    &slow_stream(model, "drip=50ms..50ms", 400),
                )
                .await;
            assert_eq!(resp.status(), 200);
            let mut body = resp.bytes_stream();
            let first = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .unwrap();
            assert!(first.is_some());
            held.push(body);
        }
        assert_eventually!(
            h.sim.stats().connections_open >= 20,
            "20 upstream streams open"
        );
        drop(held);
        // 400 tokens at 50 ms would take 20 s: only a cancelled upstream closes this fast.
        assert_eventually!(
            h.sim.stats().connections_open == 0,
            "{model}: upstream connections still open after clients left: {}",
            h.sim.stats().connections_open
        );
        assert_eventually!(
            h.state.upstream.open_connections() == 0,
            "{model}: the relay still counts upstream connections"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn silent_upstream_gets_keepalives_then_the_idle_deadline() {
    let h = Harness::builder()
        .config(|c, _| {
            c.timeouts.keepalive = Duration::from_millis(50);
            c.timeouts.stream_idle = Duration::from_millis(400);
        })
        .start()
        .await;
    let resp = h
        .post(
            "/v1/chat/completions",
            &slow_stream("gpt-4o-mini", "stall-after=2", 50),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (events, comments) = tokio::time::timeout(Duration::from_secs(5), read_sse(resp))
        .await
        .unwrap();
    assert!(
        comments >= 3,
        "expected keep-alive comments, got {comments}"
    );
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stream_idle"),
        "{last}"
    );
    assert_eventually!(
        h.sim.stats().connections_open == 0,
        "stalled upstream released"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_open_streams_finish() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            &slow_stream("gpt-4o-mini", "drip=20ms..20ms", 20),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let addr = h.addr();
    let reader = read_sse(resp);
    let stop = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.relay.shutdown().await;
    };
    let ((events, _), ()) = tokio::join!(reader, stop);
    assert_eq!(
        events.last().unwrap().data,
        "[DONE]",
        "the in-flight stream finished"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    // The finished stream's connection went back to the pool; the pool goes with the state.
    drop(h.state);
    assert_eventually!(h.sim.stats().connections_open == 0, "nothing left upstream");
    h.sim.shutdown().await;
}
