//! Shared rate limits on a real Redis, two "instances" in one process (two links, two sets of
//! shares, one key prefix): one bucket between them within the documented bound, refusals
//! remembered locally, tokens settled on the real count, and each instance's share while Redis
//! is cut off (a TCP proxy), back to the shared bucket once it returns.
//!
//! Redis: `REDIS_URL`, else 127.0.0.1:6379; without one the tests are skipped with a printed
//! reason (a failure under `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::cluster::link::RedisLink;
use sluice::cluster::rate::{Scope, SharedRates};
use sluice::config::Secret;
use sluice_test_support::db::TcpProxy;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The shared Redis (skipped, or failed under `CI=true`, when it does not answer).
fn redis_addr() -> Option<SocketAddr> {
    sluice_test_support::redis::SharedRedis::new().map(|r| r.addr())
}

struct Instance {
    link: Arc<RedisLink>,
    rates: Arc<SharedRates>,
    live: Arc<AtomicU32>,
    cancel: CancellationToken,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Instance {
    async fn start(addr: SocketAddr, prefix: &str, chunk: f64) -> Self {
        let url = Secret::new(format!("redis://{addr}/0"));
        let link = Arc::new(
            RedisLink::new(&url, Duration::from_millis(250), Duration::from_millis(100)).unwrap(),
        );
        let live = Arc::new(AtomicU32::new(1));
        let rates = Arc::new(SharedRates::new(
            link.clone(),
            prefix,
            chunk,
            Duration::from_millis(50),
            live.clone(),
        ));
        let cancel = CancellationToken::new();
        #[allow(
            clippy::disallowed_methods,
            reason = "a test's own jobs, joined at the end"
        )]
        let jobs = vec![
            tokio::spawn(link.clone().run(|_| async { Ok(()) }, cancel.clone())),
            tokio::spawn(rates.clone().run_prefetch(cancel.clone())),
        ];
        let me = Self {
            link,
            rates,
            live,
            cancel,
            jobs,
        };
        me.until_up(true).await;
        me
    }

    async fn until_up(&self, up: bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.link.is_up() != up {
            assert!(Instant::now() < deadline, "link never became up={up}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        for j in self.jobs {
            j.await.unwrap();
        }
    }
}

