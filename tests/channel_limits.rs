//! End to end: a channel's own rate limits (`rpm`, `tpm` per `rate_window`). A channel at its
//! limit is skipped for the next candidate (no failure, no breaker); when every channel of the
//! model is at its limit the client gets 429 `rate_limit_exceeded` with `retry-after` in its
//! own error shape; a stored channel's limits go through the admin API; `tpm` settles on the
//! real count; and with Redis, two relays on one store share one channel's `rpm`.
//!
//! Redis: `REDIS_URL`, else 127.0.0.1:6379; PostgreSQL as `sluice_test_support::db::TestPg`
//! finds it. Without them the Redis test is skipped with a printed reason (a failure under
//! `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::{ChannelConfig, Secret};
use sluice_test_support::db::{TestPg, TestSqlite, TEST_SECRET_HEX};
use sluice_test_support::{eventually, openai_channel, request_id, Harness, ROUTED_MODEL};
use std::sync::Once;
use std::time::Duration;

/// Every test sets the channel-key secret first (one test stores channels), before any relay
/// of this binary reads the environment.
fn secret_key() {
    static SET: Once = Once::new();
    SET.call_once(|| std::env::set_var("SLUICE_SECRET_KEY", TEST_SECRET_HEX));
}

fn ask() -> Value {
    json!({"model": ROUTED_MODEL, "max_tokens": 3,
        "messages": [{"role": "user", "content": "hi"}]})
}

fn limited(
    mut ch: ChannelConfig,
    rpm: Option<u32>,
    tpm: Option<u64>,
    window: &str,
) -> ChannelConfig {
    ch.rpm = rpm;
    ch.tpm = tpm;
    ch.rate_window = Some(humantime::parse_duration(window).unwrap());
    ch
}

async fn relay_with(
    make: impl FnOnce(&sluice_sim::SimHandle) -> Vec<ChannelConfig> + 'static,
) -> Harness {
    secret_key();
    Harness::builder()
        .config(move |c, sim| {
            c.channels = make(sim);
            c.routing.seed = Some(1);
        })
        .start()
        .await
}

