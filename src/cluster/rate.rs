//! Rate limits shared by every instance: one bucket per limit in Redis, spent here in chunks.
//!
//! Each limit (a token's requests or tokens per window) is a bucket in Redis, refilled
//! continuously at `limit / window` up to `limit`, changed only by one Lua script (server time,
//! take-what-is-asked-or-nothing). An instance takes a chunk of it at once (`store.cluster.chunk`
//! of the limit, at least what the request needs) and spends it locally; the next chunk is
//! fetched in the background when half is spent, so most requests never wait on Redis. A
//! request waits (at most `store.cluster.redis_wait`) only when its instance's chunk is empty.
//! A refusal from Redis is remembered here until the bucket can serve again.
//!
//! The bound: over any run of length T, a limit L per window W on N instances admits at most
//! `L + L*T/W + N*c` (c the chunk: each instance may enter the run holding one) and, while
//! demand lasts, at least `L + L*T/W - N*c` (chunks taken and not yet spent).
//!
//! While Redis is down (or a wait runs out), each instance enforces its share,
//! `max(1, L / live instances)` per window, in a local limiter (live instances from the store's
//! heartbeat rows); every such decision is counted.
//!
//! Owns: the shares (one per limit this instance has used), the script, the prefetch queue and
//! its job, the fallback limiters.
//! Must never: wait on Redis beyond `redis_wait` on the request path, queue prefetches without
//! bound, or admit past the bucket while Redis is up (only the chunks above can).

use super::link::{LinkError, RedisLink};
use crate::limits::rate::{RateInfo, RateKind, RateLimited, Rpm, Tpm, TpmHold};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Prefetches waiting at most (beyond, a share is fetched by its next empty-handed request).
const PREFETCH_QUEUE: usize = 1024;

/// Takes `want` (at least `need`) from the bucket `KEYS[1]` of `ARGV[1]` per `ARGV[2]` ms, or
/// nothing; returns `{taken, wait_ms, level_after}`. A need above the bucket's size takes a
/// full bucket (the level goes negative, as the local limiter does).
const TAKE: &str = r"
local cap = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local need = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'v', 't')
local v = tonumber(s[1])
local at = tonumber(s[2])
if v == nil or at == nil then
  v = cap
  at = now
end
if now > at then
  v = math.min(cap, v + (now - at) * cap / win)
end
local floor_need = math.min(need, cap)
local got = 0
local wait = 0
if v + 0.000001 < floor_need then
  wait = math.ceil((floor_need - v) * win / cap)
else
  got = math.max(need, math.min(want, math.floor(v)))
  v = v - got
end
redis.call('HSET', KEYS[1], 'v', tostring(v), 't', now)
redis.call('PEXPIRE', KEYS[1], win * 2 + 1000)
return {got, wait, math.floor(math.max(v, 0))}
";

/// Which limit a share belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub token: i64,
    pub kind: RateKind,
}

impl BucketKey {
    fn redis_key(&self, prefix: &str) -> String {
        let kind = match self.kind {
            RateKind::Requests => "requests",
            RateKind::Tokens => "tokens",
        };
        format!("{prefix}rate:token:{}:{kind}", self.token)
    }
}

#[derive(Debug)]
enum Fallback {
    Requests(Arc<Rpm>),
    Tokens(Arc<Tpm>),
}

#[derive(Debug)]
struct ShareState {
    limit: u64,
    window: Duration,
    chunk: u64,
    /// Taken from Redis and not spent; negative after answers longer than their estimates.
    balance: i64,
    /// Redis's level at the last take (for the headers).
    level: u64,
    denied_until: Option<Instant>,
    prefetching: bool,
    fallback: Option<(u64, Fallback)>,
}

/// This instance's part of one shared limit.
#[derive(Debug)]
pub struct Share {
    key: BucketKey,
    redis_key: String,
    state: Mutex<ShareState>,
    fetching: tokio::sync::Mutex<()>,
}

enum Local {
    Taken(RateInfo),
    Denied(RateLimited),
    Empty,
}

