//! The usage write path on real databases: every record exactly once, through a full queue,
//! a locked SQLite, a PostgreSQL cut away by a proxy, a crash and a shutdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::config::{OnSpoolFull, StoreConfig};
use sluice::store::usage::query::UsageFilter;
use sluice::store::usage::{self, spool::Spool, Outcome, UsageRecord, UsageSource};
use sluice::store::{stats::StoreStats, Store, StoreStatus, TokenSpec};
use sluice_test_support::db::{pg_config, test_secret, TcpProxy, TestPg, TestSqlite};
use sluice_test_support::eventually;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WITHIN: Duration = Duration::from_secs(20);

fn record(token: i64, i: usize) -> UsageRecord {
    let mut r = UsageRecord::new(&format!("client-{}", i % 7), "chat", "gpt-4o");
    r.token_id = Some(token);
    r.channel = Some("main".into());
    r.cost_units = (i % 13) as i64 + 1;
    r.prompt_tokens = 20;
    r.completion_tokens = (i % 5) as u64;
    r.outcome = Outcome::Ok;
    r.usage_source = UsageSource::Upstream;
    r
}

async fn token(store: &Store) -> i64 {
    store
        .create_token(TokenSpec {
            name: format!("t{}", rand::random::<u32>()),
            ..TokenSpec::default()
        })
        .await
        .unwrap()
        .token
        .id
}

/// The ledger holds exactly `n` rows, no duplicates, and the token's totals are their sum.
async fn assert_exact(store: &Store, token: i64, n: usize, cost: i64) {
    let rows = store.count_usage(&UsageFilter::default()).await.unwrap();
    assert_eq!(rows, n as i64, "ledger rows");
    let t = store.get_token(token).await.unwrap();
    assert_eq!(
        (t.requests, t.used_units),
        (n as i64, cost),
        "token totals = the ledger's sum"
    );
}

struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    #[allow(
        clippy::disallowed_methods,
        reason = "tests run the writer as the supervisor will"
    )]
    fn start(writer: usage::UsageWriter) -> Self {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(writer.run(cancel.clone()));
        Self { cancel, task }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("writer stops")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_are_written_exactly_once() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let (sink, writer) = usage::pipeline(&store, &db.config(), None).unwrap();
    let running = Running::start(writer);
    let mut cost = 0;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let sink = sink.clone();
        let records: Vec<UsageRecord> = (0..250).map(|i| record(t, w * 1000 + i)).collect();
        cost += records.iter().map(|r| r.cost_units).sum::<i64>();
        #[allow(clippy::disallowed_methods, reason = "concurrent clients in a test")]
        tasks.push(tokio::spawn(async move {
            for r in records {
                sink.submit(r);
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    eventually(WITHIN, "all 2000 rows written", || async {
        store.count_usage(&UsageFilter::default()).await.unwrap() == 2000
    })
    .await;
    running.stop().await;
    assert_exact(&store, t, 2000, cost).await;
    let s = sink.snapshot();
    assert_eq!(
        (s.rows_written, s.records_dropped, s.queue_depth),
        (2000, 0, 0)
    );
    assert_eq!(s.status, StoreStatus::Ok);
    assert!(
        s.batches_written < 2000,
        "batched: {} batches",
        s.batches_written
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_overflows_to_the_spool_and_drains() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let mut config = db.config();
    config.usage.queue_capacity = 8;
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let records: Vec<UsageRecord> = (0..100).map(|i| record(t, i)).collect();
    let cost = records.iter().map(|r| r.cost_units).sum();
    // The writer is not running yet: the queue takes 8, the spool the rest.
    for r in records {
        sink.submit(r);
    }
    let s = sink.snapshot();
    assert_eq!((s.queue_depth, s.records_spooled), (8, 92));
    assert!(s.spool_bytes > 0);
    let running = Running::start(writer);
    eventually(WITHIN, "spool drained and every row written", || async {
        sink.snapshot().spool_bytes == 0
            && store.count_usage(&UsageFilter::default()).await.unwrap() == 100
    })
    .await;
    running.stop().await;
    assert_exact(&store, t, 100, cost).await;
    assert_eq!(sink.snapshot().records_replayed, 92);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_spools_then_drains_exactly_once() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let (sink, writer) = usage::pipeline(&store, &db.config(), None).unwrap();
    let running = Running::start(writer);
    let mut cost = 0;
    let mut submit = |from: usize, to: usize| {
        for i in from..to {
            let r = record(t, i);
            cost += r.cost_units;
            sink.submit(r);
        }
    };
    submit(0, 100);
    eventually(WITHIN, "first rows written", || async {
        store.count_usage(&UsageFilter::default()).await.unwrap() == 100
    })
    .await;

    let lock = db.lock_writes().await;
    submit(100, 400);
    eventually(WITHIN, "the store reports down and spools", || async {
        let s = sink.snapshot();
        s.status == StoreStatus::Down && s.spool_bytes > 0
    })
    .await;
    submit(400, 700);
    let during = sink.snapshot();
    assert!(during.write_failures > 0);
    assert!(during.queue_depth <= during.queue_capacity);
    drop(lock);

    eventually(WITHIN, "spool drained, every row written", || async {
        let s = sink.snapshot();
        s.spool_bytes == 0
            && s.status == StoreStatus::Ok
            && store.count_usage(&UsageFilter::default()).await.unwrap() == 700
    })
    .await;
    running.stop().await;
    assert_exact(&store, t, 700, cost).await;
    assert_eq!(sink.snapshot().records_dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_spools_then_drains_exactly_once() {
    let Some(pg) = TestPg::new() else { return };
    let proxy = TcpProxy::start(pg.addr);
    let config = pg_config(&pg.url_via(proxy.addr), pg.dir.path());
    let store = Store::open_with(&config, Some(test_secret()))
        .await
        .unwrap();
    let direct = pg.store().await;
    let t = token(&store).await;
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let running = Running::start(writer);
    let mut cost = 0;
    let mut n = 0;
    let mut submit = |count: usize| {
        for _ in 0..count {
            let r = record(t, n);
            n += 1;
            cost += r.cost_units;
            sink.submit(r);
        }
    };
    submit(200);
    eventually(WITHIN, "first rows written", || async {
        direct.count_usage(&UsageFilter::default()).await.unwrap() == 200
    })
    .await;

    proxy.cut();
    submit(300);
    eventually(WITHIN, "the store reports down and spools", || async {
        let s = sink.snapshot();
        s.status == StoreStatus::Down && s.spool_bytes > 0
    })
    .await;
    submit(300);
    let (_, refused) = proxy.counts();
    assert!(sink.snapshot().write_failures > 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(proxy.counts().1 >= refused, "the writer kept probing");
    proxy.restore();

    eventually(WITHIN, "spool drained, every row written", || async {
        let s = sink.snapshot();
        s.spool_bytes == 0 && direct.count_usage(&UsageFilter::default()).await.unwrap() == 800
    })
    .await;
    running.stop().await;
    assert_exact(&direct, t, 800, cost).await;
    store.close().await;
    direct.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_to_the_database_or_else_the_spool() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let mut config = db.config();
    config.usage.batch_interval = Duration::from_secs(3600);
    config.usage.batch_rows = 5000;
    // Batches wait for an hour: only the shutdown flush can write these.
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let running = Running::start(writer);
    for i in 0..300 {
        sink.submit(record(t, i));
    }
    running.stop().await;
    assert_eq!(
        store.count_usage(&UsageFilter::default()).await.unwrap(),
        300
    );

    // Now with the database locked: the flush goes to the spool, and a restart replays it.
    config.usage.shutdown_flush = Duration::from_millis(500);
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let running = Running::start(writer);
    let lock = db.lock_writes().await;
    for i in 300..450 {
        sink.submit(record(t, i));
    }
    running.stop().await;
    assert_eq!(sink.snapshot().records_spooled, 150);
    drop(lock);
    config.usage.batch_interval = Duration::from_millis(20);
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let running = Running::start(writer);
    // Replayed: the rows committed, then their segment removed (a stop between the two leaves
    // the segment for the next start, which replays it without effect: the crash window).
    eventually(WITHIN, "the spool of the last run replayed", || async {
        store.count_usage(&UsageFilter::default()).await.unwrap() == 450
            && sink.snapshot().spool_bytes == 0
    })
    .await;
    running.stop().await;
    assert_eq!(
        store.count_usage(&UsageFilter::default()).await.unwrap(),
        450
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_commit_never_double_charges_on_replay() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let config = db.config();
    let records: Vec<UsageRecord> = (0..250).map(|i| record(t, i)).collect();
    let cost: i64 = records.iter().map(|r| r.cost_units).sum();
    // The crash window: a batch committed while its copy is still in the spool.
    store.write_usage(&records[..200], 0).await.unwrap();
    let spool = Spool::open(
        &config.spool_dir(),
        1 << 30,
        1 << 24,
        Arc::new(StoreStats::default()),
    )
    .unwrap();
    spool.append(&records).unwrap();
    spool.sync().unwrap();
    drop(spool);
    let (sink, writer) = usage::pipeline(&store, &config, None).unwrap();
    let running = Running::start(writer);
    eventually(WITHIN, "replayed", || async {
        sink.snapshot().spool_bytes == 0
    })
    .await;
    running.stop().await;
    assert_exact(&store, t, 250, cost).await;
    let s = sink.snapshot();
    assert_eq!((s.rows_written, s.rows_duplicate), (50, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_fails_metered_tokens_closed_and_counts_what_it_lost() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let t = token(&store).await;
    let mut config: StoreConfig = db.config();
    config.usage.queue_capacity = 1;
    config.usage.spool_max_bytes = 8_000;
    config.usage.spool_segment_bytes = 4_000;
    let (sink, _writer) = usage::pipeline(&store, &config, None).unwrap();
    assert!(!sink.reject_metered());
    for i in 0..100 {
        sink.submit(record(t, i));
    }
    let s = sink.snapshot();
    assert!(s.spool_full && sink.reject_metered());
    assert!(s.spool_bytes <= 8_000, "bounded: {}", s.spool_bytes);
    assert!(s.records_dropped > 0);
    assert_eq!(
        s.records_spooled + s.records_dropped + s.queue_depth as u64,
        100
    );
    config.usage.on_spool_full = OnSpoolFull::Accept;
    let (accepting, _w) = usage::pipeline(&store, &config, None).unwrap();
    assert!(accepting.spool_full() && !accepting.reject_metered());
}
