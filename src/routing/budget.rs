//! The retry budget over all traffic: retries may be at most a share of requests over a
//! sliding window (with a small floor per second), so an outage is never multiplied.
//!
//! Owns: counting requests and granted retries, and the grant decision.
//! Must never: grant a retry beyond `max(ratio * requests, min_per_sec * window)` within the
//! window, or read the clock itself.

use super::window::Window;
use crate::config::RoutingConfig;
use serde::Serialize;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub(super) struct RetryBudget {
    ratio: f64,
    floor: f64,
    /// (requests, retries granted)
    counts: Window,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct BudgetSnapshot {
    pub requests: u64,
    pub retries: u64,
    /// Retries the budget allows over the window at this traffic.
    pub allowed: u64,
}

impl RetryBudget {
    pub(super) fn new(policy: &RoutingConfig, now: Instant) -> Self {
        Self {
            ratio: policy.retry_budget_ratio,
            floor: policy.retry_budget_min_per_sec * policy.retry_budget_window.as_secs_f64(),
            counts: Window::new(policy.retry_budget_window, now),
        }
    }

    /// A client request arrived (its first attempt).
    pub(super) fn request(&mut self, now: Instant) {
        self.counts.add(now, 1, 0);
    }

    /// Takes one retry from the budget if there is one left.
    pub(super) fn try_retry(&mut self, now: Instant) -> bool {
        let (requests, retries) = self.counts.totals(now);
        if retries < self.allowed(requests) {
            self.counts.add(now, 0, 1);
            true
        } else {
            false
        }
    }

    fn allowed(&self, requests: u64) -> u64 {
        // f64 -> u64 `as` saturates; both operands are finite and >= 0 (validated).
        (self.ratio * requests as f64).max(self.floor).floor() as u64
    }

    pub(super) fn snapshot(&mut self, now: Instant) -> BudgetSnapshot {
        let (requests, retries) = self.counts.totals(now);
        BudgetSnapshot {
            requests,
            retries,
            allowed: self.allowed(requests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn budget(ratio: f64, min_per_sec: f64, now: Instant) -> RetryBudget {
        let policy = RoutingConfig {
            retry_budget_ratio: ratio,
            retry_budget_min_per_sec: min_per_sec,
            retry_budget_window: Duration::from_secs(10),
            ..RoutingConfig::default()
        };
        RetryBudget::new(&policy, now)
    }

    #[test]
    fn allows_a_share_of_requests_above_the_floor() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 0.1, t0); // floor: 1 retry per 10 s
        assert!(b.try_retry(t0), "the floor");
        assert!(!b.try_retry(t0));
        for _ in 0..20 {
            b.request(t0);
        }
        let granted = (0..10).filter(|_| b.try_retry(t0)).count();
        assert_eq!(granted, 3, "0.2 * 20 = 4 in all, one already taken");
        assert!(
            b.try_retry(t0 + Duration::from_secs(11)),
            "the window moved on"
        );
    }

    proptest! {
        /// Over any run, within one window the granted retries never pass the allowance
        /// computed from that window's requests.
        #[test]
        fn budget_is_never_exceeded(
            ratio in 0.0f64..1.0,
            min_per_sec in 0.0f64..2.0,
            events in proptest::collection::vec((0u64..3_000, any::<bool>()), 1..400),
        ) {
            let t0 = Instant::now();
            let mut b = budget(ratio, min_per_sec, t0);
            let mut now = t0;
            let floor = min_per_sec * 10.0;
            let mut log: Vec<(Instant, bool, bool)> = Vec::new(); // (time, is_request, granted)
            for (gap_ms, is_request) in events {
                now += Duration::from_millis(gap_ms);
                if is_request {
                    b.request(now);
                    log.push((now, true, false));
                } else {
                    let granted = b.try_retry(now);
                    log.push((now, false, granted));
                }
                if log.last().is_some_and(|e| e.2) {
                    // At each grant: the retries of the last 9 s (all inside the bucketed
                    // window) fit the allowance of the requests of the last 10 s (a superset
                    // of the bucketed window).
                    let since9 = now.checked_sub(Duration::from_secs(9)).unwrap_or(t0);
                    let since10 = now.checked_sub(Duration::from_secs(10)).unwrap_or(t0);
                    let retries = log.iter().filter(|e| e.0 > since9 && e.2).count() as f64;
                    let requests = log.iter().filter(|e| e.0 >= since10 && e.1).count() as f64;
                    prop_assert!(retries <= (ratio * requests).max(floor).floor() + 1e-9,
                        "{} retries for {} requests", retries, requests);
                }
            }
        }
    }
}
