//! The one owner of background work (design.md §3 rule 4): every job that belongs to no request
//! (the monitor's sampler; the store's writer and spool replayer, credential refreshers, channel
//! probes and the task poller as they come) is started here, by name, and ends here.
//!
//! Owns: the jobs' tasks (one `JoinSet`, so none can be forgotten), their bound (`max_jobs`
//! running at once, one job per name), their count in the ledger (`background_jobs`, a guard
//! inside each run of a job), their cancellation tokens (children of one root), restarts of
//! critical jobs with backoff, the jobs list that health and `/metrics` show, and
//! [`Supervisor::shutdown`]: cancel every job, await them within the grace period, abort and
//! name what is left. Also the executor hyper runs its connection tasks on
//! ([`connection_executor`]), the only other place a task starts.
//! Must never: start a job per request or per task (one job serves them all), let a job run
//! uncounted, or leave one running after `shutdown` returns (or after it is dropped: dropping
//! the supervisor aborts every job).

mod job;

#[cfg(test)]
mod tests;

pub use job::{restart_delay, FIRST_RESTART, HEALTHY_RUN, MAX_RESTART};

use crate::monitor::Ledger;
use hyper_util::rt::TokioExecutor;
use job::Job;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How many jobs a relay runs at most: the sampler, the store's writer and spool replayer, one
/// refresher per credential kind, one prober, one task poller, with room to spare.
pub const MAX_JOBS: usize = 32;

/// Why a job was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    #[error("background job {name}: {max} jobs are running already, the most a relay runs")]
    Full { name: &'static str, max: usize },
    #[error("background job {0} is running already (one job per name)")]
    Duplicate(&'static str),
    #[error("background job {0}: the relay is shutting down")]
    ShutDown(&'static str),
}

/// One job as health and `/metrics` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub name: &'static str,
    /// Restarted with backoff when it ends or panics before shutdown.
    pub critical: bool,
    /// A run of the job is in progress (false while a critical job waits to restart, and once
    /// a job has ended).
    pub running: bool,
    /// Times a critical job was started again.
    pub restarts: u64,
}

/// What [`Supervisor::shutdown`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Jobs that ended within the grace period.
    pub stopped: Vec<&'static str>,
    /// Jobs still running when the grace period was over, aborted.
    pub aborted: Vec<&'static str>,
}

/// Starts, bounds, counts, restarts and stops the relay's background jobs.
pub struct Supervisor {
    ledger: Arc<Ledger>,
    max_jobs: usize,
    root: CancellationToken,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tasks: JoinSet<()>,
    /// The task of each job in `tasks`.
    names: HashMap<Id, &'static str>,
    /// Running jobs, and ended ones (shown as not running) until their slot is needed.
    jobs: Vec<Arc<Job>>,
    closed: bool,
}

