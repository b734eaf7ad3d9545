//! A channel's own rate limits (`rpm`, `tpm` per `rate_window`): the state the router reads
//! to skip a channel at its limit, and what health shows of it.
//!
//! Owns: the channel's local limiters (one instance: `limits::rate`), the refusal remembered
//! until the channel can take a request again (requests per window only: a tokens refusal is
//! about one request's estimate, a smaller one may fit), the last remaining counts seen, the
//! count of attempts skipped for the limit, and the [`LimitsSnapshot`].
//! Must never: do I/O or wait (the relay takes the limit, locally or from the shared bucket,
//! and reports here), or read a clock (callers pass `now`).

use crate::cluster::rate::Scope;
use crate::config::ChannelConfig;
use crate::limits::rate::{RateInfo, RateKind, RateLimited, Rpm, Tpm, MINUTE};
use serde::Serialize;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// One channel's limits and what was last seen of them.
#[derive(Debug)]
pub struct ChannelLimits {
    name: Arc<str>,
    rpm: Option<Rpm>,
    tpm: Option<Arc<Tpm>>,
    window: Duration,
    seen: Mutex<Seen>,
    skipped: AtomicU64,
}

#[derive(Debug, Default)]
struct Seen {
    requests: Option<(RateInfo, Instant)>,
    tokens: Option<(RateInfo, Instant)>,
    /// A requests-per-window refusal: no request before then.
    over_until: Option<Instant>,
    /// The limits were last taken from the shared buckets (Redis), not the local limiters.
    shared: bool,
}

/// A channel's limits for `/api/monitor/health` and the admin API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimitsSnapshot {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub window_ms: u64,
    /// Requests left in the window as last seen here (refilled since); with Redis, the shared
    /// bucket's level at this instance's last take plus its unspent chunk.
    pub requests_remaining: Option<u64>,
    pub tokens_remaining: Option<u64>,
    /// While a requests refusal holds: until the channel takes a request again.
    pub limited_for_ms: Option<u64>,
    /// Attempts that skipped this channel for its limit (another channel was tried, or the
    /// client got 429).
    pub skipped: u64,
}

impl ChannelLimits {
    /// The limits of a channel, `None` when it sets none.
    pub(super) fn from_config(c: &ChannelConfig, now: Instant) -> Option<Self> {
        if c.rpm.is_none() && c.tpm.is_none() {
            return None;
        }
        let window = c.rate_window.unwrap_or(MINUTE);
        Some(Self {
            name: Arc::from(c.name.as_str()),
            rpm: c.rpm.and_then(NonZeroU32::new).map(|n| Rpm::new(n, window)),
            tpm: c.tpm.map(|t| Arc::new(Tpm::new(t, window, now))),
            window,
            seen: Mutex::new(Seen::default()),
            skipped: AtomicU64::new(0),
        })
    }

