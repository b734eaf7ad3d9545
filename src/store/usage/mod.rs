//! Usage, exactly once: the request path hands records to a [`UsageSink`] (never waits), one
//! [`UsageWriter`] writes them in batches, idempotently, and spools them to disk while the
//! database is down.
//!
//! Owns: the record type, the pipeline's construction, and what a commit reports back (the
//! new totals of the tokens it touched, for the quota counters).
//! Must never: hold more than the queue's capacity plus one batch in memory, or drop a record
//! while the spool has room.

pub(crate) mod batch;
pub mod csv;
pub mod query;
mod record;
mod sink;
pub mod spool;
mod writer;

pub use batch::day_of;
pub use record::{Outcome, UsageRecord, UsageSource, MAX_LABEL};
pub use sink::UsageSink;
pub use writer::UsageWriter;

use super::stats::StoreStats;
use super::{Store, StoreError};
use crate::config::StoreConfig;
use spool::Spool;
use std::sync::Arc;

/// What one committed batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    pub offered: usize,
    /// Rows new to the ledger (the rest were there already: a replay).
    pub inserted: usize,
    pub tokens: Vec<TokenCommit>,
}

/// One token's totals after a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenCommit {
    pub token_id: i64,
    /// `token_totals.used_units` after the commit (the database's truth).
    pub used_units: i64,
    /// Cost units of this commit that this process's quota counters held as unflushed.
    pub local_units: i64,
}

/// Told of every commit (the quota counters move unflushed spend into the committed total).
pub trait CommitListener: Send + Sync {
    fn committed(&self, tokens: &[TokenCommit]);
}

/// The sink (for the request path) and the writer (for the supervisor) of one store.
/// `origin` tags the records whose cost this process's quota counters hold (non-zero, random
/// per pipeline: a record replayed after a restart belongs to no live counter).
pub fn pipeline(
    store: &Store,
    config: &StoreConfig,
    listener: Option<Arc<dyn CommitListener>>,
) -> Result<(UsageSink, UsageWriter), StoreError> {
    let stats = Arc::new(StoreStats::default());
    let u = &config.usage;
    let dir = config.spool_dir();
    let spool = Spool::open(
        &dir,
        u.spool_max_bytes,
        u.spool_segment_bytes,
        stats.clone(),
    )
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let spool = Arc::new(spool);
    let origin = rand::random::<u64>() | 1;
    let (tx, rx) = tokio::sync::mpsc::channel(u.queue_capacity);
    let sink = UsageSink::new(
        tx,
        spool.clone(),
        stats.clone(),
        store.backend_name(),
        u,
        origin,
    );
    let writer = UsageWriter::new(store.clone(), rx, spool, stats, u.clone(), listener, origin);
    Ok((sink, writer))
}
