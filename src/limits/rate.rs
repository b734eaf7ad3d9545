//! Per-token rate limits on one instance: requests per window (GCRA, `governor`) and tokens
//! per window (a token bucket that reserves the estimate and adjusts to the real count). The
//! window is a minute unless the token sets its own (`rate_window`).
//!
//! Owns: both limiters, the wait a refused request is told (`retry-after`), and the values of
//! the `x-ratelimit-*` headers OpenAI clients read.
//! Must never: block, or read a clock other than tokio's (so a paused test clock drives it).

use governor::clock::{Clock, ReasonablyRealtime};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The window of `rpm` and `tpm` unless a token sets its own.
pub const MINUTE: Duration = Duration::from_secs(60);

/// tokio's clock for governor (paused in tests like every other timer of ours).
#[derive(Clone, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        Instant::now().into_std()
    }
}

impl ReasonablyRealtime for TokioClock {}

/// One limit's state for the response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Until the limit is fully available again.
    pub reset: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateKind {
    Requests,
    Tokens,
}

/// A limit refused the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub kind: RateKind,
    pub retry_after: Duration,
    pub info: RateInfo,
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, StateInformationMiddleware>;

/// Requests per window: bursts up to the limit, then one request per `window / limit`.
#[derive(Debug)]
pub struct Rpm {
    limit: u32,
    window: Duration,
    gcra: Gcra,
    clock: TokioClock,
}

