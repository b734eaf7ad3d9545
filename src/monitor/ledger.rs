//! The ledger: the relay's own count of what it holds open, and of what happened to requests.
//!
//! Owns: gauges that only RAII [`Guard`]s move (up on create, down on `Drop`, so no return path
//! can forget), monotonic counters, and latency histograms. One ledger per relay instance
//! (`Arc<Ledger>`), never a global, so several relays can share a test process.
//! Must never: let a label set grow with traffic. Families ([`Family::ALL`]), timeout kinds
//! ([`TimeoutKind::ALL`]) and channels are fixed lists; a channel not configured at start is
//! counted under `other`.

mod labels;

pub use labels::{ErrorKind, ErrorLabel, TimeoutKind, OTHER_CHANNEL};

use super::histogram::{Histogram, HistogramSnapshot, LATENCY_BUCKETS, OVERHEAD_BUCKETS};
use crate::wire::Family;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

const INBOUND: usize = 0;
const UPSTREAM: usize = 1;
const STREAMS: usize = 2;
const JOBS: usize = 3;
const IN_FLIGHT: usize = 4;
const SLOTS: usize = IN_FLIGHT + Family::ALL.len();
/// Status codes 100..=599 get their own counter; anything else counts as `other`.
const STATUS_SLOTS: usize = 600;

pub struct Ledger {
    gauges: [AtomicU64; SLOTS],
    requests: Box<[AtomicU64]>,
    /// Fixed at start, `other` last.
    channels: Vec<String>,
    upstream_errors: Mutex<BTreeMap<(usize, ErrorLabel), u64>>,
    retries: AtomicU64,
    client_disconnects: AtomicU64,
    timeouts: [AtomicU64; TimeoutKind::ALL.len()],
    upstream_latency: Histogram,
    time_to_first_token: Histogram,
    relay_overhead: Histogram,
}

/// Holds one unit of a gauge; dropping it (normally, by unwinding, or by aborting the task that
/// owns it) gives the unit back.
#[must_use = "the gauge falls again as soon as the guard is dropped"]
pub struct Guard {
    ledger: Arc<Ledger>,
    slot: usize,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.ledger.gauges[self.slot].fetch_sub(1, Relaxed);
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").field("slot", &self.slot).finish()
    }
}

/// The gauges the ledger counts itself (the OS and runtime views come from `procfs`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub inbound_connections: u64,
    pub upstream_connections: u64,
    pub open_streams: u64,
    pub background_jobs: u64,
    /// Per family, every one of [`Family::ALL`].
    pub in_flight: BTreeMap<&'static str, u64>,
}

impl Counts {
    pub fn in_flight_total(&self) -> u64 {
        self.in_flight.values().sum()
    }
}

/// The counters, as maps with only the labels seen so far (statuses as strings).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counters {
    pub requests: BTreeMap<String, u64>,
    /// channel -> status or kind -> count.
    pub upstream_errors: BTreeMap<String, BTreeMap<String, u64>>,
    pub retries: u64,
    pub client_disconnects: u64,
    pub timeouts: BTreeMap<&'static str, u64>,
}

impl Ledger {
    /// A ledger whose upstream-error labels are `channels` plus `other`.
    pub fn new(channels: &[String]) -> Arc<Self> {
        let mut channels: Vec<String> = channels.to_vec();
        channels.push(OTHER_CHANNEL.to_owned());
        Arc::new(Self {
            gauges: Default::default(),
            requests: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            channels,
            upstream_errors: Mutex::new(BTreeMap::new()),
            retries: AtomicU64::new(0),
            client_disconnects: AtomicU64::new(0),
            timeouts: Default::default(),
            upstream_latency: Histogram::new(LATENCY_BUCKETS),
            time_to_first_token: Histogram::new(LATENCY_BUCKETS),
            relay_overhead: Histogram::new(OVERHEAD_BUCKETS),
        })
    }

    fn guard(self: &Arc<Self>, slot: usize) -> Guard {
        self.gauges[slot].fetch_add(1, Relaxed);
        Guard {
            ledger: Arc::clone(self),
            slot,
        }
    }

    /// An accepted client connection, for as long as its task runs.
    pub fn inbound_connection(self: &Arc<Self>) -> Guard {
        self.guard(INBOUND)
    }

