//! End to end: a request fails over from a dead, rate-limited, blackholed or stalled channel to
//! a healthy one before anything reaches the client; retries stay within the budget in an
//! outage; retry-after is honoured; and no fail-over path leaks an upstream connection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::ChannelConfig;
use sluice_sim::Scenario;
use sluice_test_support::{
    assert_upstream_settled, closed_port, openai_channel, request_id, with_fault, Harness,
    ROUTED_MODEL,
};
use std::time::{Duration, Instant};

const IDLE: usize = 4;

fn ask(prompt: &str) -> Value {
    json!({"model": ROUTED_MODEL, "max_tokens": 3,
        "messages": [{"role": "user", "content": prompt}]})
}

/// A relay whose only channels are `make(sim)`, with a small idle pool for the leak checks.
async fn relay_with(
    make: impl FnOnce(&sluice_sim::SimHandle) -> Vec<ChannelConfig> + 'static,
    tweak: impl FnOnce(&mut sluice::Config) + 'static,
) -> Harness {
    Harness::builder()
        .config(move |c, sim| {
            c.channels = make(sim);
            c.upstream.pool_max_idle_per_host = IDLE;
            c.routing.seed = Some(1);
            tweak(c);
        })
        .start()
        .await
}

fn prio(mut ch: ChannelConfig, p: i32) -> ChannelConfig {
    ch.priority = p;
    ch
}

/// Sends `n` requests one after another; returns (status, served upstream model) of each.
async fn send(h: &Harness, n: usize) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let resp = h
            .post("/v1/chat/completions", &ask(&format!("hi {i}")))
            .await;
        let status = resp.status().as_u16();
        let id = request_id(&resp);
        resp.bytes().await.unwrap();
        let served = if status == 200 {
            h.served_model(&id, ROUTED_MODEL).await
        } else {
            String::new()
        };
        out.push((status, served));
    }
    out
}

fn all_served_by(results: &[(u16, String)], model: &str) {
    for (status, m) in results {
        assert_eq!((*status, m.as_str()), (200, model), "{results:?}");
    }
}

