//! End to end: a channel's circuit opens on upstream faults, probes after its backoff, reopens
//! with a longer one on a failed probe and closes on success; keys answered 401 are set aside
//! and the channel disabled when all are, until the admin API enables it; the admin API
//! answers the admin token only, whatever the peer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::Secret;
use sluice::routing::BreakerState;
use sluice_sim::Scenario;
use sluice_test_support::{
    assert_upstream_settled, eventually, openai_channel, request_id, Harness, ROUTED_MODEL,
};
use std::time::Duration;
use tower::ServiceExt;

const IDLE: usize = 4;

fn ask() -> Value {
    json!({"model": ROUTED_MODEL, "max_tokens": 3,
        "messages": [{"role": "user", "content": "hi"}]})
}

/// Sends one request; returns the upstream model that served it.
async fn served_by(h: &Harness) -> String {
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    resp.bytes().await.unwrap();
    h.served_model(&id, ROUTED_MODEL).await
}

#[tokio::test]
async fn circuit_opens_probes_after_the_backoff_and_closes() {
    let h = Harness::builder()
        .config(|c, sim| {
            let mut flaky = openai_channel(sim, "flaky", "gpt-4o");
            flaky.priority = 1;
            c.channels = vec![flaky, openai_channel(sim, "good", "gpt-4o-mini")];
            c.upstream.pool_max_idle_per_host = IDLE;
            let b = &mut c.routing.breaker;
            b.consecutive_failures = 3;
            b.backoff = Duration::from_millis(300);
            b.max_backoff = Duration::from_secs(2);
        })
        .start()
        .await;
    // The flaky channel (served model gpt-4o) fails with 500 until the rule is removed.
    let failing =
        Scenario::parse("[[rule]]\nmodel = \"gpt-4o\"\nfault = \"status=500\"\n").unwrap();
    h.sim.set_scenario(Some(failing.clone()));
    let faults = || h.sim.stats().faults_of("status=500");
    let flaky = || h.state.routes.channel_snapshot("flaky").unwrap();

    for _ in 0..3 {
        assert_eq!(served_by(&h).await, "gpt-4o-mini");
    }
    assert_eq!((flaky().breaker, faults()), (BreakerState::Open, 3));
    for _ in 0..3 {
        assert_eq!(served_by(&h).await, "gpt-4o-mini");
    }
    assert_eq!(faults(), 3, "an open circuit gets no traffic");

    // After the backoff one probe goes through; it fails: open again, for twice as long.
    eventually(Duration::from_secs(2), "half-open", || {
        let s = flaky().breaker;
        async move { s == BreakerState::HalfOpen }
    })
    .await;
    assert_eq!(served_by(&h).await, "gpt-4o-mini");
    assert_eq!(faults(), 4, "exactly one probe");
    let s = flaky();
    assert_eq!((s.breaker, s.breaker_trips), (BreakerState::Open, 2));
    assert!(
        s.probe_in_ms.unwrap() > 300 && s.probe_in_ms.unwrap() <= 600,
        "{s:?}"
    );

    // The upstream heals; the next probe succeeds and the circuit closes.
    h.sim.set_scenario(None);
    eventually(Duration::from_secs(3), "half-open again", || {
        let s = flaky().breaker;
        async move { s == BreakerState::HalfOpen }
    })
    .await;
    assert_eq!(
        served_by(&h).await,
        "gpt-4o",
        "the probe is served by the flaky channel"
    );
    let s = flaky();
    assert_eq!((s.breaker, s.breaker_trips), (BreakerState::Closed, 0));
    for _ in 0..3 {
        assert_eq!(served_by(&h).await, "gpt-4o", "priority traffic is back");
    }
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn keys_set_aside_on_401_and_channel_disabled_until_the_admin_enables_it() {
    let h = Harness::builder()
        .config(|c, sim| {
            let mut bad = openai_channel(sim, "badkeys", "gpt-4o");
            bad.priority = 1;
            // The simulator rejects OpenAI keys without the `sk-` prefix with a 401.
            bad.keys = vec![
                Secret::new("bad-key-number-one"),
                Secret::new("bad-key-number-two"),
            ];
            c.channels = vec![bad, openai_channel(sim, "good", "gpt-4o-mini")];
            c.upstream.pool_max_idle_per_host = IDLE;
            c.admin_token = Some(Secret::new("admin-secret-token"));
        })
        .start()
        .await;
    for _ in 0..4 {
        assert_eq!(served_by(&h).await, "gpt-4o-mini");
    }
    let list: Value = h.admin_get("/api/channels").await.json().await.unwrap();
    let bad = &list["channels"][0];
    assert_eq!(bad["name"], "badkeys");
    assert_eq!(
        (bad["enabled"].as_bool(), bad["disabled_by"].as_str()),
        (Some(false), Some("auth"))
    );
    assert_eq!(bad["attempts"], 2, "one try per key, then no more");
    assert_eq!(
        bad["breaker"], "closed",
        "rejected keys are not an upstream fault"
    );
    let keys = bad["keys"].as_array().unwrap();
    assert!(keys.iter().all(|k| k["state"] == "auth"), "{keys:?}");
    let text = list.to_string();
    assert!(
        !text.contains("bad-key-number"),
        "key values never leave the relay: {text}"
    );
    assert_eq!(list["channels"][1]["enabled"], true);

    // Enable through the admin API: keys restored, traffic back (and rejected again here).
    let resp = h.admin_post("/api/channels/badkeys/enable").await;
    assert_eq!(resp.status(), 200);
    let snap: Value = resp.json().await.unwrap();
    assert_eq!(snap["enabled"], true);
    assert!(snap["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["state"] == "ok"));
    assert_eq!(served_by(&h).await, "gpt-4o-mini");
    assert_eq!(
        h.state.routes.channel_snapshot("badkeys").unwrap().attempts,
        3
    );

    // Disable by hand; unknown names are 404.
    let resp = h.admin_post("/api/channels/good/disable").await;
    assert_eq!(resp.status(), 200);
    // badkeys' second key is rejected too: the last attempt's error is the client's answer.
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    // Now no channel is left at all: the relay's own fast 503.
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 503, "no enabled channel left");
    assert!(resp.headers().contains_key("retry-after"));
    let resp = h.admin_post("/api/channels/nope/enable").await;
    assert_eq!(resp.status(), 404);
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn admin_api_needs_the_admin_token_whatever_the_peer() {
    let h = Harness::builder()
        .config(|c, _| c.admin_token = Some(Secret::new("admin-secret-token")))
        .start()
        .await;
    // Through the routers without a socket: no peer address plays any part.
    let call = |admin: bool, auth: Option<&'static str>| {
        let mut req = http::Request::get("/api/channels");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let app = if admin {
            sluice::server::admin_app(h.state.clone())
        } else {
            sluice::app(h.state.clone())
        };
        app.oneshot(req.body(axum::body::Body::empty()).unwrap())
    };
    assert_eq!(call(true, None).await.unwrap().status(), 401);
    assert_eq!(
        call(true, Some("Bearer wrong")).await.unwrap().status(),
        401
    );
    let ok = call(true, Some("Bearer admin-secret-token")).await.unwrap();
    assert_eq!(ok.status(), 200);
    // With admin_listen set, the public listener does not serve it, token or not.
    let public = call(false, Some("Bearer admin-secret-token"))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    h.shutdown().await;
}
