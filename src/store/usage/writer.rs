//! The one writer of usage: batches from the queue into the database, the spool while the
//! database is down, and the replay of the spool once it is back.
//!
//! Owns: batching (`batch_rows` or `batch_interval`, whichever comes first), the write
//! transaction's outcome (commit: tell the quota counters; failure: spool the batch and retry
//! with backoff), replaying spool segments oldest first, fsyncing the spool, and the
//! shutdown flush (database within `shutdown_flush`, else the spool).
//! Must never: delete a spool segment before its records are committed, spawn tasks, or hold
//! more than one batch from the queue plus one replay batch.

use super::spool::{Segment, SegmentReader, Spool};
use super::{CommitListener, Committed, UsageRecord};
use crate::config::UsageConfig;
use crate::store::stats::StoreStats;
use crate::store::{Store, StoreError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct UsageWriter {
    store: Store,
    rx: mpsc::Receiver<UsageRecord>,
    spool: Arc<Spool>,
    stats: Arc<StoreStats>,
    config: UsageConfig,
    listener: Option<Arc<dyn CommitListener>>,
    origin: u64,
}

/// Where the replay of the spool stands.
struct Replay {
    segment: Option<(Segment, SegmentReader)>,
    /// Read from the segment, not yet committed (retried after a failure).
    pending: Vec<UsageRecord>,
    backoff: Duration,
}

/// When the next replay step is due (`None`: nothing to replay).
type Due = Option<Instant>;

impl UsageWriter {
    pub(super) fn new(
        store: Store,
        rx: mpsc::Receiver<UsageRecord>,
        spool: Arc<Spool>,
        stats: Arc<StoreStats>,
        config: UsageConfig,
        listener: Option<Arc<dyn CommitListener>>,
        origin: u64,
    ) -> Self {
        Self {
            store,
            rx,
            spool,
            stats,
            config,
            listener,
            origin,
        }
    }

    /// Runs until `cancel` fires (or every sink is dropped), then flushes what is queued.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut batch: Vec<UsageRecord> = Vec::with_capacity(self.config.batch_rows);
        let mut batch_due: Option<Instant> = None;
        let mut replay = Replay {
            segment: None,
            pending: Vec::new(),
            backoff: self.config.retry_min,
        };
        let mut replay_due: Due = (!self.spool.is_empty()).then(Instant::now);
        let mut fsync = tokio::time::interval(self.config.spool_fsync_interval);
        fsync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closed = false;
        loop {
            let room = self.config.batch_rows.saturating_sub(batch.len());
            tokio::select! {
                () = cancel.cancelled() => break,
                n = self.rx.recv_many(&mut batch, room), if room > 0 && !closed => {
                    if n == 0 {
                        closed = true;
                    } else if batch_due.is_none() {
                        batch_due = Some(Instant::now() + self.config.batch_interval);
                    }
                }
                () = sleep_until(batch_due.unwrap_or_else(Instant::now)), if batch_due.is_some() => {}
                _ = fsync.tick() => self.sync_spool(),
                () = sleep_until(replay_due.unwrap_or_else(Instant::now)), if replay_due.is_some() => {
                    replay_due = self.replay_step(&mut replay).await;
                }
            }
            let due = batch_due.is_some_and(|d| d <= Instant::now());
            if !batch.is_empty() && (batch.len() >= self.config.batch_rows || due || closed) {
                self.flush(&mut batch).await;
                batch_due = None;
                if replay_due.is_none() && !self.spool.is_empty() {
                    replay_due = Some(Instant::now() + replay.backoff);
                }
            }
            if closed && batch.is_empty() {
                break;
            }
        }
        self.shutdown(batch).await;
    }

    async fn write(&self, records: &[UsageRecord]) -> Result<Committed, StoreError> {
        let started = Instant::now();
        let result = self.store.write_usage(records, self.origin).await;
        match &result {
            Ok(c) => {
                self.stats.wrote(c.offered, c.inserted, started.elapsed());
                if let Some(l) = &self.listener {
                    l.committed(&c.tokens);
                }
            }
            Err(e) => {
                self.stats.failed(e);
                tracing::warn!(target: "sluice::store", error = %e, rows = records.len(), "usage write failed");
            }
        }
        result
    }

    /// Writes a batch to the database, or to the spool while the database is failing (the
    /// replay is the probe that finds it back).
    async fn flush(&self, batch: &mut Vec<UsageRecord>) {
        // With nothing spooled there is no replay to probe the database: this batch does.
        let failing = self.stats.db_failing.load(Relaxed) && !self.spool.is_empty();
        if failing || self.write(batch).await.is_err() {
            self.spool_batch(batch);
        }
        batch.clear();
    }

    fn spool_batch(&self, batch: &[UsageRecord]) {
        match self.spool.append(batch) {
            Ok(()) => {
                self.stats
                    .records_spooled
                    .fetch_add(batch.len() as u64, Relaxed);
            }
            Err(e) => {
                self.stats
                    .records_dropped
                    .fetch_add(batch.len() as u64, Relaxed);
                let cost: i64 = batch.iter().map(|r| r.cost_units).sum();
                tracing::error!(target: "sluice::store", error = %e, rows = batch.len(), cost_units = cost, "usage records lost");
            }
        }
    }

    fn sync_spool(&self) {
        if let Err(e) = self.spool.sync() {
            tracing::warn!(target: "sluice::store", error = %e, "usage spool fsync failed");
        }
    }

    /// One step of the replay: read a batch from the oldest segment (or delete the segment
    /// once it is read through), write it, and say when the next step is due.
    async fn replay_step(&self, replay: &mut Replay) -> Due {
        let now = Instant::now();
        if replay.pending.is_empty() {
            if replay.segment.is_none() {
                match self
                    .spool
                    .oldest()
                    .and_then(|s| s.map(|s| s.reader().map(|r| (s, r))).transpose())
                {
                    Ok(Some(seg)) => replay.segment = Some(seg),
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(target: "sluice::store", error = %e, "usage spool unreadable");
                        return Some(now + self.config.retry_max);
                    }
                }
            }
            let (segment, reader) = replay.segment.as_mut()?;
            let mut bad = 0;
            let read = reader.next_batch(self.config.batch_rows, &mut bad);
            self.stats.spool_bad_lines.fetch_add(bad, Relaxed);
            match read {
                Ok(batch) if batch.is_empty() => {
                    if let Err(e) = self.spool.remove(segment) {
                        tracing::warn!(target: "sluice::store", error = %e, "cannot delete a replayed spool segment");
                    }
                    replay.segment = None;
                    return Some(now);
                }
                Ok(batch) => replay.pending = batch,
                Err(e) => {
                    tracing::warn!(target: "sluice::store", error = %e, "usage spool unreadable");
                    replay.segment = None;
                    return Some(now + self.config.retry_max);
                }
            }
        }
        match self.write(&replay.pending).await {
            Ok(_) => {
                self.stats
                    .records_replayed
                    .fetch_add(replay.pending.len() as u64, Relaxed);
                replay.pending.clear();
                replay.backoff = self.config.retry_min;
                Some(Instant::now())
            }
            Err(_) => {
                let wait = replay.backoff;
                replay.backoff = (replay.backoff * 2).min(self.config.retry_max);
                Some(Instant::now() + wait)
            }
        }
    }

    /// Stops taking records, then writes what is queued: to the database while the deadline
    /// allows and it answers, to the spool otherwise.
    async fn shutdown(mut self, mut batch: Vec<UsageRecord>) {
        self.rx.close();
        let deadline = Instant::now() + self.config.shutdown_flush;
        loop {
            while batch.len() < self.config.batch_rows {
                match self.rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let failing = self.stats.db_failing.load(Relaxed);
            let written = !failing
                && Instant::now() < deadline
                && matches!(
                    tokio::time::timeout_at(deadline, self.write(&batch)).await,
                    Ok(Ok(_))
                );
            if !written {
                self.spool_batch(&batch);
            }
            batch.clear();
        }
        self.sync_spool();
    }
}