fn prefix() -> String {
    format!(
        "sluice-test-{}-{:08x}:",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_bucket_within_the_bound() {
    let Some(addr) = redis_addr() else { return };
    let p = prefix();
    let (a, b) = (
        Instance::start(addr, &p, 0.05).await,
        Instance::start(addr, &p, 0.05).await,
    );
    let (limit, window) = (200u32, Duration::from_secs(20));
    let chunk = 10.0; // ceil(200 * 0.05)
    let started = Instant::now();
    let mut accepted = 0u32;
    for i in 0..600 {
        let side = if i % 2 == 0 { &a } else { &b };
        if side
            .rates
            .requests(Scope::Token(7), nz(limit), window)
            .await
            .is_ok()
        {
            accepted += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let refill = f64::from(limit) * elapsed / window.as_secs_f64();
    let (high, low) = (
        f64::from(limit) + refill + 2.0 * chunk,
        f64::from(limit) + refill - 2.0 * chunk,
    );
    println!("accepted {accepted} of 600 in {elapsed:.2}s; bound [{low:.1}, {high:.1}]");
    assert!(
        f64::from(accepted) <= high,
        "accepted {accepted} > {high:.1}"
    );
    assert!(f64::from(accepted) >= low, "accepted {accepted} < {low:.1}");
    assert_eq!(
        a.rates.fallbacks() + b.rates.fallbacks(),
        0,
        "redis was up throughout"
    );
    // Most requests spent a local chunk: far fewer waited on Redis than were admitted.
    let waits = a.rates.waits() + b.rates.waits();
    println!("requests that waited on redis: {waits}");
    assert!(
        waits * 3 < u64::from(accepted),
        "{waits} waits for {accepted} admitted"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_remembered_until_the_bucket_refills() {
    let Some(addr) = redis_addr() else { return };
    let a = Instance::start(addr, &prefix(), 0.05).await;
    let window = Duration::from_secs(2);
    for _ in 0..4 {
        a.rates
            .requests(Scope::Token(1), nz(4), window)
            .await
            .unwrap();
    }
    let refused = a
        .rates
        .requests(Scope::Token(1), nz(4), window)
        .await
        .unwrap_err();
    assert!(
        refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_millis(500),
        "one request back after 0.5 s: {:?}",
        refused.retry_after
    );
    let waits = a.rates.waits();
    for _ in 0..50 {
        assert!(a
            .rates
            .requests(Scope::Token(1), nz(4), window)
            .await
            .is_err());
    }
    assert_eq!(
        a.rates.waits(),
        waits,
        "refused locally, without asking redis again"
    );
    tokio::time::sleep(refused.retry_after + Duration::from_millis(50)).await;
    a.rates
        .requests(Scope::Token(1), nz(4), window)
        .await
        .expect("served again once the bucket refilled");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_settle_on_the_real_count_and_a_debt_is_paid() {
    let Some(addr) = redis_addr() else { return };
    let p = prefix();
    let (a, b) = (
        Instance::start(addr, &p, 0.05).await,
        Instance::start(addr, &p, 0.05).await,
    );
    let window = Duration::from_secs(600);
    // 1,000 tokens per 10 minutes (refill is negligible here): estimates of 100, real 50.
    let mut spent = 0u64;
    let mut admitted = 0;
    for i in 0..40 {
        let side = if i % 2 == 0 { &a } else { &b };
        match side.rates.tokens(Scope::Token(3), 1000, window, 100).await {
            Ok((hold, _)) => {
                hold.settle(50);
                spent += 50;
                admitted += 1;
            }
            Err(_) => break,
        }
    }
    println!("admitted {admitted} requests, {spent} tokens");
    // Given back estimates stay with the instance that took them: each holds at most one chunk.
    assert!(spent <= 1000 + 2 * 100, "{spent}");
    assert!(
        admitted >= 10,
        "the estimates' excess came back: {admitted}"
    );
    // A longer answer than its estimate leaves a debt the instance pays before it admits again.
    let c = Instance::start(addr, &prefix(), 0.05).await;
    let (hold, _) = c
        .rates
        .tokens(Scope::Token(4), 1000, window, 100)
        .await
        .unwrap();
    hold.settle(1000);
    assert!(
        c.rates
            .tokens(Scope::Token(4), 1000, window, 100)
            .await
            .is_err(),
        "the bucket paid for the long answer"
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_instance_takes_its_share_then_shares_again() {
    let Some(addr) = redis_addr() else { return };
    let proxy = TcpProxy::start(addr);
    let a = Instance::start(proxy.addr, &prefix(), 0.05).await;
    a.live.store(3, Ordering::Relaxed);
    proxy.cut();
    let window = Duration::from_secs(600);
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..100 {
        if a.rates
            .requests(Scope::Token(9), nz(60), window)
            .await
            .is_ok()
        {
            accepted += 1;
        }
    }
    let took = started.elapsed();
    assert_eq!(accepted, 20, "60 per window over 3 live instances");
    assert!(a.rates.fallbacks() >= 100);
    assert!(!a.link.is_up(), "health says redis is down");
    // No request waited long on a dead link: 100 decisions, each bounded by redis_wait at most.
    println!("100 decisions without redis in {took:?}");
    assert!(took < Duration::from_millis(100 * 50 + 1000), "{took:?}");
    proxy.restore();
    a.until_up(true).await;
    let before = a.rates.fallbacks();
    let mut shared = 0;
    for _ in 0..10 {
        if a.rates
            .requests(Scope::Token(9), nz(60), window)
            .await
            .is_ok()
        {
            shared += 1;
        }
    }
    assert_eq!(a.rates.fallbacks(), before, "back on the shared bucket");
    assert_eq!(shared, 10, "the shared bucket still had room");
    a.stop().await;
}
