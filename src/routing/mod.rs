//! Channels and the choice of one for each attempt of a request.
//!
//! Owns: the runtime channel list built from config, model lookup, the channel choice
//! (`selection`), circuit breakers (`breaker`), keys (`keys`), the retry budget (`budget`),
//! what a failure means (`outcome`), and the serializable snapshot of all of it.
//! Must never: do I/O, sleep, or hand out a channel that cannot serve the endpoint.

mod breaker;
mod budget;
mod channel;
mod keys;
mod outcome;
mod selection;
mod window;

pub use breaker::BreakerState;
pub use budget::BudgetSnapshot;
pub use channel::{Channel, ChannelSnapshot, Lease};
pub use keys::{KeySnapshot, SetAside};
pub use outcome::{classify, Verdict};

use crate::config::{Config, ConfigError, RoutingConfig};
use crate::error::RelayError;
use crate::providers::Endpoint;
use budget::RetryBudget;
use channel::Readiness;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use selection::Candidate;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
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
    channels: Vec<Arc<Channel>>,
    policy: RoutingConfig,
    rng: Mutex<SmallRng>,
    budget: Mutex<RetryBudget>,
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
            .map(|c| Channel::from_config(c, &config.routing.breaker, now).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let rng = match config.routing.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Ok(Self {
            channels,
            policy: config.routing.clone(),
            rng: Mutex::new(rng),
            budget: Mutex::new(RetryBudget::new(&config.routing, now)),
        })
    }

    pub fn policy(&self) -> &RoutingConfig {
        &self.policy
    }

    pub fn channels(&self) -> &[Arc<Channel>] {
        &self.channels
    }

    /// Picks a channel for the model and endpoint, avoiding the channels in `tried` while
    /// another is left.
    pub fn select(
        &self,
        model: &str,
        endpoint: Endpoint,
        tried: &[usize],
        now: Instant,
    ) -> Result<Pick, RelayError> {
        let mut listed = false;
        let mut idx = Vec::new();
        for (i, ch) in self.channels.iter().enumerate() {
            if ch.serves(model) {
                listed = true;
                if ch.adaptor.supports(endpoint) {
                    idx.push(i);
                }
            }
        }
        if idx.is_empty() {
            return Err(if listed {
                RelayError::EndpointNotSupported {
                    model: model.to_owned(),
                    endpoint: endpoint.path(),
                }
            } else {
                RelayError::ModelNotFound(model.to_owned())
            });
        }
        let mut soonest: Option<Instant> = None;
        let mut cands: Vec<Candidate> = idx
            .iter()
            .map(|&i| {
                let ch = &self.channels[i];
                let readiness = ch.readiness(now);
                if let Readiness::NotBefore(t) = readiness {
                    soonest = Some(soonest.map_or(t, |s| s.min(t)));
                }
                Candidate {
                    priority: ch.priority,
                    weight: ch.weight,
                    in_flight: ch.in_flight(),
                    eligible: readiness == Readiness::Ready,
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
            let index = idx[k];
            let ch = &self.channels[index];
            match ch.try_start(now) {
                Some(lease) => {
                    return Ok(Pick::Go(Box::new(Selected {
                        upstream_model: ch.upstream_model(model).to_owned(),
                        lease,
                        index,
                    })))
                }
                None => cands[k].eligible = false,
            }
        }
        match soonest {
            Some(t) => Ok(Pick::WaitUntil(t)),
            None => Err(RelayError::NoChannel {
                model: model.to_owned(),
                retry_after: self.soonest_probe(&idx, now),
            }),
        }
    }

    /// When the first open circuit among `idx` lets a probe through.
    fn soonest_probe(&self, idx: &[usize], now: Instant) -> Option<Duration> {
        idx.iter()
            .filter_map(|&i| self.channels[i].snapshot(now).probe_in_ms)
            .min()
            .map(Duration::from_millis)
    }

    /// A client request reached the attempt loop (for the retry budget).
    pub fn note_request(&self, now: Instant) {
        lock(&self.budget).request(now);
    }

    /// Takes one retry from the budget shared by all traffic.
    pub fn try_retry(&self, now: Instant) -> bool {
        lock(&self.budget).try_retry(now)
    }

    fn find(&self, name: &str) -> Option<&Arc<Channel>> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// Enables a channel, restores its keys and closes its circuit. False if unknown.
    pub fn enable(&self, name: &str) -> bool {
        self.find(name).map(|c| c.enable(Instant::now())).is_some()
    }

    /// Disables a channel until enabled. False if unknown.
    pub fn disable(&self, name: &str) -> bool {
        self.find(name).map(|c| c.disable("operator")).is_some()
    }

    pub fn snapshot(&self) -> RoutesSnapshot {
        let now = Instant::now();
        RoutesSnapshot {
            channels: self.channels.iter().map(|c| c.snapshot(now)).collect(),
            retry_budget: lock(&self.budget).snapshot(now),
        }
    }

    pub fn channel_snapshot(&self, name: &str) -> Option<ChannelSnapshot> {
        self.find(name).map(|c| c.snapshot(Instant::now()))
    }
}

#[cfg(test)]
mod tests;