impl Rpm {
    pub fn new(limit: NonZeroU32, window: Duration) -> Self {
        let clock = TokioClock;
        let period = (window / limit.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(limit))
            .allow_burst(limit);
        Self {
            limit: limit.get(),
            window,
            gcra: RateLimiter::direct_with_clock(quota, clock.clone())
                .with_middleware::<StateInformationMiddleware>(),
            clock,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn per_request(&self) -> Duration {
        self.window / self.limit
    }

    /// Counts one request, or says how long until one is allowed.
    pub fn check(&self) -> Result<RateInfo, RateLimited> {
        match self.gcra.check() {
            Ok(snapshot) => {
                let remaining = u64::from(snapshot.remaining_burst_capacity());
                let missing = u64::from(self.limit).saturating_sub(remaining);
                Ok(RateInfo {
                    limit: u64::from(self.limit),
                    remaining,
                    reset: self.per_request() * missing as u32,
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(RateLimited {
                    kind: RateKind::Requests,
                    retry_after: wait,
                    info: RateInfo {
                        limit: u64::from(self.limit),
                        remaining: 0,
                        reset: wait + self.per_request() * (self.limit - 1),
                    },
                })
            }
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative after an answer longer than its estimate.
    tokens: f64,
    at: Instant,
}

/// Tokens per window: a bucket of `limit` tokens refilled continuously over the window.
#[derive(Debug)]
pub struct Tpm {
    limit: u64,
    window: Duration,
    bucket: Mutex<Bucket>,
}

impl Tpm {
    pub fn new(limit: u64, window: Duration, now: Instant) -> Self {
        Self {
            limit,
            window,
            bucket: Mutex::new(Bucket {
                tokens: limit as f64,
                at: now,
            }),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn rate_per_sec(&self) -> f64 {
        self.limit as f64 / self.window.as_secs_f64()
    }

    fn refilled(&self, now: Instant) -> std::sync::MutexGuard<'_, Bucket> {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate_per_sec()).min(self.limit as f64);
        b.at = now;
        b
    }

    fn info(&self, tokens: f64) -> RateInfo {
        let missing = (self.limit as f64 - tokens).max(0.0);
        RateInfo {
            limit: self.limit,
            remaining: tokens.max(0.0) as u64,
            reset: Duration::from_secs_f64(missing / self.rate_per_sec()),
        }
    }

    /// Takes `estimate` tokens if they are there (an estimate above the limit needs a full
    /// bucket), or says how long until they are.
    pub fn reserve(
        self: &Arc<Self>,
        estimate: u64,
        now: Instant,
    ) -> Result<(TpmHold, RateInfo), RateLimited> {
        let mut b = self.refilled(now);
        let need = estimate.min(self.limit) as f64;
        if b.tokens + 1e-9 < need {
            let wait = Duration::from_secs_f64((need - b.tokens) / self.rate_per_sec());
            return Err(RateLimited {
                kind: RateKind::Tokens,
                retry_after: wait.max(Duration::from_millis(1)),
                info: self.info(b.tokens),
            });
        }
        b.tokens -= estimate as f64;
        let info = self.info(b.tokens);
        drop(b);
        Ok((
            TpmHold {
                tpm: self.clone(),
                estimate,
                open: true,
            },
            info,
        ))
    }

    fn adjust(&self, estimate: u64, actual: u64, now: Instant) {
        let mut b = self.refilled(now);
        b.tokens = (b.tokens + estimate as f64 - actual as f64).min(self.limit as f64);
    }

    pub fn available(&self, now: Instant) -> f64 {
        self.refilled(now).tokens
    }
}

/// One request's tokens taken from the bucket: adjusted to the real count, or given back on
/// drop.
#[derive(Debug)]
pub struct TpmHold {
    tpm: Arc<Tpm>,
    estimate: u64,
    open: bool,
}

impl TpmHold {
    pub fn settle(mut self, actual: u64) {
        self.tpm.adjust(self.estimate, actual, Instant::now());
        self.open = false;
    }
}

impl Drop for TpmHold {
    fn drop(&mut self) {
        if self.open {
            self.tpm.adjust(self.estimate, 0, Instant::now());
        }
    }
}

/// The `x-ratelimit-*` values of an admitted request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<RateInfo>,
    pub tokens: Option<RateInfo>,
}

/// OpenAI's duration form: `20ms`, `1s`, `6m0s`.
pub fn reset_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match secs / 60 {
        0 => format!("{secs}s"),
        m => format!("{m}m{}s", secs % 60),
    }
}

/// Whole seconds for `retry-after` (at least 1).
pub fn retry_after_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl RateHeaders {
    /// Header names and values, in the order OpenAI sends them.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(r) = self.requests {
            out.push(("x-ratelimit-limit-requests", r.limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", r.remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", reset_text(r.reset)));
        }
        if let Some(t) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", t.limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", t.remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", reset_text(t.reset)));
        }
        out
    }
}

impl RateLimited {
    /// The headers of the 429: `retry-after`, `retry-after-ms` and the limit's own.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                "retry-after",
                retry_after_secs(self.retry_after).to_string(),
            ),
            (
                "retry-after-ms",
                self.retry_after.as_millis().max(1).to_string(),
            ),
        ];
        let headers = match self.kind {
            RateKind::Requests => RateHeaders {
                requests: Some(self.info),
                tokens: None,
            },
            RateKind::Tokens => RateHeaders {
                requests: None,
                tokens: Some(self.info),
            },
        };
        out.extend(headers.pairs());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn rpm_allows_a_burst_then_one_per_interval() {
        let rpm = Rpm::new(nz(6), MINUTE);
        for left in (0..6).rev() {
            assert_eq!(rpm.check().unwrap().remaining, left);
        }
        let refused = rpm.check().unwrap_err();
        assert_eq!(refused.kind, RateKind::Requests);
        assert_eq!(refused.retry_after, Duration::from_secs(10));
        let pairs = refused.pairs();
        assert_eq!(pairs[0], ("retry-after", "10".to_owned()));
        assert!(pairs.contains(&("x-ratelimit-limit-requests", "6".to_owned())));
        assert!(pairs.contains(&("x-ratelimit-remaining-requests", "0".to_owned())));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(rpm.check().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        let ok = rpm.check().unwrap();
        assert_eq!((ok.remaining, ok.reset), (0, Duration::from_secs(60)));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            rpm.check().unwrap().remaining,
            5,
            "full again after a minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tpm_reserves_then_adjusts_to_the_real_count() {
        let now = Instant::now();
        let tpm = Arc::new(Tpm::new(600, MINUTE, now));
        let (hold, info) = tpm.reserve(500, now).unwrap();
        assert_eq!(info.remaining, 100);
        let refused = tpm.reserve(200, now).unwrap_err();
        assert_eq!(
            refused.retry_after,
            Duration::from_secs(10),
            "100 missing at 10/s"
        );
        hold.settle(50);
        assert_eq!(tpm.available(Instant::now()), 550.0);
        let (hold, _) = tpm.reserve(550, Instant::now()).unwrap();
        drop(hold);
        assert_eq!(
            tpm.available(Instant::now()),
            550.0,
            "a dropped hold gives it back"
        );
        let (hold, _) = tpm.reserve(100, Instant::now()).unwrap();
        hold.settle(1000);
        assert!(
            tpm.available(Instant::now()) < 0.0,
            "a long answer is charged in full"
        );
        let wait = tpm.reserve(1, Instant::now()).unwrap_err().retry_after;
        tokio::time::advance(wait).await;
        assert!(tpm.reserve(1, Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_estimate_above_the_limit_needs_a_full_bucket() {
        let now = Instant::now();
        let tpm = Arc::new(Tpm::new(100, MINUTE, now));
        let (hold, _) = tpm.reserve(250, now).unwrap();
        hold.settle(250);
        assert!(tpm.reserve(250, now).is_err());
        tokio::time::advance(Duration::from_secs(150)).await;
        assert!(tpm.reserve(250, Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_window_sets_the_refill() {
        let rpm = Rpm::new(nz(60), Duration::from_secs(10));
        for _ in 0..60 {
            rpm.check().unwrap();
        }
        let refused = rpm.check().unwrap_err();
        assert_eq!(refused.retry_after.as_millis(), 166, "10 s / 60");
        tokio::time::advance(Duration::from_millis(167)).await;
        rpm.check().unwrap();
        let now = Instant::now();
        let tpm = Arc::new(Tpm::new(100, Duration::from_secs(10), now));
        tpm.reserve(100, now).unwrap().0.settle(100);
        assert_eq!(
            tpm.reserve(10, now).unwrap_err().retry_after,
            Duration::from_secs(1),
            "10 tokens a second"
        );
    }

    #[test]
    fn header_texts_follow_openai() {
        assert_eq!(reset_text(Duration::from_millis(20)), "20ms");
        assert_eq!(reset_text(Duration::from_secs(1)), "1s");
        assert_eq!(reset_text(Duration::from_millis(1500)), "2s");
        assert_eq!(reset_text(Duration::from_secs(360)), "6m0s");
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
