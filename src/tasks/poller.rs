//! The poller: one supervised job that polls every pending task.
//!
//! Owns: the rounds (sweep the tasks past their deadline to `expired`, take the due tasks under
//! a lease, poll them with at most `video.poll_concurrency` in flight inside this one future,
//! each poll under its deadline with its body read bounded, write each result by
//! compare-and-set), the pace (`pace`: each provider's least interval, backoff with jitter after
//! failed polls, the upstream's `retry-after` and poll-after hints), the one settlement of a
//! task a write of this poller ended, the on-demand refresh, the callback reports and the other
//! writes (a client's cancel) the video front hands it, and the store's task counts it refreshes for the monitor every few seconds.
//! Must never: run one job or task per video task, hold a task it has not leased (or lost by a
//! compare-and-set), settle a task a write of its own did not end, or let a poll outlive its
//! deadline.

mod pace;
mod poll;

#[cfg(test)]
mod tests;

use crate::config::{ProviderKind, VideoConfig};
use crate::limits::PriceTable;
use crate::providers::vertex::Credentials;
use crate::providers::video::{video_api_for, PollReport, VideoApi};
use crate::routing::Routes;
use crate::store::{now_ms, Store, UsageSink};
use crate::tasks::gauges::{PollErrorKind, VideoGauges};
use crate::tasks::{billing, Task, TaskFailure, TaskState};
use crate::upstream::Upstream;
use futures_util::StreamExt;
use pace::Pace;
use poll::Polled;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The supervisor's name of the job.
pub const JOB: &str = "task_poller";

/// The longest sleep between two rounds.
pub const IDLE: Duration = Duration::from_secs(1);

/// How often the store's task counts are read for the monitor.
pub const COUNT_EVERY: Duration = Duration::from_secs(5);

/// How many times a callback's report is tried against a task another writer changed.
const REPORT_TRIES: usize = 3;

/// The video API of a provider kind (`video_api_for`, or a fake in tests).
pub type ApiLookup = Arc<dyn Fn(ProviderKind) -> Option<&'static dyn VideoApi> + Send + Sync>;

/// What the poller works with (all shared with the rest of the relay).
pub struct PollerParts {
    pub store: Store,
    pub routes: Arc<Routes>,
    pub upstream: Upstream,
    pub credentials: Arc<Credentials>,
    /// Where settlements go.
    pub sink: UsageSink,
    pub prices: Arc<PriceTable>,
    pub config: VideoConfig,
    pub gauges: Arc<VideoGauges>,
}

/// The task poller of one relay instance.
pub struct Poller {
    store: Store,
    routes: Arc<Routes>,
    upstream: Upstream,
    credentials: Arc<Credentials>,
    sink: UsageSink,
    prices: Arc<PriceTable>,
    config: VideoConfig,
    gauges: Arc<VideoGauges>,
    apis: ApiLookup,
    /// This instance's lease owner name: host, process and a random part.
    instance: String,
}

/// How a write went.
#[derive(Debug)]
enum Written {
    /// Stored, as this task (its new version).
    Done(Box<Task>),
    /// Another writer came first (or the task had ended): nothing written.
    Lost,
    /// The store failed.
    Failed,
}

impl Poller {
    pub fn new(parts: PollerParts) -> Self {
        Self {
            store: parts.store,
            routes: parts.routes,
            upstream: parts.upstream,
            credentials: parts.credentials,
            sink: parts.sink,
            prices: parts.prices,
            config: parts.config,
            gauges: parts.gauges,
            apis: Arc::new(video_api_for),
            instance: instance_id(),
        }
    }

    /// The same poller with another video API lookup (tests: a fake API).
    pub fn with_apis(mut self, apis: ApiLookup) -> Self {
        self.apis = apis;
        self
    }

