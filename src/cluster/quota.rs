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
//! Owns: the push and lease scripts, the push and lease jobs, which tokens the push reads (those
//! with spend to push, a lease, or a reservation in the last minute).
//! Must never: lose spend on a failed push (it is pushed again), or run on the request path.

use super::link::RedisLink;
use crate::limits::{Reservation, TokenEntry, TokenTable};
use crate::store::now_ms;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A token's counter is read back while it was used within this window.
const RECENT_MS: i64 = 60_000;
/// Tokens pushed in one round trip at most (the rest wait for the next interval).
const MAX_PER_PUSH: usize = 5_000;

/// Adds `ARGV[1]` to the total `KEYS[1]`, seeding it with `ARGV[2]` when missing, takes it out of
/// this instance's lease `KEYS[2]` (if any) and gives `ARGV[3]` of the lease back, keeping the
/// lease `ARGV[4]` ms more; returns the total.
pub(super) const PUSH: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
local l = tonumber(redis.call('GET', KEYS[2]) or '0')
if l > 0 then
  local out = math.min(l, tonumber(ARGV[1]) + tonumber(ARGV[3]))
  if out >= l then
    redis.call('DEL', KEYS[2])
  else
    redis.call('DECRBY', KEYS[2], out)
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
end
return v
";

/// Leases a tenth of what is left of the quota `ARGV[1]` (at least `ARGV[2]`) into this
/// instance's lease `KEYS[3]`, against the total `KEYS[1]` (seeded with `ARGV[3]` when missing)
/// and every live lease listed in `KEYS[2]`; returns `{leased, total, all leases}` (0 leased: no
/// room for `ARGV[2]`).
const LEASE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 86400000)
end
local total = tonumber(redis.call('GET', KEYS[1]))
local leased = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', k)
  if v then leased = leased + tonumber(v) else redis.call('SREM', KEYS[2], k) end
end
local left = tonumber(ARGV[1]) - total - leased
local need = math.max(tonumber(ARGV[2]), 1)
if left < need then
  return {0, total, leased}
end
local got = math.min(left, math.max(need, math.ceil(left / 10)))
redis.call('INCRBY', KEYS[3], got)
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('PEXPIRE', KEYS[2], 86400000)
return {got, total, leased + got}
";

/// A lease unused this long is given back (well within `lease_ttl`, which validation keeps at
/// 20 push intervals or more).
const LEASE_IDLE_MS: i64 = 5_000;
/// Lease calls waiting at most.
const LEASE_QUEUE: usize = 1024;
/// How long a refused lease is remembered (requests meanwhile refused without asking).
const LEASE_REFUSAL: Duration = Duration::from_millis(200);

/// A strict quota's lease as requests wait on it.
#[derive(Default)]
struct LeaseWait {
    filled: tokio::sync::Notify,
    state: std::sync::Mutex<LeaseState>,
}

#[derive(Default)]
struct LeaseState {
    queued: bool,
    need: i64,
    /// Refused until then, with the total and leases Redis reported.
    refused: Option<(tokio::time::Instant, i64)>,
}

/// What a strict quota's admission found.
pub enum Leased {
    Reserved(Reservation),
    /// No room: spent and leased, as Redis counts them.
    Refused {
        used: i64,
    },
    /// Redis down or slow: admission falls back to the local view.
    Unavailable,
}

pub struct QuotaSync {
    link: Arc<RedisLink>,
    prefix: String,
    instance: String,
    script: redis::Script,
    lease_script: redis::Script,
    interval: Duration,
    wait: Duration,
    lease_ttl: Duration,
    strict_below: i64,
    pushes: AtomicU64,
    leases: AtomicU64,
    waits: std::sync::Mutex<HashMap<i64, Arc<LeaseWait>>>,
    lease_tx: mpsc::Sender<(Arc<TokenEntry>, Arc<LeaseWait>)>,
    lease_rx: tokio::sync::Mutex<mpsc::Receiver<(Arc<TokenEntry>, Arc<LeaseWait>)>>,
}

/// What [`QuotaSync`] is built from.
pub struct QuotaSyncParts<'a> {
    pub link: Arc<RedisLink>,
    pub prefix: &'a str,
    pub instance: &'a str,
    pub interval: Duration,
    pub wait: Duration,
    pub lease_ttl: Duration,
    pub strict_below: i64,
}

impl QuotaSync {
    pub fn new(p: QuotaSyncParts<'_>) -> Self {
        let (lease_tx, rx) = mpsc::channel(LEASE_QUEUE);
        Self {
            link: p.link,
            prefix: p.prefix.to_owned(),
            instance: p.instance.to_owned(),
            script: redis::Script::new(PUSH),
            lease_script: redis::Script::new(LEASE),
            interval: p.interval,
            wait: p.wait,
            lease_ttl: p.lease_ttl,
            strict_below: p.strict_below,
            pushes: AtomicU64::new(0),
            leases: AtomicU64::new(0),
            waits: std::sync::Mutex::new(HashMap::new()),
            lease_tx,
            lease_rx: tokio::sync::Mutex::new(rx),
        }
    }

    /// The push script, loaded on every (re)connect so pipelines can call it by hash.
    pub(super) fn script(&self) -> &redis::Script {
        &self.script
    }

    /// Leases taken from Redis so far.
    pub fn leases(&self) -> u64 {
        self.leases.load(Relaxed)
    }

    /// Whether `limit` is a strict quota.
    pub fn is_strict(&self, limit: i64) -> bool {
        limit <= self.strict_below
    }

    fn lease_key(&self, token: i64) -> String {
        format!("{}quota:lease:token:{token}:{}", self.prefix, self.instance)
    }

    fn leases_key(&self, token: i64) -> String {
        format!("{}quota:leases:token:{token}", self.prefix)
    }

