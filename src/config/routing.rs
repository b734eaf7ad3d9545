//! The `[routing]`, `[routing.breaker]`, `[overload]` sections and a channel's own timeouts.
//!
//! Owns: defaults and validation of retry, retry-budget, circuit-breaker and load-shedding
//! settings (design.md rule 5: everything bounded).
//! Must never: hold runtime state (the live breakers and budgets are in `routing`).

use super::ConfigError;
use serde::Deserialize;
use std::time::Duration;

/// How requests are retried and failed over.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Upstream attempts per client request, the first included.
    pub max_attempts: u32,
    /// Retries allowed as a share of requests over `retry_budget_window`.
    pub retry_budget_ratio: f64,
    /// Retries always allowed per second of the window, whatever the traffic.
    pub retry_budget_min_per_sec: f64,
    /// The sliding window of the retry budget.
    #[serde(with = "humantime_serde")]
    pub retry_budget_window: Duration,
    /// Longest wait for a cooling-down channel (retry-after) before answering the client.
    #[serde(with = "humantime_serde")]
    pub max_retry_wait: Duration,
    /// Seeds the channel choice (tests); unset, it is seeded from the OS.
    pub seed: Option<u64>,
    /// When every circuit of a model is open: still try the one that opened longest ago?
    pub panic: PanicMode,
    pub breaker: BreakerConfig,
}

/// Panic mode (Envoy's panic threshold, for circuits): when every channel that could serve a
/// request is held back by an open circuit alone, the relay may still try the one whose circuit
/// opened longest ago instead of refusing the request.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PanicMode {
    /// Only for a model that one enabled channel serves: refusing it would refuse every
    /// request, so trying the channel costs nothing.
    #[default]
    SingleChannel,
    /// For every model.
    Always,
    /// Never: open circuits get no traffic until their probe.
    Never,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retry_budget_ratio: 0.2,
            retry_budget_min_per_sec: 5.0,
            retry_budget_window: Duration::from_secs(10),
            max_retry_wait: Duration::from_secs(2),
            seed: None,
            panic: PanicMode::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// When a channel's circuit opens and how it recovers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Opens after this many upstream faults in a row.
    pub consecutive_failures: u32,
    /// Opens when the fault share over `window` reaches this (0 < rate <= 1) ...
    pub error_rate: f64,
    /// ... with at least this many requests in the window.
    pub min_requests: u32,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// First wait before a probe; doubles on each failed probe ...
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    /// ... up to this.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// Load shedding at the front door.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadConfig {
    /// Inbound connections open at once; beyond it a new connection is closed at once.
    pub max_connections: usize,
    /// Client requests in flight at once; beyond it a fast 503 with `retry-after`.
    pub max_in_flight: usize,
    /// Resident memory (bytes) above which new requests get the fast 503. Unset: no budget.
    pub memory_budget: Option<u64>,
    /// The `retry-after` sent with a shed request.
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_in_flight: 4096,
            memory_budget: None,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// A channel's own deadlines, replacing the global `[timeouts]` ones when set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTimeouts {
    #[serde(default, with = "humantime_serde")]
    pub first_byte: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub stream_idle: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub total: Option<Duration>,
}

fn invalid(msg: String) -> ConfigError {
    ConfigError::Invalid(msg)
}

impl RoutingConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(invalid("routing.max_attempts must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.retry_budget_ratio) {
            return Err(invalid(format!(
                "routing.retry_budget_ratio must be within 0..=1, got {}",
                self.retry_budget_ratio
            )));
        }
        if !(self.retry_budget_min_per_sec >= 0.0 && self.retry_budget_min_per_sec.is_finite()) {
            return Err(invalid(
                "routing.retry_budget_min_per_sec must be 0 or more".into(),
            ));
        }
        if self.retry_budget_window.is_zero() {
            return Err(invalid(
                "routing.retry_budget_window must be above 0".into(),
            ));
        }
        let b = &self.breaker;
        if b.consecutive_failures == 0 {
            return Err(invalid(
                "routing.breaker.consecutive_failures must be at least 1".into(),
            ));
        }
        if !(b.error_rate > 0.0 && b.error_rate <= 1.0) {
            return Err(invalid(format!(
                "routing.breaker.error_rate must be within (0, 1], got {}",
                b.error_rate
            )));
        }
        for (name, d) in [
            ("window", b.window),
            ("backoff", b.backoff),
            ("max_backoff", b.max_backoff),
        ] {
            if d.is_zero() {
                return Err(invalid(format!("routing.breaker.{name} must be above 0")));
            }
        }
        if b.max_backoff < b.backoff {
            return Err(invalid(
                "routing.breaker.max_backoff must not be below routing.breaker.backoff".into(),
            ));
        }
        Ok(())
    }
}

impl OverloadConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 || self.max_in_flight == 0 {
            return Err(invalid(
                "overload.max_connections and overload.max_in_flight must be above 0".into(),
            ));
        }
        if self.memory_budget == Some(0) {
            return Err(invalid(
                "overload.memory_budget must be above 0 (leave it out for no budget)".into(),
            ));
        }
        Ok(())
    }
}

impl ChannelTimeouts {
    pub(super) fn validate(&self, channel: &str) -> Result<(), ConfigError> {
        for (name, d) in [
            ("first_byte", self.first_byte),
            ("stream_idle", self.stream_idle),
            ("total", self.total),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(invalid(format!(
                    "channel `{channel}`: timeouts.{name} must be above 0"
                )));
            }
        }
        Ok(())
    }
}
