//! The store wired into the running relay, on real SQLite and PostgreSQL: every request of a
//! store token yields exactly one usage row (streams, upstream errors, hang-ups at random
//! points), totals equal the ledger, quota holds under 50 parallel requests, tokens made through
//! the admin API or another process work at once, limits answer 429 with their headers, and a
//! PostgreSQL outage mid-load loses nothing while memory stays bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice::config::{PricesConfig, StoreConfig};
use sluice::store::usage::query::{UsageFilter, UsageQuery};
use sluice::store::usage::{Outcome, UsageSource};
use sluice::store::{Store, StoreStatus, TokenSpec};
use sluice_test_support::db::{pg_config, TcpProxy, TestPg, TestSqlite};
use sluice_test_support::{eventually, Harness};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);
const MODEL: &str = "gpt-4o-mini";

/// gpt-4o-mini: 1 cost unit per prompt token, 2 per output token, answers of at most 64.
fn prices() -> PricesConfig {
    toml::from_str(
        "[[models]]\nmatch = [\"gpt-4o-mini*\"]\ninput = 1.0\noutput = 2.0\nmax_output = 64\n",
    )
    .unwrap()
}

/// A relay in front of the simulator with `store` as its store.
async fn relay(store: StoreConfig) -> Harness {
    Harness::builder()
        .config(move |c, _| {
            c.store = Some(store);
            c.prices = prices();
            c.routing.max_attempts = 1;
        })
        .start()
        .await
}

fn store_of(h: &Harness) -> Store {
    h.state.metered.as_ref().expect("a store").store.clone()
}

async fn token(h: &Harness, spec: TokenSpec) -> (i64, String) {
    let new = store_of(h).create_token(spec).await.unwrap();
    (new.token.id, new.key.expose().to_owned())
}

fn named(name: &str) -> TokenSpec {
    TokenSpec {
        name: name.to_owned(),
        ..TokenSpec::default()
    }
}

fn chat(prompt: &str, stream: bool) -> Value {
    json!({
        "model": MODEL,
        "stream": stream,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
    })
}

async fn send(h: &Harness, key: &str, body: &Value) -> reqwest::Response {
    h.client
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("relay unreachable")
}

/// Ledger rows of a token.
async fn rows(store: &Store, token_id: i64) -> i64 {
    let filter = UsageFilter {
        token_id: Some(token_id),
        ..UsageFilter::default()
    };
    store.count_usage(&filter).await.unwrap_or(-1)
}

/// The ledger's cost sum for a token, and the token's committed total.
async fn ledger_and_total(store: &Store, token_id: i64) -> (i64, i64) {
    let q = UsageQuery {
        filter: UsageFilter {
            token_id: Some(token_id),
            ..UsageFilter::default()
        },
        group_by: Vec::new(),
    };
    let ledger = store
        .usage_summary(&q)
        .await
        .unwrap()
        .first()
        .map_or(0, |s| s.cost_units);
    let total = store
        .token_totals()
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == token_id)
        .map_or(0, |(_, used)| used);
    (ledger, total)
}

/// One request of the mixed load, by its number: answers, streams, upstream errors (before and
/// inside a stream) and client hang-ups at seeded points. Returns whether the client left early.
async fn mixed(h: &Harness, key: &str, i: usize) -> bool {
    let body = match i % 6 {
        0 => chat("hello", false),
        1 => chat("hello", true),
        2 => chat("<<sim:status=500>> hello", false),
        3 => chat("<<sim:cut=2>> hello", true),
        // A stream that stalls after a few events: the client gives up mid-stream.
        4 => chat("<<sim:stall-after=3>> hello", true),
        // A slow stream the client leaves at a seeded point.
        _ => chat("<<sim:drip=2ms>> hello", true),
    };
    let resp = send(h, key, &body).await;
    match i % 6 {
        4 | 5 => {
            let mut s = resp.bytes_stream();
            let leave_after = 1 + (i * 7919) % 5;
            for _ in 0..leave_after {
                if s.next().await.is_none() {
                    break;
                }
            }
            true
        }
        _ => {
            let _ = resp.bytes().await;
            false
        }
    }
}