#[tokio::test]
async fn fails_over_from_a_closed_port_to_a_healthy_channel() {
    let port = closed_port();
    let h = relay_with(
        move |sim| {
            let mut dead = prio(openai_channel(sim, "dead", "gpt-4o"), 1);
            dead.base_url = format!("http://127.0.0.1:{port}/v1");
            vec![dead, openai_channel(sim, "good", "gpt-4o-mini")]
        },
        |_| {},
    )
    .await;
    all_served_by(&send(&h, 8).await, "gpt-4o-mini");
    let dead = h.state.routes.channel_snapshot("dead").unwrap();
    assert_eq!(
        dead.faults, 5,
        "5 consecutive faults open the circuit; then no more tries"
    );
    assert_eq!(dead.breaker, sluice::routing::BreakerState::Open);
    assert_eq!(
        h.sim.stats().requests_total,
        8,
        "the healthy channel saw each request once"
    );
    let counters = h.state.monitor.ledger().counters();
    assert_eq!(
        counters.retries, 5,
        "each fault on the dead channel was retried once"
    );
    let metrics = h.state.monitor.render_prometheus();
    assert!(
        metrics.contains("sluice_upstream_errors_total{channel=\"dead\",status=\"connect\"} 5"),
        "{metrics}"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn fails_over_from_a_429_channel_and_cools_its_key() {
    let h = relay_with(
        |sim| {
            let limited = with_fault(
                openai_channel(sim, "limited", "gpt-4o"),
                "status=429,retry-after=30",
            );
            vec![prio(limited, 1), openai_channel(sim, "good", "gpt-4o-mini")]
        },
        |_| {},
    )
    .await;
    all_served_by(&send(&h, 5).await, "gpt-4o-mini");
    assert_eq!(
        h.sim.stats().faults_of("status=429"),
        1,
        "the key cools for retry-after: the channel is not asked again meanwhile"
    );
    let limited = h.state.routes.channel_snapshot("limited").unwrap();
    assert_eq!(limited.keys[0].state, "cooling");
    assert_eq!(
        limited.breaker,
        sluice::routing::BreakerState::Closed,
        "a rate limit is no fault"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_lone_rate_limited_channel_returns_its_429_and_retry_after() {
    let h = relay_with(
        |sim| {
            vec![with_fault(
                openai_channel(sim, "only", "gpt-4o"),
                "status=429,retry-after=30",
            )]
        },
        |_| {},
    )
    .await;
    let started = Instant::now();
    let resp = h.post("/v1/chat/completions", &ask("hi")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "30 s does not fit max_retry_wait: no wait"
    );
    assert_eq!(h.sim.stats().requests_total, 1);
    // While the key cools, the relay answers by itself, still a 429, with the wait left.
    let resp = h.post("/v1/chat/completions", &ask("hi")).await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((29..=30).contains(&wait), "{wait}");
    assert_eq!(h.sim.stats().requests_total, 1);
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn waits_out_a_short_retry_after_when_no_other_channel_is_left() {
    let h = relay_with(|sim| vec![openai_channel(sim, "only", "gpt-4o")], |_| {}).await;
    let scenario =
        Scenario::parse("[[rule]]\nrequests = 1\nfault = \"status=429,retry-after=1\"\n").unwrap();
    h.sim.set_scenario(Some(scenario));
    let started = Instant::now();
    let results = send(&h, 1).await;
    let took = started.elapsed();
    all_served_by(&results, "gpt-4o");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(h.sim.stats().requests_total, 2);
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn fails_over_from_blackholed_and_stalled_channels_on_the_first_byte_deadline() {
    for fault in ["blackhole", "stall-headers"] {
        let h = relay_with(
            move |sim| {
                let mut hole = prio(with_fault(openai_channel(sim, "hole", "gpt-4o"), fault), 1);
                hole.timeouts.first_byte = Some(Duration::from_millis(300));
                vec![hole, openai_channel(sim, "good", "gpt-4o-mini")]
            },
            |_| {},
        )
        .await;
        let started = Instant::now();
        all_served_by(&send(&h, 3).await, "gpt-4o-mini");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{fault}: {took:?}");
        assert_eq!(
            h.state.routes.channel_snapshot("hole").unwrap().faults,
            3,
            "{fault}"
        );
        assert_eq!(h.sim.stats().faults_of(fault), 3, "{fault}");
        assert_upstream_settled(&h, IDLE).await;
        h.shutdown().await;
    }
}

#[tokio::test]
async fn fails_over_from_resets_and_5xx_streaming_too() {
    let h = relay_with(
        |sim| {
            vec![
                prio(
                    with_fault(openai_channel(sim, "reset", "gpt-4o"), "reset"),
                    2,
                ),
                prio(
                    with_fault(openai_channel(sim, "broken", "gpt-4o"), "status=502"),
                    1,
                ),
                openai_channel(sim, "good", "gpt-4o-mini"),
            ]
        },
        |_| {},
    )
    .await;
    let mut body = ask("hi");
    body["stream"] = json!(true);
    let resp = h.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let (events, _) = sluice_test_support::read_sse(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let stats = h.sim.stats();
    assert_eq!(
        (stats.faults_of("reset"), stats.faults_of("status=502")),
        (1, 1)
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn retry_budget_caps_retries_in_a_total_outage() {
    const REQUESTS: u64 = 50;
    let h = relay_with(
        |sim| {
            (0..3)
                .map(|i| {
                    with_fault(
                        openai_channel(sim, &format!("down{i}"), "gpt-4o"),
                        "status=500",
                    )
                })
                .collect()
        },
        |c| {
            c.routing.retry_budget_ratio = 0.2;
            c.routing.retry_budget_min_per_sec = 0.5; // floor: 5 retries per 10 s window
                                                      // keep the breakers out of the way: this test is about the budget alone
            c.routing.breaker.consecutive_failures = 10_000;
            c.routing.breaker.min_requests = 10_000;
        },
    )
    .await;
    let results = send(&h, REQUESTS as usize).await;
    assert!(results.iter().all(|(s, _)| *s == 500), "{results:?}");
    let upstream = h.sim.stats().requests_total;
    let retries = upstream - REQUESTS;
    let budget = h.state.routes.snapshot().retry_budget;
    println!("outage: {REQUESTS} requests, {upstream} upstream attempts, {retries} retries (budget {budget:?}); without a budget: {}", REQUESTS * 3);
    assert!(
        retries <= 10,
        "0.2 x 50 requests = 10 retries at most, got {retries}"
    );
    assert!(
        retries >= 5,
        "the floor and the ratio allow some retries, got {retries}"
    );
    assert_eq!(budget.retries, retries);
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}
