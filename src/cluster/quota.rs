//! Quota totals shared by every instance: spend settled here is added to one counter per token
//! in Redis every `store.cluster.quota_push`, and the counter is read back in the same round
//! trip, so each instance sees the others' spend within one interval instead of waiting for
//! their commits and its own totals refresh.
//!
//! A counter Redis does not hold (first use, a restarted Redis, an expired key) is seeded from
//! the committed total this instance last read from the store before the push is added (one
//! script, so two instances cannot both seed). The store's ledger stays the truth: the counter
//! only ever makes an instance refuse sooner.
//!
//! The bound: with N instances, a quota is overspent by at most what the instances settle in
//! one push interval (plus, as on one instance, what answers cost beyond their estimates).
//!
//! Owns: the push script, the push job, which tokens it reads (those with spend to push or a
//! reservation in the last minute).
//! Must never: lose spend on a failed push (it is pushed again), or run on the request path.

use super::link::RedisLink;
use crate::limits::{TokenEntry, TokenTable};
use crate::store::now_ms;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A token's counter is read back while it was used within this window.
const RECENT_MS: i64 = 60_000;
/// Tokens pushed in one round trip at most (the rest wait for the next interval).
const MAX_PER_PUSH: usize = 5_000;

/// Adds `ARGV[1]` to `KEYS[1]`, seeding it with `ARGV[2]` when missing; returns the total.
pub(super) const PUSH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
return v
";

pub struct QuotaSync {
    link: Arc<RedisLink>,
    prefix: String,
    script: redis::Script,
    interval: Duration,
    pushes: AtomicU64,
}

impl QuotaSync {
    pub fn new(link: Arc<RedisLink>, prefix: &str, interval: Duration) -> Self {
        Self {
            link,
            prefix: prefix.to_owned(),
            script: redis::Script::new(PUSH),
            interval,
            pushes: AtomicU64::new(0),
        }
    }

    /// The script, loaded on every (re)connect so pipelines can call it by hash.
    pub(super) fn script(&self) -> &redis::Script {
        &self.script
    }

    /// Round trips that pushed spend or read totals.
    pub fn pushes(&self) -> u64 {
        self.pushes.load(Relaxed)
    }

    fn key(&self, token: i64) -> String {
        format!("{}quota:token:{token}", self.prefix)
    }

    /// Pushes every token's unpushed spend and reads the totals back: one round trip.
    pub async fn push_once(&self, table: &TokenTable) {
        if !self.link.is_up() {
            return;
        }
        let now = now_ms();
        let batch: Vec<(Arc<TokenEntry>, i64)> = table
            .metered()
            .into_iter()
            .filter(|e| e.quota.unpushed() != 0 || now - e.quota.last_used_ms() < RECENT_MS)
            .take(MAX_PER_PUSH)
            .map(|e| {
                let d = e.quota.take_unpushed();
                (e, d)
            })
            .collect();
        if batch.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        let sha = self.script.get_hash();
        for (e, d) in &batch {
            pipe.cmd("EVALSHA")
                .arg(sha)
                .arg(1)
                .arg(self.key(e.id))
                .arg(*d)
                .arg(e.quota.remote());
        }
        let pipe = &pipe;
        let reply = self
            .link
            .background(|mut c| async move { pipe.query_async::<Vec<i64>>(&mut c).await })
            .await;
        match reply {
            Ok(totals) if totals.len() == batch.len() => {
                self.pushes.fetch_add(1, Relaxed);
                for ((e, d), total) in batch.iter().zip(totals) {
                    e.quota.pushed(*d, total);
                }
            }
            Ok(_) | Err(_) => {
                for (e, d) in &batch {
                    e.quota.push_failed(*d);
                }
            }
        }
    }

    /// Pushes every `interval` until `cancel` (and once more then); a background job.
    pub async fn run(self: Arc<Self>, table: Arc<TokenTable>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    self.push_once(&table).await;
                    return;
                }
                _ = tick.tick() => self.push_once(&table).await,
            }
        }
    }
}
