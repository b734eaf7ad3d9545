//! One configured upstream and its live state: enabled or not, breaker, keys, cool-down and
//! in-flight count; and the [`Lease`] an attempt holds on it.
//!
//! Owns: admission of one attempt (atomically: enabled, breaker, concurrency cap, key) and
//! recording its outcome.
//! Must never: do I/O, or let an in-flight count or a probe slot outlive its attempt (the
//! lease gives both back on drop, whatever path the request took).

use super::breaker::{Admit, Breaker, BreakerState};
use super::keys::{KeyRing, KeySnapshot, NoKey, SetAside};
use super::limit::{ChannelLimits, LimitsSnapshot};
use super::outcome::Verdict;
use crate::bridges::{self, Route, Unserved};
use crate::config::{
    BreakerConfig, ChannelConfig, ChannelTimeouts, ConfigError, ProviderKind, Secret,
};
use crate::providers::{provider_for, Provider, Target};
use crate::wire::Endpoint;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// Live state behind one lock: read and changed together when admitting an attempt.
struct Live {
    enabled: bool,
    /// Why the channel is disabled.
    disabled_by: Option<DisabledBy>,
    breaker: Breaker,
    /// An overloaded channel's `retry-after`: no attempts before then.
    cooling_until: Option<Instant>,
}

pub struct Channel {
    pub name: String,
    pub kind: ProviderKind,
    pub provider: &'static dyn Provider,
    pub priority: i32,
    pub weight: u32,
    pub max_concurrency: Option<usize>,
    pub timeouts: ChannelTimeouts,
    base_url: String,
    keys: KeyRing,
    models: HashSet<String>,
    mapping: HashMap<String, String>,
    headers: HeaderMap,
    /// The channel as configured, for its provider's own settings.
    config: ChannelConfig,
    /// Its own rate limits (`rpm`, `tpm`), when it sets any.
    limits: Option<Arc<ChannelLimits>>,
    live: Mutex<Live>,
    in_flight: AtomicUsize,
    attempts: AtomicU64,
    faults: AtomicU64,
}

/// Who disabled a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledBy {
    /// `enabled = false` in its config.
    Config,
    /// The admin API.
    Operator,
    /// The relay, when every key was refused.
    Auth,
}

impl DisabledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Operator => "operator",
            Self::Auth => "auth",
        }
    }
}

/// Whether a channel could take an attempt now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Readiness {
    Ready,
    /// Cooling down after a rate limit or overload; ready then.
    NotBefore(Instant, Cooling),
    /// Held back until something changes.
    Held(Hold),
}

/// Why a channel cools down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cooling {
    /// Every usable key was answered 429 with `retry-after`.
    RateLimited,
    /// The channel said it was overloaded, with `retry-after`.
    Overloaded,
}

/// Why a channel cannot take an attempt now, beyond waiting for a cool-down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hold {
    /// Disabled, and by whom.
    Disabled(DisabledBy),
    /// At its `max_concurrency`.
    AtCapacity(usize),
    /// At its own rate limit (`rpm`, `tpm`) until then.
    OverLimit(Instant),
    /// Every key set aside (quota, billing).
    NoKey,
    /// The circuit opened at `since`; its next probe is due at `probe_at` (none: a probe is
    /// under way).
    CircuitOpen {
        since: Instant,
        probe_at: Option<Instant>,
    },
}

/// How an attempt is admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Through the circuit breaker.
    Normal,
    /// Past an open circuit (panic mode); every other check holds.
    Panic,
}

