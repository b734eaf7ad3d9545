//! Several instances as one: what an instance shares with the others on the same store.
//!
//! Every instance on a store writes a heartbeat row (`instances`) and counts the live ones. With
//! `store.redis_url`, token rate limits are shared buckets in Redis (`rate`) and quota spend is
//! pushed to shared totals (`quota`); without Redis, or while it is down, each instance limits
//! to its share (limit / live instances) and quotas enforce from the last known totals.
//! No instance is special: there is no leader, every job runs on every instance.
//!
//! Owns: this instance's id, the live-instance count, the Redis link and what uses it, their
//! jobs (started on the supervisor), and the `cluster` part of health.
//! Must never: make the request path wait on Redis beyond `store.cluster.redis_wait`, or on the
//! store at all; fail to start because Redis is unreachable (it starts degraded).

pub mod link;
pub mod quota;
pub mod rate;

use crate::config::{ClusterConfig, StoreConfig};
use crate::limits::TokenTable;
use crate::store::{now_ms, Store};
use crate::supervisor::{Supervisor, SupervisorError};
use link::{LinkError, RedisLink};
use quota::{QuotaSync, QuotaSyncParts};
use rate::SharedRates;
use serde::Serialize;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct Cluster {
    instance: String,
    started_at: i64,
    live: Arc<AtomicU32>,
    config: ClusterConfig,
    link: Option<Arc<RedisLink>>,
    rates: Option<Arc<SharedRates>>,
    quota: Option<Arc<QuotaSync>>,
}

/// The `cluster` part of health.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterSnapshot {
    pub instance: String,
    /// `off` (no `store.redis_url`), `up` or `down`.
    pub redis: &'static str,
    pub live_instances: u32,
    /// Rate decisions made from this instance's share (Redis down or slow).
    pub redis_fallbacks: u64,
    pub redis_errors: u64,
    /// Requests that waited on Redis (their instance's chunk was empty).
    pub redis_waits: u64,
    pub redis_reconnects: u64,
    pub quota_pushes: u64,
    /// Leases of strict quotas taken from Redis.
    pub quota_leases: u64,
    /// Shared limits this instance holds a chunk of.
    pub shares: usize,
}

/// This process's name among the instances: host, process id and a random part.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

impl Cluster {
    /// This instance's part; the Redis link is built here and connects in a job.
    pub fn new(store: &StoreConfig) -> Result<Self, LinkError> {
        let config = store.cluster.clone();
        let live = Arc::new(AtomicU32::new(1));
        let link = store
            .redis_url
            .as_ref()
            .map(|url| RedisLink::new(url, config.redis_timeout, config.redis_retry))
            .transpose()?
            .map(Arc::new);
        let rates = link.as_ref().map(|l| {
            Arc::new(SharedRates::new(
                l.clone(),
                &config.redis_prefix,
                config.chunk,
                config.redis_wait,
                live.clone(),
            ))
        });
        let instance = instance_id();
        let quota = link.as_ref().map(|l| {
            Arc::new(QuotaSync::new(QuotaSyncParts {
                link: l.clone(),
                prefix: &config.redis_prefix,
                instance: &instance,
                interval: config.quota_push,
                wait: config.lease_wait,
                lease_ttl: config.lease_ttl,
                strict_below: config.strict_quota_below,
            }))
        });
        Ok(Self {
            instance,
            started_at: now_ms(),
            live,
            config,
            link,
            rates,
            quota,
        })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The shared rate limits, with `store.redis_url`.
    pub fn rates(&self) -> Option<&Arc<SharedRates>> {
        self.rates.as_ref()
    }

    /// The shared quota totals and leases, with `store.redis_url`.
    pub fn quota(&self) -> Option<&Arc<QuotaSync>> {
        self.quota.as_ref()
    }

    pub fn live_instances(&self) -> u32 {
        self.live.load(Relaxed).max(1)
    }

    pub fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot {
            instance: self.instance.clone(),
            redis: match &self.link {
                None => "off",
                Some(l) if l.is_up() => "up",
                Some(_) => "down",
            },
            live_instances: self.live_instances(),
            redis_fallbacks: self.rates.as_ref().map_or(0, |r| r.fallbacks()),
            redis_errors: self.link.as_ref().map_or(0, |l| l.errors()),
            redis_waits: self.rates.as_ref().map_or(0, |r| r.waits()),
            redis_reconnects: self.link.as_ref().map_or(0, |l| l.reconnects()),
            quota_pushes: self.quota.as_ref().map_or(0, |q| q.pushes()),
            quota_leases: self.quota.as_ref().map_or(0, |q| q.leases()),
            shares: self.rates.as_ref().map_or(0, |r| r.len()),
        }
    }

    /// Starts the heartbeat and, with Redis, the link, the prefetcher and the quota push.
    pub fn start_jobs(
        &self,
        store: &Store,
        table: &Arc<TokenTable>,
        supervisor: &Supervisor,
    ) -> Result<(), SupervisorError> {
        let (s, id, started) = (store.clone(), self.instance.clone(), self.started_at);
        let (live, config) = (self.live.clone(), self.config.clone());
        supervisor.spawn_critical("instance_heartbeat", move |cancel| {
            heartbeat(
                s.clone(),
                id.clone(),
                started,
                live.clone(),
                config.clone(),
                cancel,
            )
        })?;
        let (Some(link), Some(rates), Some(quota)) = (&self.link, &self.rates, &self.quota) else {
            return Ok(());
        };
        let (l, q) = (link.clone(), quota.clone());
        supervisor.spawn_critical("redis_link", move |cancel| {
            let q = q.clone();
            l.clone().run(
                move |mut conn| {
                    let q = q.clone();
                    async move {
                        q.script().prepare_invoke().load_async(&mut conn).await?;
                        Ok(())
                    }
                },
                cancel,
            )
        })?;
        let r = rates.clone();
        supervisor.spawn_critical("redis_prefetch", move |cancel| {
            r.clone().run_prefetch(cancel)
        })?;
        let (q, t) = (quota.clone(), table.clone());
        supervisor.spawn_critical("quota_push", move |cancel| q.clone().run(t.clone(), cancel))?;
        let q = quota.clone();
        supervisor.spawn_critical("quota_leases", move |cancel| q.clone().run_leases(cancel))?;
        Ok(())
    }
}

/// Writes this instance's heartbeat every `heartbeat` and keeps the live count, until `cancel`
/// (then removes the row, so the others count one fewer at once).
async fn heartbeat(
    store: Store,
    id: String,
    started_at: i64,
    live: Arc<AtomicU32>,
    config: ClusterConfig,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                if let Err(e) = store.leave(&id).await {
                    tracing::debug!(target: "sluice::cluster", error = %e, "could not remove the heartbeat row");
                }
                return;
            }
            _ = tick.tick() => {
                match store.heartbeat(&id, started_at, config.instance_ttl).await {
                    Ok(n) => {
                        let before = live.swap(n, Relaxed);
                        if before != n {
                            tracing::info!(target: "sluice::cluster", live_instances = n, "live instances changed");
                        }
                    }
                    Err(e) => tracing::debug!(target: "sluice::cluster", error = %e, "heartbeat failed; keeping the last live count"),
                }
            }
        }
    }
}
