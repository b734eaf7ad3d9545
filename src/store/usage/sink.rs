//! The request path's side of usage: hand a record over without waiting.
//!
//! Owns: the bounded queue's sending half, the overflow to the spool, and the flag the request
//! path reads to fail metered tokens closed while the spool is full.
//! Must never: await, or drop a record while the spool has room.

use super::spool::Spool;
use super::UsageRecord;
use crate::config::{OnSpoolFull, UsageConfig};
use crate::store::stats::{StoreSnapshot, StoreStats};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc::{self, error::TrySendError};

/// A cheap handle (clone it freely) to the usage pipeline.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<UsageRecord>,
    spool: Arc<Spool>,
    stats: Arc<StoreStats>,
    backend: &'static str,
    on_spool_full: OnSpoolFull,
    origin: u64,
}

impl UsageSink {
    pub(super) fn new(
        tx: mpsc::Sender<UsageRecord>,
        spool: Arc<Spool>,
        stats: Arc<StoreStats>,
        backend: &'static str,
        config: &UsageConfig,
        origin: u64,
    ) -> Self {
        Self {
            tx,
            spool,
            stats,
            backend,
            on_spool_full: config.on_spool_full,
            origin,
        }
    }

    /// Hands a record to the writer; when the queue is full (or the writer has stopped) the
    /// record goes straight to the spool. Never waits on the database.
    pub fn submit(&self, mut record: UsageRecord) {
        record.bound_labels();
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(r) | TrySendError::Closed(r)) => self.spill(r),
        }
    }

    fn spill(&self, record: UsageRecord) {
        match self.spool.append(std::slice::from_ref(&record)) {
            Ok(()) => {
                self.stats.records_spooled.fetch_add(1, Relaxed);
            }
            Err(e) => {
                self.stats.records_dropped.fetch_add(1, Relaxed);
                tracing::error!(
                    target: "sluice::store",
                    usage_id = %record.usage_id,
                    cost_units = record.cost_units,
                    error = %e,
                    "usage record lost"
                );
            }
        }
    }

    /// The tag of records whose cost this process's quota counters hold.
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// Whether the spool is (nearly) full.
    pub fn spool_full(&self) -> bool {
        self.stats.spool_full()
    }

    /// Whether metered tokens must be refused now (503): the spool is full and
    /// `store.usage.on_spool_full = "reject"`.
    pub fn reject_metered(&self) -> bool {
        self.on_spool_full == OnSpoolFull::Reject && self.spool_full()
    }

    pub fn snapshot(&self) -> StoreSnapshot {
        let capacity = self.tx.max_capacity();
        let depth = capacity - self.tx.capacity();
        self.stats.snapshot(self.backend, depth, capacity)
    }
}
