//! End to end: a channel's `max_concurrency` is never exceeded (the overflow spills to the next
//! channel, or gets a fast 503); the relay sheds requests beyond `max_in_flight` or over its
//! memory budget with a fast 503 + retry-after in the client's format and recovers; connections
//! beyond `max_connections` are closed at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::future::join_all;
use serde_json::{json, Value};
use sluice_test_support::{
    assert_upstream_settled, openai_channel, request_id, Harness, ROUTED_MODEL,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDLE: usize = 8;

fn slow(ms: u64) -> Value {
    json!({"model": ROUTED_MODEL, "max_tokens": 3,
        "messages": [{"role": "user", "content": format!("hi <<sim:delay={ms}ms>>")}]})
}

/// Sends `n` slow requests at once; returns (status, served model, retry-after) of each.
async fn burst(h: &Harness, n: usize, ms: u64) -> Vec<(u16, String, Option<String>)> {
    join_all((0..n).map(|_| async {
        let resp = h.post("/v1/chat/completions", &slow(ms)).await;
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let id = request_id(&resp);
        let v: Value = resp.json().await.unwrap();
        let code = v["error"]["code"].as_str().unwrap_or("").to_owned();
        let served = if status == 200 {
            h.served_model(&id, ROUTED_MODEL).await
        } else {
            code
        };
        (status, served, retry)
    }))
    .await
}

#[tokio::test]
async fn max_concurrency_is_respected_and_overflow_spills_over() {
    let h = Harness::builder()
        .config(|c, sim| {
            let mut capped = openai_channel(sim, "capped", "gpt-4o");
            capped.priority = 1;
            capped.max_concurrency = Some(2);
            c.channels = vec![capped, openai_channel(sim, "spill", "gpt-4o-mini")];
            c.upstream.pool_max_idle_per_host = IDLE;
        })
        .start()
        .await;
    // Watch the capped channel's in-flight count while the burst runs.
    let max_seen = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let watch = async {
        while !done.load(Ordering::Relaxed) {
            let n = h.state.routes.channel_snapshot("capped").unwrap().in_flight;
            max_seen.fetch_max(n, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let run = async {
        let r = burst(&h, 6, 400).await;
        done.store(true, Ordering::Relaxed);
        r
    };
    let (results, ()) = tokio::join!(run, watch);
    let on_capped = results.iter().filter(|r| r.1 == "gpt-4o").count();
    let on_spill = results.iter().filter(|r| r.1 == "gpt-4o-mini").count();
    assert_eq!((on_capped, on_spill), (2, 4), "{results:?}");
    assert_eq!(max_seen.load(Ordering::Relaxed), 2);
    assert_eq!(
        h.state.routes.channel_snapshot("capped").unwrap().in_flight,
        0
    );

    // With nowhere to spill, the overflow gets a fast 503 (no queue).
    h.state.routes.disable("spill");
    let started = Instant::now();
    let results = burst(&h, 3, 400).await;
    let shed: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(shed.len(), 1, "{results:?}");
    assert_eq!(shed[0].1, "no_channel_available");
    assert!(shed[0].2.is_some(), "503 carries retry-after");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn in_flight_cap_sheds_with_503_and_retry_after_then_recovers() {
    let h = Harness::builder()
        .config(|c, _| {
            c.overload.max_in_flight = 2;
            c.upstream.pool_max_idle_per_host = IDLE;
        })
        .start()
        .await;
    let body = |ms: u64| {
        json!({"model": "gpt-4o-mini", "max_tokens": 3,
            "messages": [{"role": "user", "content": format!("hi <<sim:delay={ms}ms>>")}]})
    };
    let slow_body = body(600);
    let slow_pair = join_all((0..2).map(|_| h.post("/v1/chat/completions", &slow_body)));
    let probe = async {
        // Wait until both slow requests hold their slots, then knock.
        sluice_test_support::eventually(Duration::from_secs(2), "2 in flight", || {
            let n = h.state.overload.snapshot().in_flight;
            async move { n == 2 }
        })
        .await;
        let started = Instant::now();
        let openai = h.post("/v1/chat/completions", &body(0)).await;
        let fast = started.elapsed();
        let anthropic = h
            .post_anthropic(
                "/v1/messages",
                &json!({"model": "claude-sonnet-4-20250514", "max_tokens": 3,
                    "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        let admin = h.admin_get("/api/channels").await;
        (openai, fast, anthropic, admin.status())
    };
    let (slow, (openai, fast, anthropic, admin)) = tokio::join!(slow_pair, probe);
    assert!(slow.iter().all(|r| r.status() == 200));
    assert_eq!(openai.status(), 503);
    assert_eq!(openai.headers()["retry-after"], "1");
    assert!(
        fast < Duration::from_millis(200),
        "shedding is fast: {fast:?}"
    );
    let v: Value = openai.json().await.unwrap();
    assert_eq!(v["error"]["code"], "relay_overloaded");
    assert_eq!(anthropic.status(), 503);
    assert!(anthropic.headers().contains_key("retry-after"));
    let v: Value = anthropic.json().await.unwrap();
    assert_eq!(
        v["type"], "error",
        "the Anthropic client gets Anthropic's shape: {v}"
    );
    assert_eq!(admin, 200, "the admin API is not shed");
    assert_eq!(h.state.overload.snapshot().shed_requests, 2);

    // Recovered: slots came back when the slow responses ended.
    assert_eq!(h.state.overload.snapshot().in_flight, 0);
    let resp = h.post("/v1/chat/completions", &body(0)).await;
    assert_eq!(resp.status(), 200);
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn streams_hold_their_in_flight_slot_until_they_end() {
    let h = Harness::builder()
        .config(|c, _| c.overload.max_in_flight = 1)
        .start()
        .await;
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 5, "stream": true,
        "messages": [{"role": "user", "content": "hi <<sim:drip=50ms..60ms>>"}]});
    let resp = h.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        h.state.overload.snapshot().in_flight,
        1,
        "the stream is still running"
    );
    let other = h.post("/v1/chat/completions", &body).await;
    assert_eq!(other.status(), 503);
    drop(other);
    let (events, _) = sluice_test_support::read_sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    sluice_test_support::assert_eventually!(
        h.state.overload.snapshot().in_flight == 0,
        "slot released at the end of the stream"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn memory_budget_sheds_new_requests() {
    let h = Harness::builder()
        .config(|c, _| c.overload.memory_budget = Some(1024))
        .start()
        .await;
    let resp = h.post("/v1/chat/completions", &slow(0)).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("memory"),
        "{v}"
    );
    assert!(h.state.overload.snapshot().rss_bytes.unwrap() > 1024);
    h.shutdown().await;
}

/// Sends a raw HTTP/1.1 health request; returns the response's first line, or `None` if the
/// connection was closed without an answer.
async fn raw_health(conn: &mut tokio::net::TcpStream) -> Option<String> {
    let req = "GET /api/monitor/health HTTP/1.1\r\nhost: x\r\n\r\n";
    if conn.write_all(req.as_bytes()).await.is_err() {
        return None;
    }
    let mut buf = vec![0u8; 1024];
    match tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            text.lines().next().map(str::to_owned)
        }
        Ok(_) => None,
        Err(_) => panic!("no answer and no close within 2 s"),
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_and_room_comes_back() {
    let h = Harness::builder()
        .config(|c, _| c.overload.max_connections = 2)
        .start()
        .await;
    let mut a = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    assert_eq!(raw_health(&mut a).await.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(raw_health(&mut b).await.as_deref(), Some("HTTP/1.1 200 OK"));
    let mut c = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    assert_eq!(
        raw_health(&mut c).await,
        None,
        "the third connection is closed"
    );
    assert_eq!(h.state.overload.snapshot().refused_connections, 1);
    drop(a);
    sluice_test_support::assert_eventually!(
        h.state.overload.snapshot().connections == 1,
        "a closed connection gives its slot back"
    );
    let mut d = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    assert_eq!(raw_health(&mut d).await.as_deref(), Some("HTTP/1.1 200 OK"));
    h.shutdown().await;
}
