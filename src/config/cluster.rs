//! The `[store.cluster]` section: how an instance shares limits and quotas with the others
//! (through `store.redis_url`) and tells them it is alive.
//!
//! Owns: the bounds of every wait on Redis, the size of the share of a limit an instance takes
//! at once, the quota push interval, the heartbeat and how long an instance counts as live.
//! Must never: allow an unbounded wait, or a chunk that is all or none of a limit.

use super::ConfigError;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The longest a request waits on Redis (only when its instance's share of a limit is
    /// used up); past it, the request is judged by the instance's local share.
    #[serde(with = "humantime_serde")]
    pub redis_wait: Duration,
    /// Deadline of the background calls to Redis (prefetching shares, pushing quota spend).
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// While Redis is unreachable: how often it is tried again.
    #[serde(with = "humantime_serde")]
    pub redis_retry: Duration,
    /// The share of a limit an instance takes from Redis at once (0.05: 5 %; at least one
    /// request's worth); the next is fetched when half of it is spent.
    pub chunk: f64,
    /// How often spend settled here is added to the shared quota totals (and the totals read
    /// back).
    #[serde(with = "humantime_serde")]
    pub quota_push: Duration,
    /// How often this instance writes its heartbeat row (`instances`).
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// An instance whose heartbeat is older than this is no longer counted as live (its share
    /// of a limit goes to the others while Redis is down).
    #[serde(with = "humantime_serde")]
    pub instance_ttl: Duration,
    /// Quotas of at most this many cost units (1,000,000 = 1.00) are strict: an instance
    /// spends only what it has leased from the shared total (a tenth of what is left, at least
    /// the request's estimate), so instances together never pass the quota by more than answers
    /// cost beyond their estimates. 0: no quota is strict.
    pub strict_quota_below: i64,
    /// The longest a request on a strict quota waits for a lease (only when its instance's
    /// lease is too small); past it, the quota is judged by this instance's view.
    #[serde(with = "humantime_serde")]
    pub lease_wait: Duration,
    /// How long a lease Redis holds for an instance outlives its last use (an instance that
    /// died gives its lease back after it).
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// Prefix of every Redis key this relay writes (several relays, or tests, on one Redis).
    pub redis_prefix: String,
    /// PostgreSQL: follow admin changes by `LISTEN` (at once) besides `store.revision_poll`.
    pub listen: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_wait: Duration::from_millis(5),
            redis_timeout: Duration::from_millis(250),
            redis_retry: Duration::from_secs(1),
            chunk: 0.05,
            quota_push: Duration::from_millis(250),
            heartbeat: Duration::from_secs(2),
            instance_ttl: Duration::from_secs(10),
            strict_quota_below: 1_000_000,
            lease_ttl: Duration::from_secs(30),
            lease_wait: Duration::from_millis(50),
            redis_prefix: "sluice:".to_owned(),
            listen: true,
        }
    }
}

impl ClusterConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let durations = [
            ("store.cluster.redis_wait", self.redis_wait),
            ("store.cluster.redis_timeout", self.redis_timeout),
            ("store.cluster.redis_retry", self.redis_retry),
            ("store.cluster.quota_push", self.quota_push),
            ("store.cluster.heartbeat", self.heartbeat),
            ("store.cluster.instance_ttl", self.instance_ttl),
            ("store.cluster.lease_ttl", self.lease_ttl),
            ("store.cluster.lease_wait", self.lease_wait),
        ];
        for (key, value) in durations {
            if value.is_zero() {
                return Err(ConfigError::Invalid(format!("{key} must be above 0")));
            }
        }
        if !(self.chunk > 0.0 && self.chunk <= 0.5) {
            return Err(ConfigError::Invalid(
                "store.cluster.chunk must be above 0 and at most 0.5".to_owned(),
            ));
        }
        if self.redis_prefix.len() > 64 || self.redis_prefix.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid(
                "store.cluster.redis_prefix must be at most 64 characters, without spaces"
                    .to_owned(),
            ));
        }
        if self.strict_quota_below < 0 {
            return Err(ConfigError::Invalid(
                "store.cluster.strict_quota_below must not be negative".to_owned(),
            ));
        }
        if self.lease_ttl < self.quota_push.saturating_mul(20) {
            return Err(ConfigError::Invalid(
                "store.cluster.lease_ttl must be at least 20 times store.cluster.quota_push"
                    .to_owned(),
            ));
        }
        if self.instance_ttl <= self.heartbeat {
            return Err(ConfigError::Invalid(
                "store.cluster.instance_ttl must be longer than store.cluster.heartbeat".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_checked() {
        ClusterConfig::default().validate().unwrap();
        let bad = ClusterConfig {
            chunk: 0.0,
            ..ClusterConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = ClusterConfig {
            instance_ttl: Duration::from_secs(1),
            ..ClusterConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = ClusterConfig {
            redis_wait: Duration::ZERO,
            ..ClusterConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("redis_wait"));
    }
}
