//! End to end: the ledger's gauges follow their resources, agree with the OS and with the
//! simulator, and the health status turns critical past a threshold and back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice::config::Level;
use sluice_test_support::{assert_eventually, Harness};
use std::time::Duration;

/// Process-wide figures (fds, sockets, tasks) are shared by every test in this binary: these
/// tests take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn health(h: &Harness) -> (u16, Value) {
    h.health().await
}

fn slow(model: &str) -> Value {
    json!({"model": model, "stream": true, "max_tokens": 400,
        "messages": [{"role": "user", "content": "go <<sim:drip=50ms..50ms>>"}]})
}

/// Counts of this process's fds and TCP sockets, read directly from /proc.
fn proc_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test]
async fn gauges_rise_with_their_resources_and_fall_back() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let (_, before) = health(&h).await;
    let g0 = before["gauges"].clone();

    // Hold 5 streams open (each on its own client connection) through the simulator.
    let mut held = Vec::new();
    for _ in 0..5 {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let resp = client
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(sluice_test_support::TOKEN)
            .json(&slow("gpt-4o-mini"))
            .send()
            .await
            .unwrap();
        let mut body = resp.bytes_stream();
        body.next().await.unwrap().unwrap();
        held.push((client, body));
    }
    let (_, during) = health(&h).await;
    let g = &during["gauges"];
    let rise = |name: &str| g[name].as_u64().unwrap() - g0[name].as_u64().unwrap();
    assert!(rise("inbound_connections") >= 5, "{g}");
    assert_eq!(rise("open_streams"), 5, "{g}");
    assert_eq!(during["in_flight"]["chat"], 5, "{during}");
    assert_eq!(
        g["upstream_connections"].as_u64().unwrap(),
        h.sim.stats().connections_open,
        "relay and simulator agree"
    );
    assert!(g["upstream_connections"].as_u64().unwrap() >= 5);
    assert!(
        g["tcp_established"].as_u64().unwrap() >= 20,
        "5 x (client, relay-in, relay-out, sim-in): {g}"
    );
    assert!(rise("live_tasks") >= 5, "{g}");

    drop(held);
    assert_eventually!(h.sim.stats().connections_open == 0, "upstream closed");
    let (_, after) = health(&h).await;
    let g = &after["gauges"];
    assert_eq!(g["open_streams"], 0, "{g}");
    assert_eq!(after["in_flight"]["chat"], 0);
    assert_eq!(g["upstream_connections"], 0, "{g}");
    assert_eq!(after["counters"]["client_disconnects"], 5, "{after}");
    h.shutdown().await;
}

#[tokio::test]
async fn fd_and_socket_figures_agree_with_proc() {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    // Warm the client's connection first, then bracket the relay's reading between two direct
    // ones: other tests' runtimes may still be closing their sockets meanwhile.
    health(&h).await;
    let before = proc_fds() as i64;
    let (_, v) = health(&h).await;
    let after = proc_fds() as i64;
    let reported = v["gauges"]["open_fds"].as_u64().unwrap() as i64;
    assert!(
        before.min(after) - 1 <= reported && reported <= before.max(after) + 1,
        "health says {reported} fds, /proc says {before} before and {after} after"
    );
    let listen = v["tcp_sockets"]["LISTEN"].as_u64().unwrap();
    assert!(
        listen >= 2,
        "the relay's and the simulator's listeners: {v}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn status_turns_critical_past_a_threshold_and_back() {
    let _serial = SERIAL.lock().await;
    let h = Harness::builder()
        .config(|c, _| c.monitor.thresholds.inbound_connections = Level::new(3, 4))
        .start()
        .await;
    let (status, v) = health(&h).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")), "{v}");

    let mut clients = Vec::new();
    for _ in 0..4 {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        c.get(h.url("/v1/models"))
            .bearer_auth(sluice_test_support::TOKEN)
            .send()
            .await
            .unwrap();
        clients.push(c); // keeps its idle keep-alive connection open
    }
    let (status, v) = health(&h).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (503, Some("critical")),
        "{v}"
    );
    let code = sluice::monitor::cli::run(sluice::monitor::cli::Args {
        url: h.admin_url(""),
        interval: Duration::from_secs(1),
        once: true,
        token: Some(sluice_test_support::ADMIN_TOKEN.to_owned()),
    })
    .await;
    assert_eq!(code, 2, "`sluice monitor --once` exits 2 on critical");

    drop(clients);
    assert_eventually!(
        h.state.monitor.ledger().counts().inbound_connections <= 1,
        "client connections closed"
    );
    let (status, v) = health(&h).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")), "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_request_counts() {
    let _serial = SERIAL.lock().await;
    // One attempt per request, so each request is one upstream call (retries are counted in
    // tests/failover.rs).
    let h = Harness::builder()
        .config(|c, _| c.routing.max_attempts = 1)
        .start()
        .await;
    h.post(
        "/v1/chat/completions",
        &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    h.post("/v1/chat/completions", &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x <<sim:status=503>>"}]})).await;
    let text = h.admin_get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("sluice_requests_total{status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sluice_requests_total{status=\"503\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sluice_upstream_errors_total{channel=\"demo-openai\",status=\"503\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE sluice_upstream_latency_seconds histogram"));
    h.shutdown().await;
}

#[tokio::test]
async fn channel_states_are_visible_in_health_and_metrics() {
    let _serial = SERIAL.lock().await;
    let h = Harness::builder()
        .config(|c, _| {
            // The OpenAI demo channel fails every request: its circuit opens after two.
            c.channels[0]
                .headers
                .insert("x-sim-fault".into(), "status=500".into());
            c.routing.max_attempts = 1;
            c.routing.breaker.consecutive_failures = 2;
            c.routing.breaker.backoff = Duration::from_secs(60);
            // The third request must meet the open circuit, not panic mode past it.
            c.routing.panic = sluice::config::PanicMode::Never;
        })
        .start()
        .await;
    let req = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..3 {
        h.post("/v1/chat/completions", &req).await;
    }
    let (_, v) = health(&h).await;
    let channels = v["channels"]["channels"].as_array().unwrap();
    let openai = channels
        .iter()
        .find(|c| c["name"] == "demo-openai")
        .unwrap();
    assert_eq!(openai["breaker"], "open", "{openai}");
    let anthropic = channels
        .iter()
        .find(|c| c["name"] == "demo-anthropic")
        .unwrap();
    assert_eq!(anthropic["breaker"], "closed");
    assert!(v["retry_budget"].is_null() && v["channels"]["retry_budget"].is_object());
    assert!(v["overload"]["max_in_flight"].as_u64().unwrap() > 0, "{v}");

    let text = h.admin_get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("sluice_channel_state{channel=\"demo-openai\",state=\"open\"} 1"),
        "{text}"
    );
    assert!(text.contains("sluice_channel_state{channel=\"demo-openai\",state=\"closed\"} 0"));
    assert!(text.contains("sluice_channel_state{channel=\"demo-anthropic\",state=\"closed\"} 1"));
    assert!(
        text.contains("sluice_channel_faults_total{channel=\"demo-openai\"} 2"),
        "{text}"
    );
    h.shutdown().await;
}
