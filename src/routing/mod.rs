//! Channels and the choice of one for each attempt of a request.
//!
//! Owns: the runtime channel list built from config, model lookup, the channel choice
//! (`selection`, panic mode included), circuit breakers (`breaker`), keys (`keys`), each
//! channel's own rate limits as the router sees them (`limit`: skipped at its limit), the retry
//! budget (`budget`), what a failure means (`outcome`), what the relay answers when no channel
//! can take a request (`refusal`), and the serializable snapshot of all of it.
//! Must never: do I/O, sleep, or hand out a channel that cannot serve the endpoint.

mod breaker;
mod budget;
mod channel;
mod keys;
mod limit;
mod outcome;
mod refusal;
mod selection;
mod window;

pub use breaker::BreakerState;
pub use budget::BudgetSnapshot;
pub use channel::{Channel, ChannelSnapshot, DisabledBy, Lease};
pub use keys::{KeySnapshot, SetAside};
pub use limit::{ChannelLimits, LimitsSnapshot};
pub use outcome::{classify, Verdict};
pub(crate) use refusal::not_served;

use crate::config::{ChannelConfig, Config, ConfigError, RoutingConfig};
use crate::error::RelayError;
use crate::limits::PriceTable;
use crate::wire::Endpoint;
use arc_swap::ArcSwap;
use budget::RetryBudget;
use channel::{Admission, Cooling, Readiness};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use selection::Candidate;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// The channel, key and model picked for one attempt; holds the channel's lease.
pub struct Selected {
    pub lease: Lease,
    /// Index of the channel in [`Routes::channels`], to exclude it from retries.
    pub index: usize,
    pub upstream_model: String,
}

impl Selected {
    pub fn channel(&self) -> &Arc<Channel> {
        self.lease.channel()
    }
}

/// The outcome of a channel choice.
pub enum Pick {
    Go(Box<Selected>),
    /// Nothing is ready now, but a channel cooling down (retry-after) is ready then.
    WaitUntil(Instant),
}

pub struct Routes {
    /// Swapped whole when channels change at run time ([`Routes::replace`]); a request keeps
    /// the channel it leased (in-flight requests finish on the old settings).
    channels: ArcSwap<Vec<Arc<Channel>>>,
    policy: RoutingConfig,
    rng: Mutex<SmallRng>,
    budget: Mutex<RetryBudget>,
    /// The estimates of a request's tokens against a channel's `tpm` when no token admission
    /// made one (the same table and rules as a token's).
    prices: PriceTable,
}

/// Every channel's state and the retry budget: for the admin API and the monitor.
#[derive(Clone, Debug, Serialize)]
pub struct RoutesSnapshot {
    pub channels: Vec<ChannelSnapshot>,
    pub retry_budget: BudgetSnapshot,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Routes {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let now = Instant::now();
        let channels = config
            .channels
            .iter()
            .map(|c| Channel::from_config(c, &config.routing.breaker, None, now).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let rng = match config.routing.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Ok(Self {
            channels: ArcSwap::from_pointee(channels),
            policy: config.routing.clone(),
            rng: Mutex::new(rng),
            budget: Mutex::new(RetryBudget::new(&config.routing, now)),
            prices: PriceTable::new(&config.prices)
                .map_err(|e| ConfigError::Invalid(format!("prices: {e}")))?,
        })
    }

    /// The price table of the estimates against a channel's `tpm`.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    pub fn policy(&self) -> &RoutingConfig {
        &self.policy
    }

    /// The channels now (a snapshot: a later [`Routes::replace`] does not change it).
    pub fn channels(&self) -> Arc<Vec<Arc<Channel>>> {
        self.channels.load_full()
    }

    /// Makes `configs` the channel list. A channel named in `keep` that exists already is kept
    /// as it is (its breaker, keys, limits and counts: the config file's channels never change
    /// at run time); every other channel is built anew (keeping its limiters when its limits
    /// are unchanged). A channel that does not build is left out and logged. Returns how many
    /// channels there are now.
    pub fn replace(&self, configs: &[ChannelConfig], keep: &HashSet<String>) -> usize {
        let now = Instant::now();
        let old = self.channels.load_full();
        let next: Vec<Arc<Channel>> = configs
            .iter()
            .filter_map(|c| {
                let before = old.iter().find(|ch| ch.name == c.name);
                if keep.contains(&c.name) {
                    if let Some(ch) = before {
                        return Some(ch.clone());
                    }
                }
                match Channel::from_config(c, &self.policy.breaker, before.map(|b| &**b), now) {
                    Ok(ch) => Some(Arc::new(ch)),
                    Err(e) => {
                        tracing::warn!(channel = %c.name, error = %e, "channel not loaded");
                        None
                    }
                }
            })
            .collect();
        let n = next.len();
        self.channels.store(Arc::new(next));
        n
    }

    /// Picks a channel for the model and endpoint, avoiding the channels in `tried` while
    /// another is left. Nothing ready: a wait for the first channel cooling down, panic mode
    /// past open circuits (see [`crate::config::PanicMode`]; never twice on one channel for one
    /// request), or [`RelayError::Unavailable`] saying why.
    pub fn select(
        &self,
        model: &str,
        endpoint: Endpoint,
        tried: &[usize],
        now: Instant,
    ) -> Result<Pick, RelayError> {
        self.pick(model, endpoint, tried, &[], now)
    }

