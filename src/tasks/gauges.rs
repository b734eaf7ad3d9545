//! What is counted of video tasks: polls, failed polls by kind, callbacks, settlements, and the
//! store's counts of pending tasks (refreshed by the poller every few seconds, never per
//! request).
//!
//! Owns: [`VideoGauges`] (atomics and the last counts, shared by the poller, the video front
//! and the monitor) and [`VideoSnapshot`], what health, `/metrics` and `sluice monitor` show.
//! Must never: read the store itself (the poller hands it the counts), or grow with traffic
//! (its labels are fixed lists: error kinds, provider kinds and task states).

use crate::store::tasks::TaskCounts;
use crate::tasks::TaskState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Why a poll failed (a label of `sluice_video_poll_errors_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollErrorKind {
    /// The upstream answered an error status (or a 2xx that says it failed).
    Status,
    /// The poll's deadline passed (headers or body).
    Deadline,
    /// The answer did not read as the provider's shape (or was too large).
    Invalid,
    /// The upstream could not be reached or the answer was cut.
    Network,
    /// The task's channel or key is gone: the task fails.
    ChannelGone,
}

impl PollErrorKind {
    pub const ALL: [PollErrorKind; 5] = [
        Self::Status,
        Self::Deadline,
        Self::Invalid,
        Self::Network,
        Self::ChannelGone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Deadline => "deadline",
            Self::Invalid => "invalid",
            Self::Network => "network",
            Self::ChannelGone => "channel_gone",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The counts of video tasks of one relay instance.
#[derive(Default)]
pub struct VideoGauges {
    polls: AtomicU64,
    poll_errors: [AtomicU64; PollErrorKind::ALL.len()],
    callbacks: AtomicU64,
    settlements: AtomicU64,
    expired: AtomicU64,
    counted: Mutex<Option<Counted>>,
}

/// The store's counts as last read, and the poll rate since the read before.
#[derive(Clone, Debug)]
struct Counted {
    counts: TaskCounts,
    /// Unix milliseconds.
    at: i64,
    polls_at: u64,
    polls_per_second: f64,
}

/// Pending tasks of one provider kind in one state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingGroup {
    pub provider: String,
    pub state: TaskState,
    pub count: u64,
}

/// What health shows of video tasks (`video` in its JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VideoSnapshot {
    pub polls_total: u64,
    /// Over the last interval between two counts.
    pub polls_per_second: f64,
    /// By [`PollErrorKind`] name.
    pub poll_errors: BTreeMap<&'static str, u64>,
    pub callbacks_total: u64,
    /// Settlement records this instance handed to the usage sink (one per task it ended).
    pub settlements_total: u64,
    /// Tasks this instance's deadline sweep expired.
    pub expired_total: u64,
    pub pending: Vec<PendingGroup>,
    pub pending_total: u64,
    pub oldest_pending_seconds: Option<f64>,
    /// Pending tasks past their deadline (the sweep has not expired them yet).
    pub overdue: u64,
    /// When the counts were read (Unix milliseconds); `None` until the poller has run.
    pub counted_at: Option<i64>,
}

impl VideoGauges {
    /// One poll sent (whatever its outcome).
    pub fn poll(&self) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn poll_error(&self, kind: PollErrorKind) {
        self.poll_errors[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// One callback received (the video front counts them).
    pub fn callback(&self) {
        self.callbacks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn settled(&self) {
        self.settlements.fetch_add(1, Ordering::Relaxed);
    }

    pub fn expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    pub fn poll_errors(&self, kind: PollErrorKind) -> u64 {
        self.poll_errors[kind.index()].load(Ordering::Relaxed)
    }

    pub fn settlements(&self) -> u64 {
        self.settlements.load(Ordering::Relaxed)
    }

    /// Keeps the store's counts read at `now` (Unix milliseconds), and the poll rate since the
    /// counts before.
    pub fn set_counts(&self, counts: TaskCounts, now: i64) {
        let polls = self.polls();
        let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        let polls_per_second = match counted.as_ref() {
            Some(c) if now > c.at => {
                polls.saturating_sub(c.polls_at) as f64 * 1000.0 / (now - c.at) as f64
            }
            Some(c) => c.polls_per_second,
            None => 0.0,
        };
        *counted = Some(Counted {
            counts,
            at: now,
            polls_at: polls,
            polls_per_second,
        });
    }

    pub fn snapshot(&self) -> VideoSnapshot {
        let counted = self
            .counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut s = VideoSnapshot {
            polls_total: self.polls(),
            poll_errors: PollErrorKind::ALL
                .iter()
                .map(|k| (k.as_str(), self.poll_errors(*k)))
                .collect(),
            callbacks_total: self.callbacks.load(Ordering::Relaxed),
            settlements_total: self.settlements(),
            expired_total: self.expired.load(Ordering::Relaxed),
            ..VideoSnapshot::default()
        };
        if let Some(c) = counted {
            s.polls_per_second = c.polls_per_second;
            s.pending = c
                .counts
                .pending
                .iter()
                .map(|(provider, state, count)| PendingGroup {
                    provider: provider.clone(),
                    state: *state,
                    count: *count,
                })
                .collect();
            s.pending_total = s.pending.iter().map(|g| g.count).sum();
            s.oldest_pending_seconds = c
                .counts
                .oldest_pending_created_at
                .map(|t| (c.at - t).max(0) as f64 / 1000.0);
            s.overdue = c.counts.overdue;
            s.counted_at = Some(c.at);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates_read_back() {
        let g = VideoGauges::default();
        assert_eq!(g.snapshot().counted_at, None);
        g.set_counts(TaskCounts::default(), 10_000);
        for _ in 0..20 {
            g.poll();
        }
        g.poll_error(PollErrorKind::Deadline);
        g.callback();
        let counts = TaskCounts {
            pending: vec![
                ("kling".to_owned(), TaskState::Queued, 3),
                ("luma".to_owned(), TaskState::InProgress, 2),
            ],
            oldest_pending_created_at: Some(4_000),
            overdue: 1,
        };
        g.set_counts(counts, 14_000);
        let s = g.snapshot();
        assert_eq!(s.polls_total, 20);
        assert!((s.polls_per_second - 5.0).abs() < 1e-9);
        assert_eq!(s.poll_errors["deadline"], 1);
        assert_eq!(s.poll_errors["status"], 0);
        assert_eq!(s.poll_errors.len(), PollErrorKind::ALL.len());
        assert_eq!(s.callbacks_total, 1);
        assert_eq!(s.pending_total, 5);
        assert_eq!(s.oldest_pending_seconds, Some(10.0));
        assert_eq!(s.overdue, 1);
    }
}