impl Channel {
    /// A channel from its config; `old` (the channel it replaces) hands over its limiters when
    /// its limits are unchanged.
    pub(super) fn from_config(
        c: &ChannelConfig,
        breaker: &BreakerConfig,
        old: Option<&Channel>,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        let mut headers = HeaderMap::new();
        for (k, v) in &c.headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|_| {
                ConfigError::Invalid(format!("channel `{}`: bad header name `{k}`", c.name))
            })?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| {
                ConfigError::Invalid(format!("channel `{}`: bad value for header `{k}`", c.name))
            })?;
            headers.insert(name, value);
        }
        Ok(Self {
            name: c.name.clone(),
            kind: c.provider,
            provider: provider_for(c.provider),
            priority: c.priority,
            weight: c.weight.max(1),
            max_concurrency: c.max_concurrency,
            timeouts: c.timeouts.clone(),
            base_url: c.api_base()?,
            keys: KeyRing::new(c.keys.clone()),
            models: c.models.iter().cloned().collect(),
            mapping: c.model_mapping.clone().into_iter().collect(),
            headers,
            config: c.clone(),
            limits: old
                .and_then(|o| o.limits.clone())
                .filter(|l| l.same_as(c))
                .or_else(|| ChannelLimits::from_config(c, now).map(Arc::new)),
            live: Mutex::new(Live {
                enabled: c.enabled,
                disabled_by: (!c.enabled).then_some(DisabledBy::Config),
                breaker: Breaker::new(breaker, now),
                cooling_until: None,
            }),
            in_flight: AtomicUsize::new(0),
            attempts: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        })
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The target of a video task's later calls (polls, content, cancel, remix): this channel
    /// with the key that created the task, taken without a lease (a poll is the relay's own
    /// call, not a client's request). `None` when the key is gone (the channel's keys
    /// changed).
    pub fn task_target(&self, key_index: usize) -> Option<Target<'_>> {
        Some(Target {
            base_url: &self.base_url,
            key: self.keys.get(key_index)?,
            extra_headers: &self.headers,
            channel: &self.config,
            access: None,
        })
    }

    pub fn serves(&self, model: &str) -> bool {
        self.models.contains(model)
    }

    /// How the channel's provider serves a client endpoint (its operation and the bridge to
    /// it), or why it cannot.
    pub(crate) fn route(&self, endpoint: Endpoint) -> Result<Route, Unserved> {
        bridges::route(endpoint, self.provider)
    }

    /// The model name to send upstream for a client's model name.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.mapping.get(model).map(String::as_str).unwrap_or(model)
    }

    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(String::as_str)
    }

    /// The channel as configured.
    #[cfg(test)]
    pub(super) fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// The channel's own rate limits, when it sets any.
    pub fn limits(&self) -> Option<&ChannelLimits> {
        self.limits.as_deref()
    }

    fn over_limit(&self, now: Instant) -> Option<Instant> {
        self.limits.as_ref().and_then(|l| l.over_until(now))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn below_cap(&self) -> bool {
        self.max_concurrency.is_none_or(|m| self.in_flight() < m)
    }

    /// Whether an enabled channel (whatever else holds it back).
    pub fn is_enabled(&self) -> bool {
        self.live().enabled
    }

    pub(super) fn readiness(&self, now: Instant) -> Readiness {
        let live = self.live();
        if !live.enabled {
            return Readiness::Held(Hold::Disabled(
                live.disabled_by.unwrap_or(DisabledBy::Config),
            ));
        }
        if let Some(until) = self.over_limit(now) {
            return Readiness::Held(Hold::OverLimit(until));
        }
        if !self.below_cap() {
            return Readiness::Held(Hold::AtCapacity(self.in_flight()));
        }
        let keys = self.keys.check(now);
        if keys == Err(NoKey::AllSetAside) {
            return Readiness::Held(Hold::NoKey);
        }
        if !live.breaker.can_admit(now) {
            return Readiness::Held(Hold::CircuitOpen {
                since: live.breaker.opened_at().unwrap_or(now),
                probe_at: live.breaker.retry_at(),
            });
        }
        let cooling = live.cooling_until.filter(|u| *u > now);
        match (keys, cooling) {
            (Err(NoKey::CoolingUntil(k)), Some(c)) if c > k => {
                Readiness::NotBefore(c, Cooling::Overloaded)
            }
            (Err(NoKey::CoolingUntil(k)), _) => Readiness::NotBefore(k, Cooling::RateLimited),
            (_, Some(c)) => Readiness::NotBefore(c, Cooling::Overloaded),
            (_, None) => Readiness::Ready,
        }
    }

    /// Admits one attempt, or `None` if the channel cannot take it now. `Admission::Panic`
    /// passes an open circuit (and takes no probe slot); nothing else.
    pub(super) fn try_start(self: &Arc<Self>, now: Instant, how: Admission) -> Option<Lease> {
        let mut live = self.live();
        if !live.enabled
            || live.cooling_until.is_some_and(|u| u > now)
            || self.over_limit(now).is_some()
        {
            return None;
        }
        let panic = how == Admission::Panic;
        if !(panic || live.breaker.can_admit(now)) || self.keys.check(now).is_err() {
            return None;
        }
        // The cap: increment only while below it.
        let cap = self.max_concurrency.unwrap_or(usize::MAX);
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()?;
        let probe = match how {
            Admission::Panic => false,
            Admission::Normal => match live.breaker.admit(now) {
                Admit::Yes => false,
                Admit::Probe => true,
                Admit::No => {
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return None;
                }
            },
        };
        let Ok(key) = self.keys.pick(now) else {
            live.breaker.abandon(probe);
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        };
        drop(live);
        self.attempts.fetch_add(1, Ordering::Relaxed);
        Some(Lease {
            channel: Arc::clone(self),
            key_index: key.index,
            key: key.secret,
            probe,
            panic,
            reported: false,
        })
    }

    /// Back in service: enabled, keys restored, circuit closed.
    pub(super) fn enable(&self, now: Instant) {
        let mut live = self.live();
        live.enabled = true;
        live.disabled_by = None;
        live.cooling_until = None;
        live.breaker.close(now);
        self.keys.reset();
    }

    pub(super) fn disable(&self, by: DisabledBy) {
        let mut live = self.live();
        live.enabled = false;
        live.disabled_by = Some(by);
    }

    pub(super) fn snapshot(&self, now: Instant) -> ChannelSnapshot {
        let live = self.live();
        ChannelSnapshot {
            name: self.name.clone(),
            provider: self.kind.to_string(),
            priority: self.priority,
            weight: self.weight,
            enabled: live.enabled,
            disabled_by: live.disabled_by,
            breaker: live.breaker.state(now),
            consecutive_failures: live.breaker.consecutive_failures(),
            breaker_trips: live.breaker.trips(),
            probe_in_ms: live
                .breaker
                .retry_at()
                .map(|u| duration_ms(u.saturating_duration_since(now))),
            cooling_for_ms: live
                .cooling_until
                .filter(|u| *u > now)
                .map(|u| duration_ms(u - now)),
            in_flight: self.in_flight(),
            max_concurrency: self.max_concurrency,
            attempts: self.attempts.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            keys: self.keys.snapshot(now),
            rate_limits: self.limits.as_ref().map(|l| l.snapshot(now)),
        }
    }
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A channel's state for the admin API, `/api/monitor/health` and `/metrics`.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelSnapshot {
    pub name: String,
    pub provider: String,
    pub priority: i32,
    pub weight: u32,
    pub enabled: bool,
    pub disabled_by: Option<DisabledBy>,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    /// Opens since the circuit was last closed (the backoff exponent).
    pub breaker_trips: u32,
    pub probe_in_ms: Option<u64>,
    pub cooling_for_ms: Option<u64>,
    pub in_flight: usize,
    pub max_concurrency: Option<usize>,
    /// Attempts admitted since start.
    pub attempts: u64,
    /// Attempts that ended in an upstream fault since start.
    pub faults: u64,
    pub keys: Vec<KeySnapshot>,
    /// The channel's own limits, what is left of them and the attempts they turned away;
    /// `null` when it sets none.
    pub rate_limits: Option<LimitsSnapshot>,
}