impl Share {
    fn state(&self) -> MutexGuard<'_, ShareState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn info(s: &ShareState) -> RateInfo {
        let remaining = (s.level as i64 + s.balance.max(0)).clamp(0, s.limit as i64) as u64;
        let missing = s.limit - remaining;
        RateInfo {
            limit: s.limit,
            remaining,
            reset: s.window.mul_f64(missing as f64 / s.limit as f64),
        }
    }

    fn denied(&self, s: &ShareState, wait: Duration) -> RateLimited {
        RateLimited {
            kind: self.key.kind,
            retry_after: wait.max(Duration::from_millis(1)),
            info: RateInfo {
                limit: s.limit,
                remaining: 0,
                reset: wait,
            },
        }
    }

    fn take_local(&self, n: u64, now: Instant) -> Local {
        let mut s = self.state();
        if let Some(until) = s.denied_until {
            if until > now {
                let wait = until - now;
                return Local::Denied(self.denied(&s, wait));
            }
            s.denied_until = None;
        }
        let need = i64::try_from(n).unwrap_or(i64::MAX);
        if s.balance >= need && s.balance > 0 {
            s.balance -= need;
            Local::Taken(Self::info(&s))
        } else {
            Local::Empty
        }
    }

    /// `(want, need)` for a take that lets `n` through.
    fn wants(&self, n: u64) -> (u64, u64) {
        let s = self.state();
        let need = (n as i64 - s.balance).max(1) as u64;
        (need.max(s.chunk), need)
    }

    /// Applies a take's reply, then spends `n` from it.
    fn apply(&self, reply: (u64, u64, u64), n: u64, now: Instant) -> Result<RateInfo, RateLimited> {
        let (got, wait_ms, level) = reply;
        let mut s = self.state();
        s.level = level;
        if got == 0 {
            let wait = Duration::from_millis(wait_ms.max(1));
            s.denied_until = Some(now + wait);
            return Err(self.denied(&s, wait));
        }
        s.balance = s.balance.saturating_add(got as i64) - n as i64;
        Ok(Self::info(&s))
    }

    fn give_back(&self, units: i64) {
        let mut s = self.state();
        s.balance = s.balance.saturating_add(units);
    }

    /// Whether a prefetch should start now (marks it started).
    fn needs_prefetch(&self) -> bool {
        let mut s = self.state();
        if s.prefetching || s.balance * 2 >= s.chunk as i64 {
            return false;
        }
        s.prefetching = true;
        true
    }
}

/// One request's tokens taken from a shared bucket: the difference to the real count settles
/// locally (a longer answer leaves a debt the next take pays).
#[derive(Debug)]
pub struct SharedHold {
    share: Arc<Share>,
    estimate: u64,
    open: bool,
}

impl SharedHold {
    pub fn settle(mut self, actual: u64) {
        self.share.give_back(self.estimate as i64 - actual as i64);
        self.open = false;
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        if self.open {
            self.share.give_back(self.estimate as i64);
        }
    }
}

/// A request's tokens per window, held until it settles.
#[derive(Debug)]
pub enum TokensHold {
    Local(TpmHold),
    Shared(SharedHold),
}

impl TokensHold {
    pub fn settle(self, actual: u64) {
        match self {
            TokensHold::Local(h) => h.settle(actual),
            TokensHold::Shared(h) => h.settle(actual),
        }
    }
}

pub struct SharedRates {
    link: Arc<RedisLink>,
    prefix: String,
    chunk: f64,
    wait: Duration,
    live: Arc<AtomicU32>,
    script: redis::Script,
    shares: Mutex<HashMap<BucketKey, Arc<Share>>>,
    prefetch_tx: mpsc::Sender<Arc<Share>>,
    prefetch_rx: tokio::sync::Mutex<mpsc::Receiver<Arc<Share>>>,
    fallbacks: AtomicU64,
    waits: AtomicU64,
}

impl SharedRates {
    pub fn new(
        link: Arc<RedisLink>,
        prefix: &str,
        chunk: f64,
        wait: Duration,
        live: Arc<AtomicU32>,
    ) -> Self {
        let (prefetch_tx, rx) = mpsc::channel(PREFETCH_QUEUE);
        Self {
            link,
            prefix: prefix.to_owned(),
            chunk,
            wait,
            live,
            script: redis::Script::new(TAKE),
            shares: Mutex::new(HashMap::new()),
            prefetch_tx,
            prefetch_rx: tokio::sync::Mutex::new(rx),
            fallbacks: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        }
    }

