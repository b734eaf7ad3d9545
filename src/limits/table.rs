//! The token snapshot the request path authenticates against, and how it stays current.
//!
//! Owns: an `ArcSwap` snapshot (key hash -> entry, id -> entry), rebuilt when the store's
//! revision moves (and at once after an admin write here); a bounded negative cache and a
//! single-flight store read for keys the snapshot does not know (a token created on another
//! instance a moment ago); the periodic re-read of quota totals; passing commits on to the
//! entries' quota counters.
//! Must never: read the store for a known key, read it twice at once for the same unknown
//! key, or let unknown-key reads grow without bound (at most `MAX_LOOKUPS` at once; beyond,
//! the request is refused as unverifiable rather than queued).

use super::entry::TokenEntry;
use super::LimitError;
use crate::config::StoreConfig;
use crate::store::usage::{CommitListener, TokenCommit};
use crate::store::{KeyHash, Source, Store, StoreResult, Token};
use arc_swap::ArcSwap;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Unknown-key store reads in flight at most.
pub const MAX_LOOKUPS: usize = 64;
/// Keys remembered as unknown (the cache is emptied when full, and at every refresh).
pub(crate) const NEGATIVE_CAPACITY: usize = 10_000;
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Tokens found by a lookup between refreshes, kept until the next refresh.
const LATE_CAPACITY: usize = 10_000;

#[derive(Default)]
struct Snapshot {
    by_hash: HashMap<KeyHash, Arc<TokenEntry>>,
    by_id: HashMap<i64, Arc<TokenEntry>>,
}

type Lookup = Arc<OnceCell<Option<Token>>>;

#[derive(Default)]
struct Misses {
    negative: HashMap<KeyHash, Instant>,
    late: HashMap<KeyHash, Arc<TokenEntry>>,
    in_flight: HashMap<KeyHash, Lookup>,
}

pub struct TokenTable {
    store: Store,
    snapshot: ArcSwap<Snapshot>,
    misses: Mutex<Misses>,
    reloading: tokio::sync::Mutex<()>,
    totals_refresh: Duration,
    lookups: AtomicU64,
}

impl TokenTable {
    /// Loads every live token.
    pub async fn load(store: Store, config: &StoreConfig) -> StoreResult<Arc<Self>> {
        let table = Arc::new(Self {
            store,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            misses: Mutex::new(Misses::default()),
            reloading: tokio::sync::Mutex::new(()),
            totals_refresh: config.totals_refresh,
            lookups: AtomicU64::new(0),
        });
        table.reload().await?;
        Ok(table)
    }

    fn misses(&self) -> MutexGuard<'_, Misses> {
        self.misses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry of a known key: no I/O, no lock.
    pub fn get(&self, hash: &KeyHash) -> Option<Arc<TokenEntry>> {
        if let Some(e) = self.snapshot.load().by_hash.get(hash) {
            return Some(e.clone());
        }
        self.misses().late.get(hash).cloned()
    }

    pub fn by_id(&self, id: i64) -> Option<Arc<TokenEntry>> {
        self.snapshot.load().by_id.get(&id).cloned()
    }

    /// Every metered token known here (the snapshot's and those found since).
    pub fn metered(&self) -> Vec<Arc<TokenEntry>> {
        let mut out: Vec<Arc<TokenEntry>> = self
            .snapshot
            .load()
            .by_id
            .values()
            .filter(|e| e.is_metered())
            .cloned()
            .collect();
        out.extend(
            self.misses()
                .late
                .values()
                .filter(|e| e.is_metered())
                .cloned(),
        );
        out
    }