    /// The same poller under another lease owner name (tests: two instances).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn gauges(&self) -> &Arc<VideoGauges> {
        &self.gauges
    }

    /// The job: rounds until `cancel`, which ends it at once (polls in flight are dropped;
    /// their tasks' leases lapse and any instance takes them again).
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut counted_at: Option<tokio::time::Instant> = None;
        loop {
            let wait = tokio::select! {
                () = cancel.cancelled() => return,
                wait = self.round() => wait,
            };
            if counted_at.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = self.count() => {}
                }
                counted_at = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round: the deadline sweep, then the due tasks taken and polled. Returns how long
    /// to sleep before the next: until the soonest task this round wrote is due, at most
    /// [`IDLE`]; none when the batch was full (more are due).
    pub async fn round(&self) -> Duration {
        let batch = u32::try_from(self.config.poll_batch).unwrap_or(u32::MAX);
        let now = now_ms();
        self.sweep(now, batch).await;
        let taken = match self
            .store
            .take_due_tasks(&self.instance, now, self.config.lease, batch)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(target: "sluice::video", error = %e, "cannot take due tasks");
                return IDLE;
            }
        };
        let full = taken.len() >= batch as usize;
        let soonest = futures_util::stream::iter(taken)
            .map(|task| self.poll_and_write(task))
            .buffer_unordered(self.config.poll_concurrency.max(1))
            .fold(None::<i64>, |soonest, next| async move {
                match (soonest, next) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .await;
        if full {
            return Duration::ZERO;
        }
        soonest.map_or(IDLE, |at| {
            let ms = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
            Duration::from_millis(ms).min(IDLE)
        })
    }

    /// Expires up to `limit` pending tasks past their deadline (and settles each one this
    /// instance's write ended).
    async fn sweep(&self, now: i64, limit: u32) {
        let overdue = match self.store.overdue_tasks(now, limit).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(target: "sluice::video", error = %e, "cannot read overdue tasks");
                return;
            }
        };
        for task in overdue {
            let failure = TaskFailure::new(
                "expired",
                "the task did not end before its deadline; its charge is refunded",
            );
            let next = pace::ended(&task, TaskState::Expired, failure, now);
            if let Written::Done(_) = self.write(next).await {
                self.gauges.expired();
            }
        }
    }

    /// Reads the store's task counts for the monitor.
    pub async fn count(&self) {
        let now = now_ms();
        match self.store.task_counts(now).await {
            Ok(counts) => self.gauges.set_counts(counts, now),
            Err(e) => {
                tracing::debug!(target: "sluice::video", error = %e, "cannot count tasks")
            }
        }
    }

    /// Polls a taken task and writes what it found; its next poll time if it is still
    /// pending.
    async fn poll_and_write(&self, task: Task) -> Option<i64> {
        let next = self.polled(&task).await;
        match self.write(next).await {
            Written::Done(t) if !t.state.is_terminal() => Some(t.next_poll_at),
            Written::Done(_) | Written::Lost | Written::Failed => None,
        }
    }

    /// The task as one poll leaves it (not yet written).
    async fn polled(&self, task: &Task) -> Task {
        let pace = self.pace_of(task.provider);
        let jitter = 1.0 + rand::random_range(-pace::JITTER..=pace::JITTER);
        let now = || now_ms();
        match self.poll(task).await {
            Polled::Report(r) => pace::reported(task, &r, now(), &pace, jitter),
            Polled::Failed { kind, retry_after } => {
                self.gauges.poll_error(kind);
                pace::failed(task, retry_after, now(), &pace, jitter)
            }
            Polled::Gone(why) => {
                self.gauges.poll_error(PollErrorKind::ChannelGone);
                let failure = TaskFailure::new("channel_gone", why);
                pace::ended(task, TaskState::Failed, failure, now())
            }
        }
    }

    /// The pace of a provider's tasks: `video.poll_intervals` for its kind when set, else the
    /// later of `video.poll_interval` and the provider's own least interval; with callbacks,
    /// `callback_poll_factor` times that.
    fn pace_of(&self, kind: ProviderKind) -> Pace {
        let api = (self.apis)(kind);
        let interval = match self.config.poll_intervals.get(kind.as_str()) {
            Some(d) => **d,
            None => api.map_or(self.config.poll_interval, |a| {
                a.min_poll_interval().max(self.config.poll_interval)
            }),
        };
        let callbacks =
            self.config.callback_base_url.is_some() && api.is_some_and(|a| a.takes_callback());
        let interval = if callbacks {
            interval.saturating_mul(self.config.callback_poll_factor)
        } else {
            interval
        };
        Pace {
            interval,
            max_interval: self.config.max_poll_interval.max(interval),
            result_ttl: self.config.result_ttl,
        }
    }

    /// Writes `next` by compare-and-set on the version it was read at; when that write ended
    /// the task, its settlement goes to the usage sink (only here, only by this writer).
    async fn write(&self, mut next: Task) -> Written {
        match self.store.update_task(&next).await {
            Ok(Some(version)) => {
                next.version = version;
                if next.state.is_terminal() {
                    if let Some(record) = billing::settlement(&next, &self.prices) {
                        self.sink.submit(record);
                    }
                    self.gauges.settled();
                }
                Written::Done(Box::new(next))
            }
            Ok(None) => Written::Lost,
            Err(e) => {
                tracing::warn!(target: "sluice::video", task = %next.id, error = %e, "cannot write a task");
                Written::Failed
            }
        }
    }

    /// Writes `next` (a task read from the store and changed: a client's cancel, say) by
    /// compare-and-set, releasing its lease; when this write ended the task, settles it (the
    /// one settlement). The task as written, or `None` when another writer came first, the
    /// stored task had ended, or the store failed.
    pub async fn commit(&self, next: Task) -> Option<Task> {
        match self.write(pace::released(next)).await {
            Written::Done(t) => Some(*t),
            Written::Lost | Written::Failed => None,
        }
    }

    /// When a task created now on `kind` is first polled: one interval (jittered) from `now`.
    pub fn first_poll_at(&self, kind: ProviderKind, now: i64) -> i64 {
        let pace = self.pace_of(kind);
        let jitter = 1.0 + rand::random_range(-pace::JITTER..=pace::JITTER);
        let wait = pace.interval.mul_f64(jitter);
        now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
    }

    /// Polls `task` now (a client's refresh), by the same poll and compare-and-set as a round;
    /// the task as stored afterwards (as given if the store cannot be read). Rate-limited per
    /// task: a task written (polled) less than `video.refresh_interval` ago, or ended, is
    /// answered as given, without a poll.
    pub async fn refresh(&self, task: Task) -> Task {
        let fresh = now_ms().saturating_sub(task.updated_at)
            < i64::try_from(self.config.refresh_interval.as_millis()).unwrap_or(i64::MAX);
        if task.state.is_terminal() || fresh {
            return task;
        }
        let next = self.polled(&task).await;
        match self.write(next).await {
            Written::Done(t) => *t,
            Written::Lost | Written::Failed => match self.store.get_task(&task.id).await {
                Ok(Some(t)) => t,
                Ok(None) | Err(_) => task,
            },
        }
    }

    /// Applies a callback's report to `task`: the task as written, or `None` when nothing was
    /// (it had ended, the report changed nothing, or the store failed). A write lost to another
    /// writer is tried again on the task as stored then, a few times.
    pub async fn apply_report(&self, task: Task, report: PollReport) -> Option<Task> {
        let pace = self.pace_of(task.provider);
        let mut current = task;
        for _ in 0..REPORT_TRIES {
            let mut next = current.clone();
            if !pace::merge(&mut next, &report, now_ms(), &pace) {
                return None;
            }
            match self.write(pace::released(next)).await {
                Written::Done(t) => return Some(*t),
                Written::Failed => return None,
                Written::Lost => match self.store.get_task(&current.id).await {
                    Ok(Some(t)) => current = t,
                    Ok(None) | Err(_) => return None,
                },
            }
        }
        None
    }
}

/// `host-pid-random`: unique per process, readable in the store.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".to_owned());
    let host: String = host.chars().take(64).collect();
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