    /// Whether `c` sets these very limits (a rebuilt channel keeps its limiters then).
    pub(super) fn same_as(&self, c: &ChannelConfig) -> bool {
        *self.name == *c.name
            && self.rpm.as_ref().map(Rpm::limit) == c.rpm
            && self.tpm.as_ref().map(|t| t.limit()) == c.tpm
            && self.window == c.rate_window.unwrap_or(MINUTE)
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The local requests limiter (one instance), when the channel sets `rpm`.
    pub fn rpm(&self) -> Option<&Rpm> {
        self.rpm.as_ref()
    }

    /// The local tokens limiter (one instance), when the channel sets `tpm`.
    pub fn tpm(&self) -> Option<&Arc<Tpm>> {
        self.tpm.as_ref()
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whose limit it is in the shared buckets.
    pub fn scope(&self) -> Scope {
        Scope::Channel(self.name.clone())
    }

    /// A limit let an attempt through, leaving `info` (`shared`: taken from the shared bucket).
    pub fn passed(&self, kind: RateKind, info: RateInfo, shared: bool, now: Instant) {
        let mut seen = self.seen();
        seen.shared = shared;
        match kind {
            RateKind::Requests => seen.requests = Some((info, now)),
            RateKind::Tokens => seen.tokens = Some((info, now)),
        }
    }

    /// A limit turned an attempt away: counted, and a requests refusal remembered until it
    /// passes (the router skips the channel meanwhile without asking the limiter).
    pub fn refused(&self, refusal: &RateLimited, now: Instant) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.seen();
        let info = RateInfo {
            remaining: 0,
            ..refusal.info
        };
        match refusal.kind {
            RateKind::Requests => {
                seen.requests = Some((info, now));
                let until = now + refusal.retry_after;
                seen.over_until = Some(seen.over_until.map_or(until, |u| u.max(until)));
            }
            RateKind::Tokens => seen.tokens = Some((info, now)),
        }
    }

    /// Until when the channel is known to be at its requests limit.
    pub(super) fn over_until(&self, now: Instant) -> Option<Instant> {
        self.seen().over_until.filter(|u| *u > now)
    }

    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    pub(super) fn snapshot(&self, now: Instant) -> LimitsSnapshot {
        let seen = self.seen();
        let requests = self.rpm.as_ref().map(|r| {
            let limit = u64::from(r.limit());
            refilled(seen.requests, limit, self.window, now)
        });
        let tokens = self.tpm.as_ref().map(|t| {
            if seen.shared {
                refilled(seen.tokens, t.limit(), self.window, now)
            } else {
                // The local bucket knows exactly, settled answers included.
                t.available(now).max(0.0) as u64
            }
        });
        LimitsSnapshot {
            rpm: self.rpm.as_ref().map(Rpm::limit),
            tpm: self.tpm.as_ref().map(|t| t.limit()),
            window_ms: millis(self.window),
            requests_remaining: requests,
            tokens_remaining: tokens,
            limited_for_ms: seen
                .over_until
                .filter(|u| *u > now)
                .map(|u| millis(u - now)),
            skipped: self.skipped(),
        }
    }
}

/// What is left of `limit` now, from what was left at the last look (refilled continuously
/// over the window since); the whole limit when never looked at.
fn refilled(seen: Option<(RateInfo, Instant)>, limit: u64, window: Duration, now: Instant) -> u64 {
    let Some((info, at)) = seen else {
        return limit;
    };
    let elapsed = now.saturating_duration_since(at).as_secs_f64();
    let back = (elapsed / window.as_secs_f64().max(1e-9) * limit as f64).floor() as u64;
    info.remaining.saturating_add(back).min(limit)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn channel(extra: &str) -> ChannelConfig {
        let text = format!(
            r#"
            [[channels]]
            name = "c"
            provider = "openai"
            base_url = "http://127.0.0.1:1/v1"
            keys = ["k"]
            models = ["m"]
            {extra}
            [[tokens]]
            key = "t"
            "#
        );
        let cfg = Config::parse(&text).unwrap();
        cfg.validate().unwrap();
        cfg.channels[0].clone()
    }

    #[test]
    fn no_limits_no_state() {
        assert!(ChannelLimits::from_config(&channel(""), Instant::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_requests_refusal_is_remembered_and_counted() {
        let now = Instant::now();
        let c = channel("rpm = 2\nrate_window = \"10s\"");
        let l = ChannelLimits::from_config(&c, now).unwrap();
        assert!(l.same_as(&c));
        assert!(!l.same_as(&channel("rpm = 3\nrate_window = \"10s\"")));
        let rpm = l.rpm().unwrap();
        let info = rpm.check().unwrap();
        l.passed(RateKind::Requests, info, false, now);
        assert_eq!(l.snapshot(now).requests_remaining, Some(1));
        rpm.check().unwrap();
        let refused = rpm.check().unwrap_err();
        l.refused(&refused, now);
        assert_eq!(l.over_until(now), Some(now + Duration::from_secs(5)));
        let s = l.snapshot(now);
        assert_eq!(
            (s.rpm, s.window_ms, s.requests_remaining, s.skipped),
            (Some(2), 10_000, Some(0), 1)
        );
        assert_eq!(s.limited_for_ms, Some(5000));
        let later = now + Duration::from_secs(5);
        assert_eq!(l.over_until(later), None);
        assert_eq!(l.snapshot(later).requests_remaining, Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokens_refusal_is_counted_not_remembered() {
        let now = Instant::now();
        let l = ChannelLimits::from_config(&channel("tpm = 100"), now).unwrap();
        assert_eq!(l.window(), MINUTE);
        let tpm = l.tpm().unwrap();
        let (hold, info) = tpm.reserve(80, now).unwrap();
        l.passed(RateKind::Tokens, info, false, now);
        let refused = tpm.reserve(50, now).unwrap_err();
        l.refused(&refused, now);
        assert_eq!(l.over_until(now), None, "a smaller request may fit");
        assert_eq!(l.snapshot(now).tokens_remaining, Some(20));
        hold.settle(10);
        assert_eq!(
            l.snapshot(Instant::now()).tokens_remaining,
            Some(90),
            "settled on the real count"
        );
        assert_eq!(l.skipped(), 1);
    }
}
