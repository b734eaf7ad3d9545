//! A channel's circuit breaker: closed, open for a growing backoff, half-open with one probe.
//!
//! Owns: the state machine and its thresholds (consecutive faults, fault rate over a window).
//! Must never: read the clock (callers pass `now`), or count anything but upstream faults
//! (client 4xx, rate limits and key problems are not the channel's health).

use super::window::Window;
use crate::config::BreakerConfig;
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// `since`: when the circuit opened (kept while half-open), for panic mode's "longest ago".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Open { since: Instant, until: Instant },
    HalfOpen { since: Instant, probing: bool },
}

/// What the breaker says to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    Yes,
    /// The one request let through a half-open circuit; its outcome decides.
    Probe,
    No,
}

#[derive(Clone, Debug)]
pub(super) struct Breaker {
    policy: BreakerConfig,
    state: State,
    consecutive: u32,
    /// (successes, faults) while closed.
    window: Window,
    /// Opens since the circuit was last closed: the backoff exponent.
    trips: u32,
}

impl Breaker {
    pub(super) fn new(policy: &BreakerConfig, now: Instant) -> Self {
        Self {
            window: Window::new(policy.window, now),
            policy: policy.clone(),
            state: State::Closed,
            consecutive: 0,
            trips: 0,
        }
    }

    /// The state as seen from outside: an open circuit whose backoff has passed is half-open.
    pub(super) fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { until, .. } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether [`Breaker::admit`] would let a request through now (without taking the probe).
    pub(super) fn can_admit(&self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until, .. } => now >= until,
            State::HalfOpen { probing, .. } => !probing,
        }
    }

    pub(super) fn admit(&mut self, now: Instant) -> Admit {
        match self.state {
            State::Closed => Admit::Yes,
            State::Open { since, until } if now >= until => {
                self.state = State::HalfOpen {
                    since,
                    probing: true,
                };
                Admit::Probe
            }
            State::HalfOpen {
                since,
                probing: false,
            } => {
                self.state = State::HalfOpen {
                    since,
                    probing: true,
                };
                Admit::Probe
            }
            State::Open { .. } | State::HalfOpen { probing: true, .. } => Admit::No,
        }
    }

    /// When an open circuit lets a probe through.
    pub(super) fn retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Open { until, .. } => Some(until),
            _ => None,
        }
    }

    /// When the circuit opened, while it is not closed.
    pub(super) fn opened_at(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Open { since, .. } | State::HalfOpen { since, .. } => Some(since),
        }
    }

    pub(super) fn consecutive_failures(&self) -> u32 {
        self.consecutive
    }

    pub(super) fn trips(&self) -> u32 {
        self.trips
    }

    pub(super) fn success(&mut self, now: Instant, probe: bool) {
        match self.state {
            State::HalfOpen { probing: true, .. } if probe => self.close(now),
            State::Closed => {
                self.consecutive = 0;
                self.window.add(now, 1, 0);
            }
            // A late answer to a request let through before the circuit opened: stale.
            _ => {}
        }
    }

    pub(super) fn failure(&mut self, now: Instant, probe: bool) {
        match self.state {
            State::HalfOpen { probing: true, .. } if probe => self.trip(now),
            State::Closed => {
                self.consecutive += 1;
                self.window.add(now, 0, 1);
                let (ok, bad) = self.window.totals(now);
                let total = ok + bad;
                let rate_hit = total >= u64::from(self.policy.min_requests)
                    && bad as f64 >= self.policy.error_rate * total as f64;
                if self.consecutive >= self.policy.consecutive_failures || rate_hit {
                    self.trip(now);
                }
            }
            _ => {}
        }
    }

    /// A request that ended without an outcome (the client left): its probe slot is freed.
    pub(super) fn abandon(&mut self, probe: bool) {
        if let State::HalfOpen {
            since,
            probing: true,
        } = self.state
        {
            if probe {
                self.state = State::HalfOpen {
                    since,
                    probing: false,
                };
            }
        }
    }

    /// A request let through by panic mode, past the circuit, succeeded: the channel works
    /// again, so the circuit closes (as after a probe's success).
    pub(super) fn panic_success(&mut self, now: Instant) {
        match self.state {
            State::Closed => self.success(now, false),
            State::Open { .. } | State::HalfOpen { .. } => self.close(now),
        }
    }

    /// Back to closed with a clean slate (success of a probe, or an operator's enable).
    pub(super) fn close(&mut self, now: Instant) {
        self.state = State::Closed;
        self.consecutive = 0;
        self.trips = 0;
        self.window.clear(now);
    }

    fn trip(&mut self, now: Instant) {
        self.trips = self.trips.saturating_add(1);
        let backoff = backoff(&self.policy, self.trips);
        self.state = State::Open {
            since: now,
            until: now + backoff,
        };
        self.consecutive = 0;
        self.window.clear(now);
    }
}

/// `backoff * 2^(trips-1)`, capped at `max_backoff`.
pub(super) fn backoff(policy: &BreakerConfig, trips: u32) -> Duration {
    let shift = trips.saturating_sub(1).min(31);
    policy
        .backoff
        .saturating_mul(1u32 << shift)
        .min(policy.max_backoff)
}

#[cfg(test)]
mod tests;