    /// Store reads made for unknown keys so far.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Relaxed)
    }

    pub fn len(&self) -> usize {
        self.snapshot.load().by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token a client key belongs to.
    pub async fn authenticate(&self, key: &str) -> Result<Arc<TokenEntry>, LimitError> {
        let hash = KeyHash::of(key.trim());
        if let Some(e) = self.get(&hash) {
            return Ok(e);
        }
        let now = Instant::now();
        {
            let mut m = self.misses();
            match m.negative.get(&hash) {
                Some(&until) if until > now => return Err(LimitError::Unknown),
                Some(_) => {
                    m.negative.remove(&hash);
                }
                None => {}
            }
        }
        self.lookup(hash).await
    }

    fn remember_unknown(&self, hash: KeyHash) {
        let mut m = self.misses();
        if m.negative.len() >= NEGATIVE_CAPACITY {
            m.negative.clear();
        }
        m.negative.insert(hash, Instant::now() + NEGATIVE_TTL);
    }

    /// One store read per unknown key, whoever else asks meanwhile.
    async fn lookup(&self, hash: KeyHash) -> Result<Arc<TokenEntry>, LimitError> {
        let cell = {
            let mut m = self.misses();
            if !m.in_flight.contains_key(&hash) && m.in_flight.len() >= MAX_LOOKUPS {
                // Lookups nobody waits for any more (their requests left) make room.
                m.in_flight.retain(|_, c| Arc::strong_count(c) > 1);
                if m.in_flight.len() >= MAX_LOOKUPS {
                    return Err(LimitError::Unavailable);
                }
            }
            m.in_flight.entry(hash).or_default().clone()
        };
        let found = cell
            .get_or_try_init(|| {
                self.lookups.fetch_add(1, Relaxed);
                self.store.token_by_hash(&hash)
            })
            .await
            .cloned();
        {
            let mut m = self.misses();
            if m.in_flight
                .get(&hash)
                .is_some_and(|c| Arc::ptr_eq(c, &cell))
            {
                m.in_flight.remove(&hash);
            }
        }
        let token = match found {
            Ok(Some(t)) if !t.is_revoked() => t,
            Ok(Some(_)) => {
                self.remember_unknown(hash);
                return Err(LimitError::Revoked);
            }
            Ok(None) => {
                self.remember_unknown(hash);
                return Err(LimitError::Unknown);
            }
            Err(e) => {
                tracing::warn!(target: "sluice::limits", error = %e, "token lookup failed");
                return Err(LimitError::Unavailable);
            }
        };
        // One entry per token, whoever waited on the read: an entry of its own per waiter would
        // give each its own quota counters (and let them jointly overspend).
        let mut m = self.misses();
        if let Some(e) = self.snapshot.load().by_hash.get(&hash) {
            return Ok(e.clone());
        }
        if let Some(e) = m.late.get(&hash) {
            return Ok(e.clone());
        }
        let previous = self.by_id(token.id);
        let entry = TokenEntry::build(&token, previous.as_deref(), Instant::now())
            .map(Arc::new)
            .map_err(|_| LimitError::Unavailable)?;
        if m.late.len() < LATE_CAPACITY {
            m.late.insert(hash, entry.clone());
        }
        Ok(entry)
    }

    /// Rebuilds the snapshot from the store (counters carried over).
    pub async fn reload(&self) -> StoreResult<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let tokens = self.store.list_tokens(false).await?;
        let old = self.snapshot.load_full();
        let late: HashMap<i64, Arc<TokenEntry>> = {
            let m = self.misses();
            m.late.values().map(|e| (e.id, e.clone())).collect()
        };
        let file_names: HashSet<&str> = tokens
            .iter()
            .filter(|t| t.source == Source::File)
            .map(|t| t.name.as_str())
            .collect();
        let now = Instant::now();
        let mut next = Snapshot::default();
        for t in &tokens {
            if t.source == Source::Store && file_names.contains(t.name.as_str()) {
                tracing::warn!(
                    target: "sluice::limits",
                    token = %t.name,
                    "a store token has the name of a config-file token: the file's wins, this one is not loaded"
                );
                continue;
            }
            let Some(hash) = KeyHash::from_hex(&t.key_hash) else {
                continue;
            };
            let previous = old.by_id.get(&t.id).or_else(|| late.get(&t.id));
            match TokenEntry::build(t, previous.map(|p| &**p), now) {
                Ok(e) => {
                    let e = Arc::new(e);
                    next.by_id.insert(t.id, e.clone());
                    next.by_hash.insert(hash, e);
                }
                Err(err) => {
                    tracing::warn!(target: "sluice::limits", token = %t.name, error = %err, "token not loaded");
                }
            }
        }
        self.snapshot.store(Arc::new(next));
        let mut m = self.misses();
        m.negative.clear();
        m.late.clear();
        Ok(())
    }

    /// Re-reads the committed totals (usage written by other instances).
    pub async fn refresh_totals(&self) -> StoreResult<()> {
        let totals = self.store.token_totals().await?;
        let snap = self.snapshot.load();
        for (id, used) in totals {
            if let Some(e) = snap.by_id.get(&id) {
                e.quota.observe_remote(used);
            }
        }
        Ok(())
    }

    /// Follows the store's revision (reload on every change) and re-reads totals every
    /// `store.totals_refresh`, until `cancel`; a background job.
    pub async fn run_refresher(self: Arc<Self>, cancel: CancellationToken) {
        let mut revision = self.store.subscribe_revision();
        let mut totals = tokio::time::interval(self.totals_refresh);
        totals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = revision.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if let Err(e) = self.reload().await {
                        tracing::warn!(target: "sluice::limits", error = %e, "token refresh failed; serving the last snapshot");
                    }
                }
                _ = totals.tick() => {
                    if let Err(e) = self.refresh_totals().await {
                        tracing::debug!(target: "sluice::limits", error = %e, "totals refresh failed");
                    }
                }
            }
        }
    }
}

impl CommitListener for TokenTable {
    fn committed(&self, tokens: &[TokenCommit]) {
        let snap = self.snapshot.load();
        for t in tokens {
            let entry = snap.by_id.get(&t.token_id).cloned().or_else(|| {
                let m = self.misses();
                m.late.values().find(|e| e.id == t.token_id).cloned()
            });
            if let Some(e) = entry {
                e.quota.committed(t.used_units, t.local_units);
            }
        }
    }
}