    /// Decisions made from the local share (Redis down, or its wait ran out).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Relaxed)
    }

    /// Requests that waited on Redis (their chunk was empty).
    pub fn waits(&self) -> u64 {
        self.waits.load(Relaxed)
    }

    /// Shares held (one per limit used here).
    pub fn len(&self) -> usize {
        self.shares.lock().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn share(&self, key: BucketKey, limit: u64, window: Duration) -> Arc<Share> {
        let mut shares = self.shares.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = shares.get(&key) {
            {
                let st = s.state();
                if st.limit == limit && st.window == window {
                    return s.clone();
                }
            }
            shares.remove(&key);
        }
        let chunk = ((limit as f64 * self.chunk).ceil() as u64).max(1);
        let share = Arc::new(Share {
            key,
            redis_key: key.redis_key(&self.prefix),
            state: Mutex::new(ShareState {
                limit,
                window,
                chunk,
                balance: 0,
                level: limit,
                denied_until: None,
                prefetching: false,
                fallback: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        });
        shares.insert(key, share.clone());
        share
    }

    async fn take(&self, share: &Arc<Share>, n: u64) -> Result<Option<RateInfo>, RateLimited> {
        match share.take_local(n, Instant::now()) {
            Local::Taken(info) => {
                self.prefetch(share);
                return Ok(Some(info));
            }
            Local::Denied(refused) => return Err(refused),
            Local::Empty => {}
        }
        if !self.link.is_up() {
            return Ok(None);
        }
        self.waits.fetch_add(1, Relaxed);
        let started = Instant::now();
        let fetched = tokio::time::timeout(self.wait, async {
            let _one_at_a_time = share.fetching.lock().await;
            match share.take_local(n, Instant::now()) {
                Local::Taken(info) => return Ok(Ok(info)),
                Local::Denied(refused) => return Ok(Err(refused)),
                Local::Empty => {}
            }
            let left = self.wait.saturating_sub(started.elapsed());
            let reply = self.invoke(share, n, left).await?;
            Ok::<_, LinkError>(share.apply(reply, n, Instant::now()))
        })
        .await;
        match fetched {
            Ok(Ok(Ok(info))) => {
                self.prefetch(share);
                Ok(Some(info))
            }
            Ok(Ok(Err(refused))) => Err(refused),
            Ok(Err(_)) | Err(_) => Ok(None),
        }
    }

    async fn invoke(
        &self,
        share: &Share,
        n: u64,
        wait: Duration,
    ) -> Result<(u64, u64, u64), LinkError> {
        let (want, need, limit, window_ms) = {
            let (want, need) = share.wants(n);
            let s = share.state();
            (want, need, s.limit, s.window.as_millis().max(1) as u64)
        };
        let script = &self.script;
        let key = &share.redis_key;
        self.link
            .call(wait, |mut c| async move {
                script
                    .key(key)
                    .arg(limit)
                    .arg(window_ms)
                    .arg(want)
                    .arg(need)
                    .invoke_async::<(u64, u64, u64)>(&mut c)
                    .await
            })
            .await
    }

    fn prefetch(&self, share: &Arc<Share>) {
        if self.link.is_up()
            && share.needs_prefetch()
            && self.prefetch_tx.try_send(share.clone()).is_err()
        {
            share.state().prefetching = false;
        }
    }

    fn live(&self) -> u64 {
        u64::from(self.live.load(Relaxed).max(1))
    }

    /// Counts one request against `limit` per `window`.
    pub async fn requests(
        &self,
        token: i64,
        limit: NonZeroU32,
        window: Duration,
    ) -> Result<RateInfo, RateLimited> {
        let key = BucketKey {
            token,
            kind: RateKind::Requests,
        };
        let share = self.share(key, u64::from(limit.get()), window);
        if let Some(info) = self.take(&share, 1).await? {
            return Ok(info);
        }
        self.fallbacks.fetch_add(1, Relaxed);
        let part = (u64::from(limit.get()) / self.live()).max(1);
        let rpm = {
            let mut s = share.state();
            match &s.fallback {
                Some((p, Fallback::Requests(r))) if *p == part => r.clone(),
                _ => {
                    let nz = NonZeroU32::new(u32::try_from(part).unwrap_or(u32::MAX))
                        .unwrap_or(NonZeroU32::MIN);
                    let r = Arc::new(Rpm::new(nz, window));
                    s.fallback = Some((part, Fallback::Requests(r.clone())));
                    r
                }
            }
        };
        rpm.check()
    }

    /// Takes `estimate` tokens against `limit` per `window`.
    pub async fn tokens(
        &self,
        token: i64,
        limit: u64,
        window: Duration,
        estimate: u64,
    ) -> Result<(TokensHold, RateInfo), RateLimited> {
        let key = BucketKey {
            token,
            kind: RateKind::Tokens,
        };
        let share = self.share(key, limit, window);
        if let Some(info) = self.take(&share, estimate).await? {
            let hold = SharedHold {
                share,
                estimate,
                open: true,
            };
            return Ok((TokensHold::Shared(hold), info));
        }
        self.fallbacks.fetch_add(1, Relaxed);
        let part = (limit / self.live()).max(1);
        let tpm = {
            let mut s = share.state();
            match &s.fallback {
                Some((p, Fallback::Tokens(t))) if *p == part => t.clone(),
                _ => {
                    let t = Arc::new(Tpm::new(part, window, Instant::now()));
                    s.fallback = Some((part, Fallback::Tokens(t.clone())));
                    t
                }
            }
        };
        let (hold, info) = tpm.reserve(estimate, Instant::now())?;
        Ok((TokensHold::Local(hold), info))
    }

    /// Fetches the chunks asked for in the background until `cancel`; a background job.
    pub async fn run_prefetch(self: Arc<Self>, cancel: CancellationToken) {
        // Held while the job runs (a restarted job takes it over).
        let mut rx = self.prefetch_rx.lock().await;
        loop {
            let share = tokio::select! {
                () = cancel.cancelled() => return,
                next = rx.recv() => match next {
                    Some(s) => s,
                    None => return,
                },
            };
            let reply = self.invoke(&share, 0, self.link.timeout()).await;
            let mut s = share.state();
            s.prefetching = false;
            if let Ok((got, _, level)) = reply {
                s.level = level;
                s.balance = s.balance.saturating_add(got as i64);
            }
        }
    }
}
