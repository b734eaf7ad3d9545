//! One job's task: its runs, each counted in the ledger and caught when it panics, and for a
//! critical job the restarts with backoff.
//!
//! Owns: a job's state as the jobs list shows it (alive, running, restarts), the log line of
//! every run that ends, and the restart policy ([`restart_delay`]).
//! Must never: hold a job's ledger count between runs, restart a job once shutdown has begun,
//! or let a job's panic reach its task.

use super::JobStatus;
use crate::monitor::{Guard, Ledger};
use futures_util::FutureExt;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The wait before the first restart of a critical job; it doubles with each restart in a row.
pub const FIRST_RESTART: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
pub const MAX_RESTART: Duration = Duration::from_secs(60);
/// A run that lasted this long was healthy: the next restart waits [`FIRST_RESTART`] again.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// The wait before restart number `in_a_row` (1 for the first) of runs that each ended
/// within [`HEALTHY_RUN`]: 1 s, 2 s, 4 s, ... up to [`MAX_RESTART`].
pub fn restart_delay(in_a_row: u32) -> Duration {
    let doublings = in_a_row.saturating_sub(1).min(16);
    FIRST_RESTART
        .saturating_mul(1 << doublings)
        .min(MAX_RESTART)
}

/// A job's state, shared by its task and the jobs list.
pub(super) struct Job {
    pub(super) name: &'static str,
    critical: bool,
    /// Its task exists (from `spawn` until the task's future is dropped).
    alive: AtomicBool,
    running: AtomicBool,
    restarts: AtomicU64,
}

impl Job {
    pub(super) fn new(name: &'static str, critical: bool) -> Arc<Self> {
        Arc::new(Self {
            name,
            critical,
            alive: AtomicBool::new(true),
            running: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        })
    }

    pub(super) fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    pub(super) fn status(&self) -> JobStatus {
        JobStatus {
            name: self.name,
            critical: self.critical,
            running: self.running.load(Ordering::Acquire),
            restarts: self.restarts.load(Ordering::Acquire),
        }
    }
}

/// Lowers `alive` when the task's future is dropped: ended, aborted, or never polled.
struct Alive(Arc<Job>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
    }
}

/// One run of a job: `running` and the ledger's `background_jobs` for as long as it lasts.
struct Running<'a> {
    job: &'a Job,
    _counted: Guard,
}

impl<'a> Running<'a> {
    fn new(job: &'a Job, ledger: &Arc<Ledger>) -> Self {
        job.running.store(true, Ordering::Release);
        Self {
            job,
            _counted: ledger.background_job(),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.job.running.store(false, Ordering::Release);
    }
}

/// The task of one job: runs `make`'s future with a child of `root` until it ends; a critical
/// job is run again after [`restart_delay`] until `root` is cancelled.
pub(super) fn supervise<F, Fut>(
    job: Arc<Job>,
    ledger: Arc<Ledger>,
    root: CancellationToken,
    mut make: F,
) -> impl Future<Output = ()> + Send + 'static
where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Outside the async block, so that an abort before the first poll lowers it too.
    let alive = Alive(Arc::clone(&job));
    async move {
        let _alive = alive;
        let mut in_a_row = 0;
        loop {
            let started = Instant::now();
            let ended = {
                let _running = Running::new(&job, &ledger);
                let run = async { make(root.child_token()).await };
                AssertUnwindSafe(run).catch_unwind().await
            };
            let panic = ended.err();
            let next = if root.is_cancelled() {
                Next::Stop
            } else if !job.critical {
                Next::Done
            } else {
                in_a_row = if started.elapsed() >= HEALTHY_RUN {
                    1
                } else {
                    in_a_row + 1
                };
                Next::Restart(restart_delay(in_a_row))
            };
            log_end(job.name, panic.as_deref().map(panic_message), next);
            let Next::Restart(delay) = next else {
                return;
            };
            tokio::select! {
                () = root.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            job.restarts.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What follows the end of a run.
#[derive(Clone, Copy)]
enum Next {
    /// Shutdown has begun.
    Stop,
    /// A job that runs once.
    Done,
    /// A critical job, after this wait.
    Restart(Duration),
}

/// One line for each run that ends: quiet when it was asked to, an error when it panicked or
/// a critical job ended on its own.
fn log_end(job: &'static str, panic: Option<&str>, next: Next) {
    match (panic, next) {
        (None, Next::Stop) => tracing::debug!(job, "background job stopped"),
        (None, Next::Done) => tracing::info!(job, "background job finished"),
        (None, Next::Restart(delay)) => tracing::error!(
            job,
            ?delay,
            "critical background job ended before shutdown: restarting"
        ),
        (Some(panic), Next::Stop) => {
            tracing::error!(job, panic, "background job panicked while stopping")
        }
        (Some(panic), Next::Done) => {
            tracing::error!(job, panic, "background job panicked; not restarted")
        }
        (Some(panic), Next::Restart(delay)) => tracing::error!(
            job,
            panic,
            ?delay,
            "critical background job panicked: restarting"
        ),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}
