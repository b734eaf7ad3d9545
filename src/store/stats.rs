//! The store's own counts, for `/api/monitor/health`, `/metrics` and `sluice monitor`.
//!
//! Owns: counters and gauges of the usage write path (queue, spool, writes, failures, write
//! latency) and the store's status, and a plain snapshot of them.
//! Must never: lock when a count moves (atomics only; the last error is kept behind a mutex
//! written on failures only).

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreStatus {
    /// Writes succeed and nothing waits in the spool.
    Ok,
    /// Writes succeed; the spool is still draining.
    Degraded,
    /// The last write failed: records go to the spool.
    Down,
}

impl StoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreStatus::Ok => "ok",
            StoreStatus::Degraded => "degraded",
            StoreStatus::Down => "down",
        }
    }
}

pub struct StoreStats {
    pub(crate) db_failing: AtomicBool,
    pub(crate) spool_bytes: AtomicU64,
    pub(crate) spool_segments: AtomicU64,
    pub(crate) spool_full: AtomicBool,
    pub(crate) rows_written: AtomicU64,
    pub(crate) rows_duplicate: AtomicU64,
    pub(crate) batches_written: AtomicU64,
    pub(crate) write_failures: AtomicU64,
    pub(crate) records_spooled: AtomicU64,
    pub(crate) records_replayed: AtomicU64,
    pub(crate) records_dropped: AtomicU64,
    pub(crate) spool_bad_lines: AtomicU64,
    write_micros_sum: AtomicU64,
    write_micros_max: AtomicU64,
    write_micros_last: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A point-in-time copy of the store's counts.
#[derive(Clone, Debug, Serialize)]
pub struct StoreSnapshot {
    pub status: StoreStatus,
    pub backend: &'static str,
    /// Records waiting in memory for the writer, and the queue's bound.
    pub queue_depth: usize,
    pub queue_capacity: usize,
    pub spool_bytes: u64,
    pub spool_segments: u64,
    /// The spool is (nearly) full: metered tokens fail closed when `on_spool_full = "reject"`.
    pub spool_full: bool,
    pub rows_written: u64,
    /// Records offered again (a replay) that the ledger already had.
    pub rows_duplicate: u64,
    pub batches_written: u64,
    pub write_failures: u64,
    pub records_spooled: u64,
    pub records_replayed: u64,
    /// Records lost because the spool was full.
    pub records_dropped: u64,
    pub spool_bad_lines: u64,
    /// Batch write latency: sum (with `batches_written`, the mean), largest and last, in µs.
    pub write_micros_sum: u64,
    pub write_micros_max: u64,
    pub write_micros_last: u64,
    pub last_error: Option<String>,
}

impl Default for StoreStats {
    fn default() -> Self {
        Self {
            db_failing: AtomicBool::new(false),
            spool_bytes: AtomicU64::new(0),
            spool_segments: AtomicU64::new(0),
            spool_full: AtomicBool::new(false),
            rows_written: AtomicU64::new(0),
            rows_duplicate: AtomicU64::new(0),
            batches_written: AtomicU64::new(0),
            write_failures: AtomicU64::new(0),
            records_spooled: AtomicU64::new(0),
            records_replayed: AtomicU64::new(0),
            records_dropped: AtomicU64::new(0),
            spool_bad_lines: AtomicU64::new(0),
            write_micros_sum: AtomicU64::new(0),
            write_micros_max: AtomicU64::new(0),
            write_micros_last: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }
}

impl StoreStats {
    pub(crate) fn wrote(&self, offered: usize, inserted: usize, took: Duration) {
        self.db_failing.store(false, Relaxed);
        self.batches_written.fetch_add(1, Relaxed);
        self.rows_written.fetch_add(inserted as u64, Relaxed);
        self.rows_duplicate
            .fetch_add(offered.saturating_sub(inserted) as u64, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.write_micros_sum.fetch_add(micros, Relaxed);
        self.write_micros_max.fetch_max(micros, Relaxed);
        self.write_micros_last.store(micros, Relaxed);
    }

    pub(crate) fn failed(&self, error: &dyn std::fmt::Display) {
        self.db_failing.store(true, Relaxed);
        self.write_failures.fetch_add(1, Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    pub fn spool_full(&self) -> bool {
        self.spool_full.load(Relaxed)
    }

    pub fn status(&self) -> StoreStatus {
        if self.db_failing.load(Relaxed) {
            StoreStatus::Down
        } else if self.spool_bytes.load(Relaxed) > 0 {
            StoreStatus::Degraded
        } else {
            StoreStatus::Ok
        }
    }

    pub(crate) fn snapshot(
        &self,
        backend: &'static str,
        queue_depth: usize,
        queue_capacity: usize,
    ) -> StoreSnapshot {
        StoreSnapshot {
            status: self.status(),
            backend,
            queue_depth,
            queue_capacity,
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_segments: self.spool_segments.load(Relaxed),
            spool_full: self.spool_full(),
            rows_written: self.rows_written.load(Relaxed),
            rows_duplicate: self.rows_duplicate.load(Relaxed),
            batches_written: self.batches_written.load(Relaxed),
            write_failures: self.write_failures.load(Relaxed),
            records_spooled: self.records_spooled.load(Relaxed),
            records_replayed: self.records_replayed.load(Relaxed),
            records_dropped: self.records_dropped.load(Relaxed),
            spool_bad_lines: self.spool_bad_lines.load(Relaxed),
            write_micros_sum: self.write_micros_sum.load(Relaxed),
            write_micros_max: self.write_micros_max.load(Relaxed),
            write_micros_last: self.write_micros_last.load(Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}
