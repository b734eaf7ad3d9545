//! Leak regressions for the store's background work: the usage writer (with its spool and
//! replay), the revision poll and the token refresher, run through traffic and an outage,
//! then cancelled, must leave no live task, no open fd (database connections, spool files)
//! and no TCP connection behind. One test in its own binary: fds are process-wide.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the test is the supervisor of the store's jobs"
)]

use sluice::config::StoreConfig;
use sluice::limits::TokenTable;
use sluice::monitor::procfs;
use sluice::store::usage::{self, query::UsageFilter, UsageRecord};
use sluice::store::{Store, StoreStatus, TokenSpec};
use sluice_test_support::db::{pg_config, test_secret, TcpProxy, TestPg, TestSqlite};
use sluice_test_support::eventually;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WITHIN: Duration = Duration::from_secs(20);

fn counts() -> (u64, u64) {
    (
        procfs::runtime().map_or(u64::MAX, |r| r.live_tasks),
        procfs::open_fds().unwrap_or(u64::MAX),
    )
}

/// Runs the store's jobs through traffic and an outage (`cut` starts it, `heal` ends it),
/// cancels them, and requires live tasks and fds back at their baseline.
async fn jobs_come_back<C, H>(config: StoreConfig, cut: C, heal: H)
where
    C: AsyncFnOnce() -> Box<dyn std::any::Any + Send>,
    H: FnOnce(Box<dyn std::any::Any + Send>),
{
    let before = counts();
    let before_fds = fd_targets();
    {
        let store = Store::open_with(&config, Some(test_secret()))
            .await
            .unwrap();
        let table = TokenTable::load(store.clone(), &config).await.unwrap();
        let (sink, writer) = usage::pipeline(&store, &config, Some(table.clone())).unwrap();
        let cancel = CancellationToken::new();
        let jobs = vec![
            tokio::spawn(writer.run(cancel.clone())),
            tokio::spawn(store.clone().run_revision_poll(
                Duration::from_millis(50),
                true,
                cancel.clone(),
            )),
            tokio::spawn(table.clone().run_refresher(cancel.clone())),
        ];
        let t = store
            .create_token(TokenSpec {
                name: "leak".into(),
                ..TokenSpec::default()
            })
            .await
            .unwrap();
        let submit = |n: usize| {
            for _ in 0..n {
                let mut r = UsageRecord::new("r", "chat", "m");
                r.token_id = Some(t.token.id);
                sink.submit(r);
            }
        };
        submit(300);
        let outage = cut().await;
        submit(300);
        eventually(WITHIN, "down and spooling", || async {
            let s = sink.snapshot();
            s.status == StoreStatus::Down && s.spool_bytes > 0
        })
        .await;
        heal(outage);
        for i in 0..10 {
            store
                .create_token(TokenSpec {
                    name: format!("n{i}"),
                    ..TokenSpec::default()
                })
                .await
                .unwrap();
        }
        submit(300);
        eventually(WITHIN, "every record written, spool empty", || async {
            sink.snapshot().spool_bytes == 0
                && store.count_usage(&UsageFilter::default()).await.unwrap() == 900
        })
        .await;
        eventually(WITHIN, "the refresher saw the new tokens", || {
            let n = table.len();
            async move { n == 11 }
        })
        .await;
        cancel.cancel();
        for job in jobs {
            tokio::time::timeout(WITHIN, job)
                .await
                .expect("job ends on cancel")
                .unwrap();
        }
        store.close().await;
    }
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let now = counts();
        if now.0 <= before.0 && now.1 <= before.1 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "not back at the baseline within {WITHIN:?}: live tasks {} (baseline {}), \
                 open fds {} (baseline {}); fds now: {:?}, at the baseline: {:?}",
                now.0,
                before.0,
                now.1,
                before.1,
                fd_targets(),
                before_fds
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What each open fd is, for the failure report.
fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `f` on a runtime of its own, shut down (its threads and fds gone) before returning.
fn on_own_runtime(f: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(f);
    rt.shutdown_timeout(WITHIN);
}

#[test]
fn store_jobs_leave_no_task_fd_or_connection_behind() {
    // SQLite: the outage is a held write lock.
    let db = std::sync::Arc::new(TestSqlite::new());
    let held = db.clone();
    on_own_runtime(jobs_come_back(
        db.config(),
        async move || Box::new(held.lock_writes().await) as Box<dyn std::any::Any + Send>,
        drop,
    ));

    // PostgreSQL: the outage is a proxy that resets every connection.
    let Some(pg) = TestPg::new() else { return };
    let proxy = std::sync::Arc::new(TcpProxy::start(pg.addr));
    let config = pg_config(&pg.url_via(proxy.addr), pg.dir.path());
    let (p1, p2) = (proxy.clone(), proxy.clone());
    on_own_runtime(jobs_come_back(
        config,
        async move || {
            p1.cut();
            Box::new(()) as Box<dyn std::any::Any + Send>
        },
        move |_| p2.restore(),
    ));
}
