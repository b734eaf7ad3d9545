//! The supervisor on a paused clock: counting, bounds, shutdown within the grace, aborts,
//! panics, restarts with backoff.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

fn supervisor(max_jobs: usize) -> (Supervisor, Arc<Ledger>) {
    let ledger = Ledger::new(&[]);
    (Supervisor::new(Arc::clone(&ledger), max_jobs), ledger)
}

fn counted(ledger: &Ledger) -> u64 {
    ledger.counts().background_jobs
}

/// Lets every task that can run do so (the paused clock moves 1 ms).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn status(name: &'static str, critical: bool, running: bool, restarts: u64) -> JobStatus {
    JobStatus {
        name,
        critical,
        running,
        restarts,
    }
}

async fn until_cancelled(cancel: CancellationToken) {
    cancel.cancelled().await;
}

#[tokio::test(start_paused = true)]
async fn a_job_is_counted_while_it_runs_and_flushes_on_shutdown() {
    let (s, ledger) = supervisor(4);
    let flushed = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flushed);
    s.spawn("writer", move |cancel| async move {
        cancel.cancelled().await;
        // Flushing takes a while, within the grace period.
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.store(true, Ordering::SeqCst);
    })
    .unwrap();
    settle().await;
    assert_eq!(counted(&ledger), 1);
    assert_eq!(s.jobs(), vec![status("writer", false, true, 0)]);

    let report = s.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        report,
        ShutdownReport {
            stopped: vec!["writer"],
            aborted: vec![],
        }
    );
    assert!(flushed.load(Ordering::SeqCst), "the job finished its flush");
    assert_eq!(counted(&ledger), 0);
    assert_eq!(s.jobs(), vec![status("writer", false, false, 0)]);
    assert_eq!(
        s.spawn("late", until_cancelled),
        Err(SupervisorError::ShutDown("late"))
    );
    assert_eq!(
        s.shutdown(Duration::from_secs(1)).await,
        ShutdownReport::default()
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_that_ignores_its_token_is_aborted_after_the_grace_period() {
    let (s, ledger) = supervisor(4);
    s.spawn("stubborn", |_cancel| std::future::pending())
        .unwrap();
    s.spawn("polite", until_cancelled).unwrap();
    settle().await;
    assert_eq!(counted(&ledger), 2);
    let started = Instant::now();
    let report = s.shutdown(Duration::from_secs(5)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(report.stopped, vec!["polite"]);
    assert_eq!(report.aborted, vec!["stubborn"]);
    // The aborted job's count fell with its future.
    assert_eq!(counted(&ledger), 0);
    assert!(s.jobs().iter().all(|j| !j.running), "{:?}", s.jobs());
}

#[tokio::test(start_paused = true)]
async fn jobs_are_bounded_and_unique_by_name() {
    let (s, ledger) = supervisor(2);
    s.spawn("a", until_cancelled).unwrap();
    assert_eq!(
        s.spawn("a", until_cancelled),
        Err(SupervisorError::Duplicate("a"))
    );
    s.spawn("b", |_| async {}).unwrap();
    // "b" has not run yet: its slot is taken.
    assert_eq!(
        s.spawn("c", until_cancelled),
        Err(SupervisorError::Full { name: "c", max: 2 })
    );
    settle().await;
    // "b" finished: it stays in the list until its slot is needed.
    assert_eq!(
        s.jobs(),
        vec![status("a", false, true, 0), status("b", false, false, 0)]
    );
    s.spawn("c", until_cancelled).unwrap();
    settle().await;
    assert_eq!(
        s.jobs(),
        vec![status("a", false, true, 0), status("c", false, true, 0)]
    );
    assert_eq!(counted(&ledger), 2);
    let report = s.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.aborted, Vec::<&str>::new());
    assert_eq!(counted(&ledger), 0);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_is_caught_and_not_restarted() {
    let (s, ledger) = supervisor(4);
    s.spawn("once", |_| async { panic!("planted by the test") })
        .unwrap();
    s.spawn("neighbour", until_cancelled).unwrap();
    settle().await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        s.jobs(),
        vec![
            status("once", false, false, 0),
            status("neighbour", false, true, 0)
        ]
    );
    assert_eq!(counted(&ledger), 1, "only the neighbour runs");
    // A job of that name may start again.
    s.spawn("once", until_cancelled).unwrap();
    let report = s.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.stopped.len(), 2);
    assert_eq!(counted(&ledger), 0);
}