/// One attempt's hold on a channel: counted in flight until dropped. Report the outcome with
/// [`Lease::succeeded`] or [`Lease::failed`]; a lease dropped unreported frees its probe slot.
pub struct Lease {
    channel: Arc<Channel>,
    key_index: usize,
    key: Secret,
    probe: bool,
    /// Let past an open circuit by panic mode.
    panic: bool,
    reported: bool,
}

impl Lease {
    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    pub fn target(&self) -> Target<'_> {
        Target {
            base_url: &self.channel.base_url,
            key: &self.key,
            extra_headers: &self.channel.headers,
            channel: &self.channel.config,
            access: None,
        }
    }

    pub fn key_hint(&self) -> String {
        self.key.hint()
    }

    /// The index of the leased key in the channel's keys (a video task records it: its polls,
    /// content and remixes go to the same key).
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// The channel's own limit turned the attempt away before it was sent: not an attempt, not
    /// a failure (the breaker does not count it; a probe slot is given back).
    pub fn over_limit(mut self) {
        self.reported = true;
        self.channel.live().breaker.abandon(self.probe);
        self.channel.attempts.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn succeeded(&mut self, now: Instant) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        let mut live = self.channel.live();
        if self.panic {
            live.breaker.panic_success(now);
        } else {
            live.breaker.success(now, self.probe);
        }
    }

    /// Records a failed attempt: breaker, key set aside or cooling, channel cooling.
    pub fn failed(&mut self, verdict: Verdict, now: Instant) {
        if std::mem::replace(&mut self.reported, true) {
            return;
        }
        let ch = &self.channel;
        let mut live = ch.live();
        match verdict {
            Verdict::Fault { cool, .. } => {
                ch.faults.fetch_add(1, Ordering::Relaxed);
                live.breaker.failure(now, self.probe);
                if let Some(d) = cool {
                    let until = now + d;
                    live.cooling_until = Some(live.cooling_until.map_or(until, |u| u.max(until)));
                }
            }
            Verdict::RateLimited { cool } => {
                live.breaker.abandon(self.probe);
                if let Some(d) = cool {
                    ch.keys.cool(self.key_index, now + d);
                }
            }
            Verdict::KeyRejected(why) => {
                live.breaker.abandon(self.probe);
                let all_auth = ch.keys.set_aside(self.key_index, why);
                tracing::warn!(
                    channel = %ch.name, key = %self.key.hint(), reason = ?why,
                    "upstream key set aside"
                );
                if all_auth && why == SetAside::Auth && live.enabled {
                    live.enabled = false;
                    live.disabled_by = Some(DisabledBy::Auth);
                    tracing::error!(
                        channel = %ch.name,
                        "every key of the channel was rejected: channel disabled until enabled"
                    );
                }
            }
            // The client's own error: the channel answered, so it is healthy.
            Verdict::Client if self.panic => live.breaker.panic_success(now),
            Verdict::Client => live.breaker.success(now, self.probe),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.reported {
            self.channel.live().breaker.abandon(self.probe);
        }
        self.channel.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