/// N mixed requests, 32 at a time, on a fresh token: exactly N rows, the totals equal to the
/// ledger's sum, and every hang-up billed as an estimated client abort.
async fn exactly_once_under_load(config: StoreConfig, n: usize) {
    let h = relay(config).await;
    let store = store_of(&h);
    let (id, key) = token(&h, named("load")).await;
    let left = futures_util::stream::iter(0..n)
        .map(|i| mixed(&h, &key, i))
        .buffer_unordered(32)
        .fold(0usize, |acc, left| async move { acc + usize::from(left) })
        .await;
    eventually(WITHIN, "every request's row written", || {
        let store = store.clone();
        async move { rows(&store, id).await >= n as i64 }
    })
    .await;
    // Settled: nothing more arrives after the last row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rows(&store, id).await, n as i64, "one row per request");
    eventually(WITHIN, "the totals follow the ledger", || {
        let store = store.clone();
        async move {
            let (ledger, total) = ledger_and_total(&store, id).await;
            ledger == total && ledger > 0
        }
    })
    .await;
    let events = store
        .usage_events(
            &UsageFilter {
                token_id: Some(id),
                ..UsageFilter::default()
            },
            None,
            1000,
        )
        .await
        .unwrap();
    let aborts: Vec<_> = events
        .iter()
        .filter(|r| r.outcome == Outcome::ClientAbort)
        .collect();
    assert!(
        !aborts.is_empty() && aborts.len() <= left,
        "{} aborts for {left} hang-ups",
        aborts.len()
    );
    for a in &aborts {
        assert_eq!(a.usage_source, UsageSource::Estimated, "{a:?}");
        assert!(a.prompt_tokens > 0, "the prompt is billed: {a:?}");
    }
    assert!(
        events.iter().any(|r| r.outcome == Outcome::UpstreamError),
        "upstream errors are recorded too"
    );
    let ok = events.iter().filter(|r| r.outcome == Outcome::Ok).count();
    assert!(ok >= n / 6, "{ok} ok rows");
    let mut ids: Vec<_> = events.iter().map(|r| r.usage_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "usage ids are unique");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_request_is_recorded_exactly_once_under_mixed_load() {
    let db = TestSqlite::new();
    exactly_once_under_load(db.config(), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_request_is_recorded_exactly_once_under_mixed_load() {
    let Some(db) = TestPg::new() else { return };
    exactly_once_under_load(db.config(), 200).await;
}

/// 50 parallel requests (all in flight at once) on a token with room for 10 estimates: exactly
/// 10 are admitted (the documented bound adds only what answers cost beyond their estimates:
/// nothing here, as `max_tokens` caps them), the rest get 429 `insufficient_quota`, and the
/// spend stays within the quota.
async fn quota_holds_under_parallel_requests(config: StoreConfig) {
    let h = relay(config).await;
    // Slow answers: all 50 are in flight at once, none settled before the others are admitted.
    let body = chat("<<sim:delay=2s>> hello there", false);
    let bytes = serde_json::to_vec(&body).unwrap().len();
    let limits = &h.state.metered.as_ref().unwrap().limits;
    let cost = limits.prices().estimate(MODEL, bytes, Some(16), 0).cost;
    assert!(cost > 0);
    let quota = cost * 10 + cost / 2;
    let (id, key) = token(
        &h,
        TokenSpec {
            quota_limit: Some(quota),
            ..named("quota")
        },
    )
    .await;
    let answers = futures_util::future::join_all((0..50).map(|_| async {
        let r = send(&h, &key, &body).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or_default();
        (status, v)
    }))
    .await;
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(admitted, 10, "admitted on room for 10");
    for (s, v) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*s, 429, "{v}");
        assert_eq!(v["error"]["code"], "insufficient_quota", "{v}");
        assert_eq!(v["error"]["type"], "insufficient_quota", "{v}");
    }
    let store = store_of(&h);
    eventually(WITHIN, "all 50 rows written", || {
        let store = store.clone();
        async move { rows(&store, id).await == 50 }
    })
    .await;
    eventually(WITHIN, "the spend committed", || {
        let store = store.clone();
        async move {
            let (ledger, total) = ledger_and_total(&store, id).await;
            ledger == total && total > 0
        }
    })
    .await;
    let (_, spent) = ledger_and_total(&store, id).await;
    assert!(spent <= quota, "spent {spent} of {quota}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fifty_parallel_requests_on_room_for_ten_admit_at_most_ten() {
    let db = TestSqlite::new();
    quota_holds_under_parallel_requests(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fifty_parallel_requests_on_room_for_ten_admit_at_most_ten() {
    let Some(db) = TestPg::new() else { return };
    quota_holds_under_parallel_requests(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_made_by_the_admin_api_or_another_process_work_at_once() {
    let db = TestSqlite::new();
    let h = relay(db.config()).await;
    // The admin API: created, used, revoked, refused, all without waiting.
    let (s, t) = h
        .admin_json(
            reqwest::Method::POST,
            "/api/tokens",
            Some(json!({"name": "api", "models": ["gpt-4o*"]})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let key = t["key"].as_str().unwrap().to_owned();
    assert_eq!(send(&h, &key, &chat("hi", false)).await.status(), 200);
    let other = json!({"model": "claude-3-5-haiku-latest", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let r = send(&h, &key, &other).await;
    assert_eq!(r.status(), 403, "the model glob refuses other models");
    // `/v1/models` knows the store's token and lists only what its globs allow.
    let models = |key: String| {
        let url = h.url("/v1/models");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    };
    let r = models(key.clone()).await;
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|m| m.starts_with("gpt-4o")),
        "{ids:?}"
    );
    let (s, _) = h
        .admin_json(reqwest::Method::DELETE, "/api/tokens/api", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(send(&h, &key, &chat("hi", false)).await.status(), 401);
    assert_eq!(
        models(key.clone()).await.status(),
        401,
        "a revoked token lists nothing"
    );
    // Another process (the CLI) writes the store directly: the first request finds it with one
    // store read.
    let cli = Store::open(&db.config()).await.unwrap();
    let new = cli.create_token(named("cli")).await.unwrap();
    let r = send(&h, new.key.expose(), &chat("hi", false)).await;
    assert_eq!(r.status(), 200);
    // The config file's token still works, and its usage is recorded too.
    let r = h.post("/v1/chat/completions", &chat("hi", false)).await;
    assert_eq!(r.status(), 200);
    // The admin API shows the usage.
    eventually(WITHIN, "usage visible in the admin API", || async {
        let (s, v) = h
            .admin_json(reqwest::Method::GET, "/api/usage?group_by=token", None)
            .await;
        s == 200 && v["rows"].as_array().is_some_and(|a| a.len() >= 3)
    })
    .await;
    cli.close().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_their_headers_and_addresses_are_checked() {
    let db = TestSqlite::new();
    let h = relay(db.config()).await;
    let (_, key) = token(
        &h,
        TokenSpec {
            rpm: Some(2),
            ..named("rpm")
        },
    )
    .await;
    for _ in 0..2 {
        let r = send(&h, &key, &chat("hi", false)).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-ratelimit-remaining-requests"));
    }
    let r = send(&h, &key, &chat("hi", false)).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "2");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    // Anthropic clients get their own shape for the same refusal.
    let r = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-3-5-haiku-latest", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    // A token bound to another network: the test client (loopback) is refused.
    let (_, far) = token(
        &h,
        TokenSpec {
            allow_ips: Some(vec!["10.0.0.0/8".to_owned()]),
            ..named("far")
        },
    )
    .await;
    let r = send(&h, &far, &chat("hi", false)).await;
    assert_eq!(r.status(), 403);
    let (_, near) = token(
        &h,
        TokenSpec {
            allow_ips: Some(vec!["127.0.0.0/8".to_owned()]),
            ..named("near")
        },
    )
    .await;
    assert_eq!(send(&h, &near, &chat("hi", false)).await.status(), 200);
    // Health and metrics show the store.
    let (_, health) = h.health().await;
    assert_eq!(health["store"]["backend"], "sqlite", "{health}");
    let metrics = h.admin_get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("sluice_usage_queue_depth"), "{metrics}");
    assert!(
        metrics.contains("sluice_store_status{status=\"ok\"} 1"),
        "{metrics}"
    );
    h.shutdown().await;
}

/// RSS of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// PostgreSQL cut away (a TCP proxy resets every connection) for `cut` mid-load: requests of a
/// metered token keep flowing, the spool grows, then drains to 0 once the database is back,
/// with every row there once and the totals equal to the ledger; RSS stays bounded.
async fn outage(cut: Duration) {
    let Some(db) = TestPg::new() else { return };
    let proxy = TcpProxy::start(db.addr);
    let config = pg_config(&db.url_via(proxy.addr), db.dir.path());
    let h = relay(config).await;
    let store = store_of(&h);
    let (id, key) = token(
        &h,
        TokenSpec {
            quota_limit: Some(1_000_000_000),
            ..named("outage")
        },
    )
    .await;
    let sink = h.state.sink().unwrap().clone();
    let rss_before = rss_kib();
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let (hr, kr) = (&h, key.as_str());
    let load = async {
        let until = tokio::time::Instant::now() + cut + Duration::from_secs(2);
        // Bounded in count and time.
        for round in 0..10_000usize {
            if tokio::time::Instant::now() >= until {
                break;
            }
            let batch = futures_util::future::join_all((0..8).map(|i| async move {
                let r = send(hr, kr, &chat("hello", (round + i) % 2 == 0)).await;
                let ok = r.status() == 200;
                let _ = r.bytes().await;
                ok
            }))
            .await;
            sent.fetch_add(batch.len(), std::sync::atomic::Ordering::Relaxed);
            failed.fetch_add(
                batch.iter().filter(|ok| !**ok).count(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    };
    let outage = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.cut();
        eventually(WITHIN, "the spool grows while the database is away", || {
            let s = sink.snapshot();
            async move { s.spool_bytes > 0 }
        })
        .await;
        tokio::time::sleep(cut).await;
        proxy.restore();
    };
    tokio::join!(load, outage);
    let sent = sent.into_inner();
    assert_eq!(
        failed.into_inner(),
        0,
        "requests kept flowing for a known token"
    );
    eventually(Duration::from_secs(60), "the spool drains to 0", || {
        let s = sink.snapshot();
        async move { s.spool_bytes == 0 && s.status == StoreStatus::Ok && s.queue_depth == 0 }
    })
    .await;
    eventually(WITHIN, "every row there", || {
        let store = store.clone();
        async move { rows(&store, id).await >= sent as i64 }
    })
    .await;
    assert_eq!(
        rows(&store, id).await,
        sent as i64,
        "no row lost or doubled"
    );
    eventually(WITHIN, "the totals follow the ledger", || {
        let store = store.clone();
        async move {
            let (ledger, total) = ledger_and_total(&store, id).await;
            ledger == total
        }
    })
    .await;
    let grown = rss_kib().saturating_sub(rss_before);
    eprintln!(
        "outage {cut:?}: {sent} requests, spool drained, RSS grew {grown} KiB, {:?}",
        sink.snapshot()
    );
    assert!(grown < 128 * 1024, "RSS grew {grown} KiB during the outage");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_of_three_seconds_mid_load_loses_nothing() {
    outage(Duration::from_secs(3)).await;
}

/// The 30 s outage: in the soak set (`SLUICE_SOAK=1`, `.ci/run soak`), as it takes 40 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_of_thirty_seconds_mid_load_loses_nothing() {
    if std::env::var("SLUICE_SOAK").map_or(true, |v| v != "1") {
        eprintln!("skipped: the 30 s outage runs with SLUICE_SOAK=1 (nightly/soak set)");
        return;
    }
    outage(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_fails_metered_tokens_closed_and_serves_them_again_once_drained() {
    let db = TestSqlite::new();
    let mut config = db.config();
    config.usage.spool_max_bytes = 8 * 1024;
    config.usage.spool_segment_bytes = 4 * 1024;
    let h = relay(config).await;
    let (_, metered) = token(
        &h,
        TokenSpec {
            quota_limit: Some(1_000_000_000),
            ..named("metered")
        },
    )
    .await;
    let (_, free) = token(&h, named("free")).await;
    let sink = h.state.sink().unwrap().clone();
    // The database refuses writes: batches go to the (small) spool until it is full.
    let lock = db.lock_writes().await;
    let mut refused = None;
    for _ in 0..200 {
        let r = send(&h, &metered, &chat("hello", false)).await;
        if r.status() == 503 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = refused.expect("a 503 once the spool is full");
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "service_unavailable", "{v}");
    assert!(sink.snapshot().spool_full);
    // A token without a quota spends nothing unrecorded: it is still served.
    assert_eq!(send(&h, &free, &chat("hello", false)).await.status(), 200);
    drop(lock);
    eventually(WITHIN, "the spool drains", || {
        let s = sink.snapshot();
        async move { s.spool_bytes == 0 && !s.spool_full }
    })
    .await;
    assert_eq!(
        send(&h, &metered, &chat("hello", false)).await.status(),
        200
    );
    h.shutdown().await;
}