    /// An upstream connection (from connect until the connection is closed).
    pub fn upstream_connection(self: &Arc<Self>) -> Guard {
        self.guard(UPSTREAM)
    }

    /// A request being handled, by endpoint family.
    pub fn in_flight(self: &Arc<Self>, family: Family) -> Guard {
        self.guard(IN_FLIGHT + family as usize)
    }

    /// A response stream, from its first byte until it is dropped.
    pub fn open_stream(self: &Arc<Self>) -> Guard {
        self.guard(STREAMS)
    }

    /// A background job (video task poller, health probe, the sampler itself).
    pub fn background_job(self: &Arc<Self>) -> Guard {
        self.guard(JOBS)
    }

    /// A response sent to a client, by status.
    pub fn request(&self, status: u16) {
        let slot = usize::from(status);
        let slot = if (100..STATUS_SLOTS).contains(&slot) {
            slot
        } else {
            0
        };
        self.requests[slot].fetch_add(1, Relaxed);
    }

    /// An upstream call that failed: `what` is the HTTP status (`503u16`) or an [`ErrorKind`].
    pub fn upstream_error(&self, channel: &str, what: impl Into<ErrorLabel>) {
        let ch = self
            .channels
            .iter()
            .position(|c| c == channel)
            .unwrap_or(self.channels.len() - 1);
        let mut map = self
            .upstream_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *map.entry((ch, what.into())).or_insert(0) += 1;
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub fn client_disconnect(&self) {
        self.client_disconnects.fetch_add(1, Relaxed);
    }

    /// A deadline that fired, by kind.
    pub fn timeout(&self, kind: TimeoutKind) {
        self.timeouts[kind as usize].fetch_add(1, Relaxed);
    }

    /// From sending the upstream request to its response headers.
    pub fn observe_upstream_latency(&self, d: Duration) {
        self.upstream_latency.observe(d);
    }

    /// From receiving the client request to the first streamed token sent back.
    pub fn observe_time_to_first_token(&self, d: Duration) {
        self.time_to_first_token.observe(d);
    }

    /// The relay's own time on a request (total minus time waiting on upstream).
    pub fn observe_relay_overhead(&self, d: Duration) {
        self.relay_overhead.observe(d);
    }

    pub fn counts(&self) -> Counts {
        let g = |slot: usize| self.gauges[slot].load(Relaxed);
        Counts {
            inbound_connections: g(INBOUND),
            upstream_connections: g(UPSTREAM),
            open_streams: g(STREAMS),
            background_jobs: g(JOBS),
            in_flight: Family::ALL
                .iter()
                .map(|f| (f.as_str(), g(IN_FLIGHT + *f as usize)))
                .collect(),
        }
    }

    pub fn counters(&self) -> Counters {
        let requests = self
            .requests
            .iter()
            .enumerate()
            .filter_map(|(status, n)| {
                let n = n.load(Relaxed);
                let label = if status == 0 {
                    "other".to_owned()
                } else {
                    status.to_string()
                };
                (n > 0).then_some((label, n))
            })
            .collect();
        let mut upstream_errors: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let map = self
            .upstream_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((ch, label), n) in map {
            let name = self.channels.get(ch).map_or(OTHER_CHANNEL, String::as_str);
            upstream_errors
                .entry(name.to_owned())
                .or_default()
                .insert(label.to_string(), n);
        }
        Counters {
            requests,
            upstream_errors,
            retries: self.retries.load(Relaxed),
            client_disconnects: self.client_disconnects.load(Relaxed),
            timeouts: TimeoutKind::ALL
                .iter()
                .zip(&self.timeouts)
                .map(|(k, n)| (k.as_str(), n.load(Relaxed)))
                .collect(),
        }
    }

    /// `(metric name without prefix, help, histogram)` for each histogram.
    pub fn histograms(&self) -> [(&'static str, &'static str, HistogramSnapshot); 3] {
        [
            (
                "upstream_latency_seconds",
                "Time from sending an upstream request to its response headers.",
                self.upstream_latency.snapshot(),
            ),
            (
                "time_to_first_token_seconds",
                "Time from a client request to the first streamed token sent back.",
                self.time_to_first_token.snapshot(),
            ),
            (
                "relay_overhead_seconds",
                "The relay's own time on a request, upstream waits excluded.",
                self.relay_overhead.snapshot(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests;