impl Supervisor {
    /// A supervisor that runs at most `max_jobs` jobs at once, counted in `ledger`.
    pub fn new(ledger: Arc<Ledger>, max_jobs: usize) -> Self {
        Self {
            ledger,
            max_jobs,
            root: CancellationToken::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Starts a job that runs once: `job` gets a token that is cancelled at shutdown and should
    /// return soon after (flushing what it holds). Ending or panicking before shutdown is logged
    /// and shown in the jobs list; it is not restarted. Must be called within a tokio runtime.
    pub fn spawn<F, Fut>(&self, name: &'static str, job: F) -> Result<(), SupervisorError>
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut job = Some(job);
        self.start(name, false, move |cancel| {
            let run = job.take().map(|f| f(cancel));
            async move {
                if let Some(run) = run {
                    run.await;
                }
            }
        })
    }

    /// Starts a job that must keep running: each time it ends or panics before shutdown it is
    /// logged and started again (a fresh token, a fresh future from `job`) after
    /// [`restart_delay`], and its restarts are counted in the jobs list.
    pub fn spawn_critical<F, Fut>(&self, name: &'static str, job: F) -> Result<(), SupervisorError>
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start(name, true, job)
    }

    fn start<F, Fut>(
        &self,
        name: &'static str,
        critical: bool,
        make: F,
    ) -> Result<(), SupervisorError>
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut inner = self.lock();
        if inner.closed {
            return Err(SupervisorError::ShutDown(name));
        }
        inner.reap();
        if inner.jobs.iter().any(|j| j.name == name && j.alive()) {
            return Err(SupervisorError::Duplicate(name));
        }
        // An ended job gives its slot in the list to a new one, the same name first.
        if let Some(i) = inner.jobs.iter().position(|j| j.name == name) {
            inner.jobs.remove(i);
        }
        if inner.jobs.len() >= self.max_jobs {
            match inner.jobs.iter().position(|j| !j.alive()) {
                Some(i) => drop(inner.jobs.remove(i)),
                None => {
                    return Err(SupervisorError::Full {
                        name,
                        max: self.max_jobs,
                    })
                }
            }
        }
        let job = Job::new(name, critical);
        let run = job::supervise(
            Arc::clone(&job),
            Arc::clone(&self.ledger),
            self.root.clone(),
            make,
        );
        let id = inner.tasks.spawn(run).id();
        inner.names.insert(id, name);
        inner.jobs.push(job);
        tracing::debug!(job = name, critical, "background job started");
        Ok(())
    }

    /// Every job started and not yet replaced, in the order they were started.
    pub fn jobs(&self) -> Vec<JobStatus> {
        self.lock().jobs.iter().map(|j| j.status()).collect()
    }

    /// Cancels every job's token, waits up to `grace` for the jobs to end, aborts those left
    /// and waits for them to drop. Afterwards no job runs and none can be started. A second
    /// call returns at once with an empty report.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let (mut tasks, names) = {
            let mut inner = self.lock();
            inner.closed = true;
            inner.reap();
            (
                std::mem::take(&mut inner.tasks),
                std::mem::take(&mut inner.names),
            )
        };
        self.root.cancel();
        let name = |id: Id| names.get(&id).copied().unwrap_or("unknown");
        let deadline = Instant::now() + grace;
        let mut report = ShutdownReport::default();
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await {
                Ok(Some(Ok((id, ())))) => report.stopped.push(name(id)),
                // The job's own panics are caught inside its task; this one is the
                // supervisor's (its tracing subscriber, say).
                Ok(Some(Err(e))) => {
                    tracing::error!(job = name(e.id()), error = %e, "background job task failed");
                    report.stopped.push(name(e.id()));
                }
                Ok(None) => break,
                Err(_) => {
                    tasks.abort_all();
                    while let Some(ended) = tasks.join_next_with_id().await {
                        match ended {
                            // Ended on its own just before the abort.
                            Ok((id, ())) => report.stopped.push(name(id)),
                            Err(e) => report.aborted.push(name(e.id())),
                        }
                    }
                    tracing::warn!(
                        aborted = ?report.aborted,
                        ?grace,
                        "background jobs did not stop within the grace period: aborted"
                    );
                    break;
                }
            }
        }
        tracing::info!(stopped = ?report.stopped, "background jobs stopped");
        report
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Forgets the tasks of jobs that have ended (they were logged when they did).
    fn reap(&mut self) {
        while let Some(ended) = self.tasks.try_join_next_with_id() {
            let id = match ended {
                Ok((id, ())) => id,
                Err(e) => e.id(),
            };
            self.names.remove(&id);
        }
    }
}

impl Drop for Supervisor {
    /// Dropped without `shutdown` (a relay state built but never served): the jobs' tokens are
    /// cancelled and the `JoinSet` aborts their tasks.
    fn drop(&mut self) {
        self.root.cancel();
    }
}

/// The executor hyper runs its connection tasks on: the upstream client's (one per upstream
/// connection, which holds its ledger count and ends when the pool closes it) and the server's
/// HTTP/2 streams (each within one counted inbound connection). These tasks are owned by the
/// connections hyper holds, not by the supervisor: they are not background jobs.
#[expect(
    clippy::disallowed_methods,
    reason = "hyper's connection tasks: each lives and ends with one counted connection"
)]
pub fn connection_executor() -> TokioExecutor {
    TokioExecutor::new()
}
