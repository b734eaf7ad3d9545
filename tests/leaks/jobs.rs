//! Background jobs: a relay that started and stopped leaves no job and no task behind.

use super::{warm, SETTLE};
use sluice::monitor::procfs;
use sluice_test_support::leak::{self};
use sluice_test_support::{eventually, Harness};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn live_tasks() -> u64 {
    procfs::runtime()
        .expect("a tokio runtime to read")
        .live_tasks
}

#[test]
fn relay_start_and_shutdown_leaves_no_job_and_no_task() {
    // The relay's jobs (its sampler, the Vertex AI token refresher of the demo's Vertex
    // channel, and one registered after start as the store's writer will be) run while it serves, are visible by name, and are cancelled, awaited (the writer gets
    // to flush) and gone once `shutdown` returns; then no task of the relay or the simulator is
    // left on the runtime.
    leak::run(|| async {
        let tasks_before = live_tasks();
        let fds_before = procfs::open_fds().expect("/proc/self/fd");
        // Warmed up: every main route answered, streaming and not.
        let (h, _) = warm(|_, _| {}).await;
        let flushed = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flushed);
        h.state
            .supervisor
            .spawn("test_writer", move |cancel| async move {
                cancel.cancelled().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                f.store(true, Ordering::SeqCst);
            })
            .unwrap();
        let ledger = h.state.monitor.ledger().clone();
        // Counted from its first poll, on a worker thread.
        eventually(
            SETTLE,
            "the sampler, the refresher and the writer counted",
            || {
                let n = ledger.counts().background_jobs;
                async move { n == 3 }
            },
        )
        .await;
        let (_, health) = h.health().await;
        let names: Vec<(&str, bool)> = health["jobs"]
            .as_array()
            .expect("a jobs list in health")
            .iter()
            .map(|j| (j["name"].as_str().unwrap(), j["running"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("sampler", true),
                (sluice::providers::vertex::REFRESHER, true),
                ("test_writer", true)
            ]
        );
        let metrics = h.admin_get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("sluice_background_job_running{job=\"sampler\"} 1")
                && metrics.contains("sluice_background_jobs 3"),
            "{metrics}"
        );

        let Harness {
            sim, relay, state, ..
        } = h;
        relay.shutdown().await;
        // `serve` has returned: every job was cancelled and awaited.
        assert_eq!(
            ledger.counts().background_jobs,
            0,
            "{:?}",
            state.supervisor.jobs()
        );
        assert!(
            flushed.load(Ordering::SeqCst),
            "the writer flushed before it ended"
        );
        assert!(state.supervisor.jobs().iter().all(|j| !j.running));
        assert!(
            state.supervisor.spawn("late", |_| async {}).is_err(),
            "no job starts after shutdown"
        );
        drop(state);
        sim.shutdown().await;
        eventually(
            SETTLE,
            "live tasks back to before the relay started",
            || {
                let n = live_tasks();
                async move { n <= tasks_before }
            },
        )
        .await;
        eventually(SETTLE, "open fds back to before the relay started", || {
            let n = procfs::open_fds().unwrap_or(u64::MAX);
            async move { n <= fds_before }
        })
        .await;
        eprintln!(
            "leak check: relay gone: live tasks {} (before {tasks_before}), open fds {} \
             (before {fds_before}), background jobs 0",
            live_tasks(),
            procfs::open_fds().unwrap_or_default(),
        );
    });
}

#[test]
fn store_jobs_stop_on_shutdown_and_leave_no_task_fd_or_connection() {
    // A relay with a SQLite store runs its five store jobs (usage writer, revision poll, token
    // refresher, routes refresher, instance heartbeat) and the video task poller beside the sampler and the harness's Vertex AI token
    // refresher; after traffic and shutdown none is
    // running, the ledger counts no job, every usage record was flushed, and live tasks and fds
    // (database connections, spool files) are back to before the relay started.
    leak::run(|| async {
        let tasks_before = live_tasks();
        let fds_before = procfs::open_fds().expect("/proc/self/fd");
        let db = sluice_test_support::db::TestSqlite::new();
        let store = db.config();
        let (h, _) = warm(move |c, _| c.store = Some(store)).await;
        let ledger = h.state.monitor.ledger().clone();
        eventually(
            SETTLE,
            "the sampler, the Vertex refresher, the five store jobs and the task poller counted",
            || {
                let n = ledger.counts().background_jobs;
                async move { n == 8 }
            },
        )
        .await;
        let sink = h.state.sink().expect("a store").clone();
        let Harness {
            sim, relay, state, ..
        } = h;
        relay.shutdown().await;
        assert_eq!(
            ledger.counts().background_jobs,
            0,
            "{:?}",
            state.supervisor.jobs()
        );
        assert!(state.supervisor.jobs().iter().all(|j| !j.running));
        let snap = sink.snapshot();
        assert_eq!(snap.queue_depth, 0, "flushed at shutdown: {snap:?}");
        assert!(snap.rows_written > 0, "the warm-up was recorded: {snap:?}");
        drop((state, sink));
        sim.shutdown().await;
        eventually(
            SETTLE,
            "live tasks back to before the relay started",
            || {
                let n = live_tasks();
                async move { n <= tasks_before }
            },
        )
        .await;
        eventually(SETTLE, "open fds back to before the relay started", || {
            let n = procfs::open_fds().unwrap_or(u64::MAX);
            async move { n <= fds_before }
        })
        .await;
        drop(db);
    });
}