#[tokio::test(start_paused = true)]
async fn a_critical_job_is_restarted_with_backoff() {
    let (s, ledger) = supervisor(4);
    let runs = Arc::new(AtomicU32::new(0));
    let r = Arc::clone(&runs);
    s.spawn_critical("flaky", move |cancel| {
        let run = r.fetch_add(1, Ordering::SeqCst);
        async move {
            match run {
                0 | 1 => panic!("run {run} fails"),
                // Ends without a panic: restarted too.
                2 => {}
                _ => cancel.cancelled().await,
            }
        }
    })
    .unwrap();
    let t0 = Instant::now();
    // Runs start at 0 s, then 1 s, 3 s (1 + 2) and 7 s (3 + 4) later.
    let at = |secs: f64, runs_then: u32, restarts: u64| {
        let runs = Arc::clone(&runs);
        let s = &s;
        async move {
            tokio::time::sleep_until(t0 + Duration::from_secs_f64(secs)).await;
            assert_eq!(runs.load(Ordering::SeqCst), runs_then, "runs at {secs} s");
            assert_eq!(s.jobs()[0].restarts, restarts, "restarts at {secs} s");
        }
    };
    at(0.5, 1, 0).await;
    assert!(!s.jobs()[0].running, "waiting to restart");
    assert_eq!(counted(&ledger), 0, "not counted between runs");
    at(1.1, 2, 1).await;
    at(2.9, 2, 1).await;
    at(3.1, 3, 2).await;
    at(6.9, 3, 2).await;
    at(7.1, 4, 3).await;
    assert_eq!(s.jobs(), vec![status("flaky", true, true, 3)]);
    assert_eq!(counted(&ledger), 1);
    let report = s.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.stopped, vec!["flaky"]);
    assert_eq!(counted(&ledger), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 4, "no restart after shutdown");
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_critical_job_waiting_to_restart() {
    let (s, ledger) = supervisor(4);
    s.spawn_critical("short", |_| async {}).unwrap();
    settle().await;
    let started = Instant::now();
    let report = s.shutdown(Duration::from_secs(30)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(report.stopped, vec!["short"]);
    assert_eq!(s.jobs(), vec![status("short", true, false, 0)]);
    assert_eq!(counted(&ledger), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_supervisor_aborts_its_jobs() {
    let (s, ledger) = supervisor(4);
    s.spawn("stubborn", |_| std::future::pending()).unwrap();
    settle().await;
    assert_eq!(counted(&ledger), 1);
    drop(s);
    settle().await;
    assert_eq!(counted(&ledger), 0);
}

#[test]
fn restart_delays_double_up_to_a_minute() {
    let secs: Vec<u64> = (1..=9).map(|n| restart_delay(n).as_secs()).collect();
    assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(restart_delay(0), job::FIRST_RESTART);
    assert_eq!(restart_delay(u32::MAX), job::MAX_RESTART);
}

#[tokio::test(start_paused = true)]
async fn a_healthy_run_starts_the_backoff_again() {
    let (s, _ledger) = supervisor(4);
    let runs = Arc::new(AtomicU32::new(0));
    let r = Arc::clone(&runs);
    s.spawn_critical("long", move |_| {
        let run = r.fetch_add(1, Ordering::SeqCst);
        async move {
            // Runs 0 and 1 fail at once; run 2 lasts a healthy 2 minutes; run 3 fails at once.
            if run == 2 {
                tokio::time::sleep(Duration::from_secs(120)).await;
            } else if run > 3 {
                std::future::pending::<()>().await;
            }
        }
    })
    .unwrap();
    let t0 = Instant::now();
    // Run 1 at 1 s, run 2 at 3 s (ends at 123 s), run 3 at 124 s (1 s: reset), run 4 at 126 s.
    tokio::time::sleep_until(t0 + Duration::from_millis(123_500)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    tokio::time::sleep_until(t0 + Duration::from_millis(124_500)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    tokio::time::sleep_until(t0 + Duration::from_millis(126_500)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    s.shutdown(Duration::from_secs(1)).await;
}