/// The health snapshot of channel `name`.
async fn channel(h: &Harness, name: &str) -> Value {
    let (_, v) = h.health().await;
    v["channels"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no channel {name}: {v}"))
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn requests_past_the_first_channels_limit_go_to_the_second() {
    let h = relay_with(|sim| {
        let mut a = limited(openai_channel(sim, "a", "gpt-4o"), Some(3), None, "10s");
        a.priority = 1;
        vec![a, openai_channel(sim, "b", "gpt-4o-mini")]
    })
    .await;
    let mut served = Vec::new();
    for _ in 0..6 {
        let resp = h.post("/v1/chat/completions", &ask()).await;
        assert_eq!(resp.status(), 200);
        let id = request_id(&resp);
        served.push(h.served_model(&id, ROUTED_MODEL).await);
    }
    assert_eq!(
        served,
        [
            "gpt-4o",
            "gpt-4o",
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-mini",
            "gpt-4o-mini"
        ],
        "the first three on `a` (its limit), the rest on `b`"
    );
    let a = channel(&h, "a").await;
    let limits = &a["rate_limits"];
    assert_eq!(limits["rpm"], 3, "{a}");
    assert_eq!(limits["window_ms"], 10_000, "{a}");
    assert_eq!(limits["requests_remaining"], 0, "{a}");
    // The first skip is remembered: the later requests pass `a` by without asking it.
    assert!(limits["skipped"].as_u64().unwrap() >= 1, "{a}");
    assert!(limits["limited_for_ms"].as_u64().unwrap() > 0, "{a}");
    // Skipping is no failure: `a` saw three attempts and no fault.
    assert_eq!(
        (
            a["attempts"].as_u64(),
            a["faults"].as_u64(),
            a["breaker"].as_str()
        ),
        (Some(3), Some(0), Some("closed")),
        "{a}"
    );
    assert_eq!(channel(&h, "b").await["rate_limits"], Value::Null);
    assert_eq!(h.sim.stats().requests_total, 6, "no upstream asked twice");
    h.shutdown().await;
}

#[tokio::test]
async fn every_channel_at_its_limit_is_a_429_with_retry_after_in_the_clients_shape() {
    let h = relay_with(|sim| {
        vec![
            limited(openai_channel(sim, "a", "gpt-4o"), Some(1), None, "20s"),
            limited(openai_channel(sim, "b", "gpt-4o-mini"), Some(1), None, "8s"),
        ]
    })
    .await;
    for _ in 0..2 {
        assert_eq!(h.post("/v1/chat/completions", &ask()).await.status(), 200);
    }
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 429);
    let wait = retry_after(&resp);
    assert!(
        (7..=8).contains(&wait),
        "the soonest channel's wait: {wait}"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at its rate limit"),
        "{v}"
    );
    let resp = h.post_anthropic("/v1/messages", &ask()).await;
    assert_eq!(resp.status(), 429);
    assert!((7..=8).contains(&retry_after(&resp)));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error")),
        "{v}"
    );
    assert_eq!(
        h.sim.stats().requests_total,
        2,
        "no upstream asked past a limit"
    );
    for name in ["a", "b"] {
        let c = channel(&h, name).await;
        assert_eq!(c["consecutive_failures"], 0, "{c}");
        assert!(c["rate_limits"]["skipped"].as_u64().unwrap() >= 1, "{c}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn tpm_takes_the_estimate_and_settles_on_the_real_count() {
    let h = relay_with(|sim| {
        vec![limited(
            openai_channel(sim, "t", "gpt-4o"),
            None,
            Some(1000),
            "24h",
        )]
    })
    .await;
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let used = v["usage"]["prompt_tokens"].as_u64().unwrap()
        + v["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(used > 0, "{v}");
    // The record settles when the request's work ends: just after the answer.
    eventually(
        Duration::from_secs(5),
        "tpm settled on the real count",
        || async {
            let left = channel(&h, "t").await["rate_limits"]["tokens_remaining"]
                .as_u64()
                .unwrap();
            // A day's window refills about one token in 86 s.
            (1000 - used..=1000 - used + 1).contains(&left)
        },
    )
    .await;
    let c = channel(&h, "t").await;
    assert_eq!(c["rate_limits"]["tpm"], 1000, "{c}");
    assert_eq!(c["rate_limits"]["rpm"], Value::Null, "{c}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_channels_limits_go_through_the_admin_api() {
    secret_key();
    let db = TestSqlite::new();
    let store = db.config();
    let h = Harness::builder()
        .config(move |c, _| c.store = Some(store))
        .start()
        .await;
    let base = h.sim.base_url(sluice_sim::Provider::OpenAi);
    let (s, v) = h
        .admin_json(
            reqwest::Method::POST,
            "/api/channels",
            Some(json!({
                "name": "stored", "provider": "openai", "base_url": base,
                "keys": ["sk-stored-key"], "models": ["stored-model"],
                "model_mapping": {"stored-model": "gpt-4o-mini"},
                "rpm": 2, "tpm": 5000, "rate_window": "30s",
            })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["rpm"].as_u64(), v["tpm"].as_u64()),
        (Some(2), Some(5000)),
        "{v}"
    );
    assert_eq!(v["rate_window"], "30s", "{v}");
    let (s, v) = h
        .admin_json(
            reqwest::Method::POST,
            "/api/channels",
            Some(json!({
                "name": "zero", "provider": "openai", "base_url": base,
                "keys": ["sk-zero-key"], "models": ["z"], "rpm": 0,
            })),
        )
        .await;
    assert_eq!(s, 400, "rpm 0 refused: {v}");
    let body = json!({"model": "stored-model", "messages": [{"role": "user", "content": "hi"}]});
    eventually(
        Duration::from_secs(20),
        "the stored channel serves",
        || async { h.post("/v1/chat/completions", &body).await.status() == 200 },
    )
    .await;
    let resp = h.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200, "the second of two per 30 s");
    let resp = h.post("/v1/chat/completions", &body).await;
    assert_eq!(
        resp.status(),
        429,
        "the third: its only channel is at its limit"
    );
    assert!(retry_after(&resp) >= 1);
    let c = channel(&h, "stored").await;
    assert_eq!(
        (
            c["rate_limits"]["rpm"].as_u64(),
            c["rate_limits"]["window_ms"].as_u64()
        ),
        (Some(2), Some(30_000)),
        "{c}"
    );
    // Lifted through the admin API: the rebuilt channel has no limit.
    let (s, v) = h
        .admin_json(
            reqwest::Method::PATCH,
            "/api/channels/stored",
            Some(json!({"rpm": null, "tpm": null})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["rpm"].clone(), v["tpm"].clone()),
        (Value::Null, Value::Null),
        "{v}"
    );
    eventually(Duration::from_secs(20), "the limit is lifted", || async {
        h.post("/v1/chat/completions", &body).await.status() == 200
    })
    .await;
    assert_eq!(channel(&h, "stored").await["rate_limits"], Value::Null);
    h.shutdown().await;
}

async fn instance(db: &TestPg, redis: &str, prefix: &str) -> Harness {
    let (mut store, redis, prefix) = (db.config(), redis.to_owned(), prefix.to_owned());
    store.redis_url = Some(Secret::new(redis));
    store.cluster.redis_prefix = prefix;
    store.cluster.heartbeat = Duration::from_millis(300);
    store.cluster.instance_ttl = Duration::from_secs(2);
    let h = Harness::builder()
        .config(move |c, sim| {
            c.store = Some(store);
            c.channels = vec![limited(
                openai_channel(sim, "one", "gpt-4o"),
                Some(4),
                None,
                "20s",
            )];
        })
        .start()
        .await;
    eventually(Duration::from_secs(10), "redis up", || async {
        h.health().await.1["cluster"]["redis"] == "up"
    })
    .await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_share_one_channels_rpm_through_redis() {
    secret_key();
    let Some(shared) = sluice_test_support::redis::SharedRedis::new() else {
        return;
    };
    let redis = shared.url.clone();
    let Some(db) = TestPg::new() else { return };
    let prefix = format!(
        "sluice-test-chlimit-{}-{:08x}:",
        std::process::id(),
        rand::random::<u32>()
    );
    let a = instance(&db, &redis, &prefix).await;
    let b = instance(&db, &redis, &prefix).await;
    let started = tokio::time::Instant::now();
    let (mut ok, mut refused) = ([0u32; 2], 0u32);
    for i in 0..16 {
        let (side, h) = if i % 2 == 0 { (0, &a) } else { (1, &b) };
        let resp = h.post("/v1/chat/completions", &ask()).await;
        match resp.status().as_u16() {
            200 => ok[side] += 1,
            429 => {
                assert!(retry_after(&resp) >= 1);
                refused += 1;
            }
            s => panic!("status {s}"),
        }
    }
    // The bound: L + L*T/W + N*c, c = max(1, ceil(4 * 0.05)) = 1, N = 2.
    let refill = 4.0 * started.elapsed().as_secs_f64() / 20.0;
    let accepted = ok[0] + ok[1];
    println!("accepted {ok:?}, refused {refused}, refill {refill:.2}");
    assert!(
        f64::from(accepted) <= 4.0 + refill + 2.0,
        "one shared limit, not one per relay: {accepted}"
    );
    assert!(accepted >= 2, "{accepted}");
    assert!(ok[0] >= 1 && ok[1] >= 1, "both relays served: {ok:?}");
    for h in [&a, &b] {
        let (_, v) = h.health().await;
        assert_eq!(v["cluster"]["redis_fallbacks"], 0, "{}", v["cluster"]);
    }
    a.shutdown().await;
    b.shutdown().await;
}