    /// [`Routes::select`], skipping the channels in `limited` as well: their own rate limit
    /// turned this request away (each until its instant). When every enabled channel of the
    /// model is at its limit: [`RelayError::ChannelLimit`], with the soonest wait.
    pub fn pick(
        &self,
        model: &str,
        endpoint: Endpoint,
        tried: &[usize],
        limited: &[(usize, Instant)],
        now: Instant,
    ) -> Result<Pick, RelayError> {
        let channels = self.channels.load_full();
        let idx = serving(&channels, model, endpoint)?;
        let states: Vec<Readiness> = idx
            .iter()
            .map(|&i| match limited.iter().find(|(j, _)| *j == i) {
                Some((_, until)) => Readiness::Held(channel::Hold::OverLimit(*until)),
                None => channels[i].readiness(now),
            })
            .collect();
        let mut cands: Vec<Candidate> = idx
            .iter()
            .zip(&states)
            .map(|(&i, state)| {
                let ch = &channels[i];
                Candidate {
                    priority: ch.priority,
                    weight: ch.weight,
                    in_flight: ch.in_flight(),
                    eligible: *state == Readiness::Ready,
                    tried: tried.contains(&i),
                }
            })
            .collect();
        // A channel may turn away the attempt between the look and the lease (its cap filled,
        // its probe taken): mark it and choose again.
        for _ in 0..idx.len() {
            let Some(k) = selection::choose(&cands, &mut *lock(&self.rng)) else {
                break;
            };
            if let Some(s) = start(&channels, model, idx[k], now, Admission::Normal) {
                return Ok(Pick::Go(s));
            }
            cands[k].eligible = false;
        }
        match refusal::soonest_cooling(&states) {
            Some((t, Cooling::Overloaded))
                if t.saturating_duration_since(now) > self.policy.max_retry_wait =>
            {
                return Err(refusal::unavailable(
                    model,
                    &named(&channels, &idx, &states),
                    now,
                ));
            }
            Some((t, _)) => return Ok(Pick::WaitUntil(t)),
            None => {}
        }
        if let Some(retry_after) = refusal::all_over_limit(&states, now) {
            return Err(RelayError::ChannelLimit {
                model: model.to_owned(),
                retry_after,
            });
        }
        let untried = selection::panic_order(self.policy.panic, &states)
            .into_iter()
            .filter(|&k| !tried.contains(&idx[k]));
        for k in untried {
            if let Some(s) = start(&channels, model, idx[k], now, Admission::Panic) {
                let channel = &channels[idx[k]].name;
                tracing::debug!(%channel, "panic mode: an attempt past an open circuit");
                return Ok(Pick::Go(s));
            }
        }
        Err(refusal::unavailable(
            model,
            &named(&channels, &idx, &states),
            now,
        ))
    }

    /// A client request reached the attempt loop (for the retry budget).
    pub fn note_request(&self, now: Instant) {
        lock(&self.budget).request(now);
    }

    /// Takes one retry from the budget shared by all traffic.
    pub fn try_retry(&self, now: Instant) -> bool {
        lock(&self.budget).try_retry(now)
    }

    fn find(&self, name: &str) -> Option<Arc<Channel>> {
        self.channels
            .load()
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    /// Enables a channel, restores its keys and closes its circuit. False if unknown.
    pub fn enable(&self, name: &str) -> bool {
        self.find(name).map(|c| c.enable(Instant::now())).is_some()
    }

    /// Disables a channel until enabled. False if unknown.
    pub fn disable(&self, name: &str) -> bool {
        self.find(name)
            .map(|c| c.disable(DisabledBy::Operator))
            .is_some()
    }

    pub fn snapshot(&self) -> RoutesSnapshot {
        let now = Instant::now();
        RoutesSnapshot {
            channels: self
                .channels
                .load()
                .iter()
                .map(|c| c.snapshot(now))
                .collect(),
            retry_budget: lock(&self.budget).snapshot(now),
        }
    }

    pub fn channel_snapshot(&self, name: &str) -> Option<ChannelSnapshot> {
        self.find(name).map(|c| c.snapshot(Instant::now()))
    }
}

/// Indexes of the channels that serve the model on the endpoint, or why there are none.
fn serving(
    channels: &[Arc<Channel>],
    model: &str,
    endpoint: Endpoint,
) -> Result<Vec<usize>, RelayError> {
    let mut why = None;
    let mut idx = Vec::new();
    for (i, ch) in channels.iter().enumerate() {
        if ch.serves(model) {
            match ch.route(endpoint) {
                Ok(_) => idx.push(i),
                // A refused pair of formats says more than an endpoint not offered.
                Err(w) => why = Some(why.map_or(w, |seen| refusal::telling(seen, w))),
            }
        }
    }
    match why {
        _ if !idx.is_empty() => Ok(idx),
        Some(why) => Err(not_served(model, endpoint, why)),
        None => Err(RelayError::ModelNotFound(model.to_owned())),
    }
}

fn start(
    channels: &[Arc<Channel>],
    model: &str,
    index: usize,
    now: Instant,
    how: Admission,
) -> Option<Box<Selected>> {
    let ch = &channels[index];
    let lease = ch.try_start(now, how)?;
    Some(Box::new(Selected {
        upstream_model: ch.upstream_model(model).to_owned(),
        lease,
        index,
    }))
}

fn named<'a>(
    channels: &'a [Arc<Channel>],
    idx: &[usize],
    states: &[Readiness],
) -> Vec<(&'a str, Readiness)> {
    idx.iter()
        .zip(states)
        .map(|(&i, s)| (channels[i].name.as_str(), *s))
        .collect()
}

#[cfg(test)]
mod tests;
