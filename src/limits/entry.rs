//! One token as the request path sees it: compiled from the store's row, with the counters
//! and limiters that outlive a refresh.
//!
//! Owns: the token's access rules (enabled, revoked, expiry, model globs, client CIDRs), its
//! limits, and carrying counters across snapshot refreshes (quota counters always; a limiter
//! while its limit is unchanged).
//! Must never: lose a token's quota counters when the snapshot is rebuilt.

use super::quota::QuotaCounters;
use super::rate::{Rpm, Tpm, MINUTE};
use super::LimitError;
use crate::store::{Source, Token};
use globset::{Glob, GlobSet, GlobSetBuilder};
use ipnet::IpNet;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenEntry {
    pub id: i64,
    pub name: String,
    pub source: Source,
    enabled: bool,
    revoked: bool,
    expires_at: Option<i64>,
    models: Option<GlobSet>,
    allow_ips: Option<Vec<IpNet>>,
    pub quota_limit: Option<i64>,
    pub quota: Arc<QuotaCounters>,
    pub rpm: Option<Arc<Rpm>>,
    pub tpm: Option<Arc<Tpm>>,
    /// The window `rpm` and `tpm` count over.
    pub window: Duration,
}

fn globs(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p)?);
    }
    set.build()
}

impl TokenEntry {
    /// Compiles a stored token, taking counters and unchanged limiters from `previous`.
    pub fn build(
        t: &Token,
        previous: Option<&TokenEntry>,
        now: Instant,
    ) -> Result<Self, globset::Error> {
        let models = t.models.as_deref().map(globs).transpose()?;
        let allow_ips = t.allow_ips.as_ref().map(|ips| {
            ips.iter()
                .filter_map(|ip| crate::store::tokens::parse_net(ip).ok())
                .collect()
        });
        let window = t.rate_window.unwrap_or(MINUTE);
        let rpm = t.rpm.and_then(NonZeroU32::new).map(|limit| {
            previous
                .and_then(|p| p.rpm.clone())
                .filter(|r| r.limit() == limit.get() && r.window() == window)
                .unwrap_or_else(|| Arc::new(Rpm::new(limit, window)))
        });
        let tpm = t.tpm.filter(|&l| l > 0).map(|limit| {
            previous
                .and_then(|p| p.tpm.clone())
                .filter(|b| b.limit() == limit && b.window() == window)
                .unwrap_or_else(|| Arc::new(Tpm::new(limit, window, now)))
        });
        let quota = previous.map_or_else(Default::default, |p| p.quota.clone());
        quota.observe_remote(t.used_units);
        Ok(Self {
            id: t.id,
            name: t.name.clone(),
            source: t.source,
            enabled: t.enabled,
            revoked: t.is_revoked(),
            expires_at: t.expires_at,
            models,
            allow_ips,
            quota_limit: t.quota_limit,
            quota,
            rpm,
            tpm,
            window,
        })
    }

    /// Whether the token may use `model` (for `/v1/models` lists too).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.is_match(model))
    }

    pub fn allows_ip(&self, ip: Option<IpAddr>) -> bool {
        match (&self.allow_ips, ip) {
            (None, _) => true,
            (Some(nets), Some(ip)) => nets.iter().any(|n| n.contains(&ip)),
            (Some(_), None) => false,
        }
    }

    /// Whether this token's spend is metered against a quota.
    pub fn is_metered(&self) -> bool {
        self.quota_limit.is_some()
    }

    /// Whether the token may be used at all now: not revoked, enabled, not expired.
    pub fn check_usable(&self, now_ms: i64) -> Result<(), LimitError> {
        if self.revoked {
            return Err(LimitError::Revoked);
        }
        if !self.enabled {
            return Err(LimitError::Disabled);
        }
        if self.expires_at.is_some_and(|at| at <= now_ms) {
            return Err(LimitError::Expired);
        }
        Ok(())
    }

    /// The rules that need no counter: state, expiry, model, client address.
    pub fn check_access(
        &self,
        now_ms: i64,
        model: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), LimitError> {
        self.check_usable(now_ms)?;
        if !self.allows_model(model) {
            return Err(LimitError::ModelNotAllowed(model.to_owned()));
        }
        if !self.allows_ip(ip) {
            return Err(LimitError::IpNotAllowed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn token(id: i64) -> Token {
        Token {
            id,
            name: format!("t{id}"),
            key_prefix: "sk-sluice-abcd…".into(),
            enabled: true,
            expires_at: None,
            quota_limit: None,
            used_units: 0,
            requests: 0,
            models: None,
            allow_ips: None,
            rpm: None,
            tpm: None,
            rate_window: None,
            source: Source::Store,
            revision: 1,
            created_at: 0,
            updated_at: 0,
            revoked_at: None,
            key_hash: String::new(),
        }
    }

    #[tokio::test]
    async fn access_rules_apply_in_order() {
        let mut t = token(1);
        t.models = Some(vec!["gpt-4o*".into(), "claude-?-haiku".into()]);
        t.allow_ips = Some(vec!["10.0.0.0/8".into(), "::1/128".into()]);
        t.expires_at = Some(1_000);
        let e = TokenEntry::build(&t, None, Instant::now()).unwrap();
        let ip = Some("10.2.3.4".parse().unwrap());
        assert!(e.check_access(999, "gpt-4o-mini", ip).is_ok());
        assert!(e
            .check_access(999, "claude-3-haiku", Some("::1".parse().unwrap()))
            .is_ok());
        assert!(matches!(
            e.check_access(1_000, "gpt-4o", ip),
            Err(LimitError::Expired)
        ));
        assert!(matches!(
            e.check_access(0, "o1", ip),
            Err(LimitError::ModelNotAllowed(_))
        ));
        assert!(matches!(
            e.check_access(0, "gpt-4o", Some("11.0.0.1".parse().unwrap())),
            Err(LimitError::IpNotAllowed)
        ));
        assert!(matches!(
            e.check_access(0, "gpt-4o", None),
            Err(LimitError::IpNotAllowed)
        ));
        t.enabled = false;
        let e = TokenEntry::build(&t, None, Instant::now()).unwrap();
        assert!(matches!(
            e.check_access(0, "gpt-4o", ip),
            Err(LimitError::Disabled)
        ));
        t.revoked_at = Some(1);
        let e = TokenEntry::build(&t, None, Instant::now()).unwrap();
        assert!(matches!(
            e.check_access(0, "gpt-4o", ip),
            Err(LimitError::Revoked)
        ));
    }

    #[tokio::test]
    async fn counters_and_unchanged_limiters_survive_a_rebuild() {
        let mut t = token(2);
        t.rpm = Some(10);
        t.tpm = Some(1000);
        t.quota_limit = Some(100);
        let first = TokenEntry::build(&t, None, Instant::now()).unwrap();
        let held = first.quota.try_reserve(100, 40).unwrap();
        first.rpm.as_ref().unwrap().check().unwrap();
        t.tpm = Some(2000);
        t.used_units = 7;
        let second = TokenEntry::build(&t, Some(&first), Instant::now()).unwrap();
        assert!(Arc::ptr_eq(&first.quota, &second.quota));
        assert_eq!((second.quota.reserved(), second.quota.spent()), (40, 7));
        assert!(Arc::ptr_eq(
            first.rpm.as_ref().unwrap(),
            second.rpm.as_ref().unwrap()
        ));
        assert!(!Arc::ptr_eq(
            first.tpm.as_ref().unwrap(),
            second.tpm.as_ref().unwrap()
        ));
        drop(held);
        assert_eq!(second.quota.reserved(), 0);
    }
}