    fn ttl_ms(&self) -> u64 {
        self.lease_ttl.as_millis() as u64
    }

    fn wait_of(&self, token: i64) -> Arc<LeaseWait> {
        let mut w = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        w.entry(token).or_default().clone()
    }

    /// Reserves `estimate` of a strict quota from this instance's lease, leasing more (waited
    /// for at most `redis_wait`) when it holds too little.
    pub async fn reserve(&self, token: &Arc<TokenEntry>, estimate: i64) -> Leased {
        if let Some(r) = token.quota.try_reserve_leased(estimate) {
            return Leased::Reserved(r);
        }
        if !self.link.is_up() {
            return Leased::Unavailable;
        }
        let wait = self.wait_of(token.id);
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let filled = wait.filled.notified();
            tokio::pin!(filled);
            filled.as_mut().enable();
            {
                let mut s = wait.state.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((until, used)) = s.refused {
                    if until > tokio::time::Instant::now() {
                        return Leased::Refused { used };
                    }
                    s.refused = None;
                }
                s.need = s.need.max(estimate - token.quota.lease());
                if !s.queued {
                    s.queued = true;
                    if self
                        .lease_tx
                        .try_send((token.clone(), wait.clone()))
                        .is_err()
                    {
                        s.queued = false;
                        return Leased::Unavailable;
                    }
                }
            }
            if let Some(r) = token.quota.try_reserve_leased(estimate) {
                return Leased::Reserved(r);
            }
            tokio::select! {
                () = &mut filled => {}
                () = tokio::time::sleep_until(deadline) => return Leased::Unavailable,
            }
        }
    }

    /// Makes every lease call, up to 32 at once, until `cancel`; a background job.
    pub async fn run_leases(self: Arc<Self>, cancel: CancellationToken) {
        let mut rx = self.lease_rx.lock().await;
        let queue = futures_util::stream::poll_fn(|cx| rx.poll_recv(cx));
        let this = &*self;
        let calls = queue.for_each_concurrent(32, |(token, wait)| async move {
            let need = wait.state.lock().map_or(1, |s| s.need.max(1));
            let limit = token.quota_limit.unwrap_or(0);
            let keys = (
                this.key(token.id),
                this.leases_key(token.id),
                this.lease_key(token.id),
            );
            let (script, seed, ttl) = (&this.lease_script, token.quota.remote(), this.ttl_ms());
            let reply = this
                .link
                .background(|mut c| {
                    let keys = &keys;
                    async move {
                        script
                            .key(&keys.0)
                            .key(&keys.1)
                            .key(&keys.2)
                            .arg(limit)
                            .arg(need)
                            .arg(seed)
                            .arg(ttl)
                            .invoke_async::<(i64, i64, i64)>(&mut c)
                            .await
                    }
                })
                .await;
            {
                let mut s = wait.state.lock().unwrap_or_else(|p| p.into_inner());
                s.queued = false;
                s.need = 0;
                match reply {
                    Ok((got, _, _)) if got > 0 => {
                        this.leases.fetch_add(1, Relaxed);
                        token.quota.add_lease(got);
                    }
                    Ok((_, total, leased)) => {
                        s.refused = Some((
                            tokio::time::Instant::now() + LEASE_REFUSAL,
                            total.saturating_add(leased),
                        ));
                    }
                    Err(_) => {}
                }
            }
            wait.filled.notify_waiters();
        });
        tokio::select! {
            () = cancel.cancelled() => {}
            () = calls => {}
        }
    }

    /// Round trips that pushed spend or read totals.
    pub fn pushes(&self) -> u64 {
        self.pushes.load(Relaxed)
    }

    fn key(&self, token: i64) -> String {
        format!("{}quota:token:{token}", self.prefix)
    }

    /// Pushes every token's unpushed spend, gives back leases unused for `LEASE_IDLE_MS` (all
    /// of them with `all_leases`), and reads the totals back: one round trip.
    pub async fn push_once(&self, table: &TokenTable, all_leases: bool) {
        if !self.link.is_up() {
            return;
        }
        let now = now_ms();
        let batch: Vec<(Arc<TokenEntry>, i64, i64)> = table
            .metered()
            .into_iter()
            .filter(|e| {
                e.quota.unpushed() != 0
                    || e.quota.lease() > 0
                    || now - e.quota.last_used_ms() < RECENT_MS
            })
            .take(MAX_PER_PUSH)
            .map(|e| {
                let d = e.quota.take_unpushed();
                let idle = all_leases || now - e.quota.last_used_ms() >= LEASE_IDLE_MS;
                let back = if idle { e.quota.take_lease() } else { 0 };
                (e, d, back)
            })
            .collect();
        if batch.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        let sha = self.script.get_hash();
        for (e, d, back) in &batch {
            pipe.cmd("EVALSHA")
                .arg(sha)
                .arg(2)
                .arg(self.key(e.id))
                .arg(self.lease_key(e.id))
                .arg(*d)
                .arg(e.quota.remote())
                .arg(*back)
                .arg(self.ttl_ms());
        }
        let pipe = &pipe;
        let reply = self
            .link
            .background(|mut c| async move { pipe.query_async::<Vec<i64>>(&mut c).await })
            .await;
        match reply {
            Ok(totals) if totals.len() == batch.len() => {
                self.pushes.fetch_add(1, Relaxed);
                for ((e, d, _), total) in batch.iter().zip(totals) {
                    e.quota.pushed(*d, total);
                }
            }
            Ok(_) | Err(_) => {
                // A lease not given back is not lost: Redis lets it expire.
                for (e, d, _) in &batch {
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
                    self.push_once(&table, true).await;
                    return;
                }
                _ = tick.tick() => self.push_once(&table, false).await,
            }
        }
    }
}
