//! Load shedding at the front door: a cap on inbound connections (the admin listener has its
//! own), a cap on requests in flight, and a memory budget. Beyond a cap the answer is fast (503 + `retry-after`, or a closed
//! connection), never a queue.
//!
//! Owns: the counts (RAII permits, design.md rule 6), the admission of relay requests (a check
//! before the body is read, the slot once it is in: `server::handlers` holds it until the
//! response ends, so a stalled upload holds none), and sampling resident memory (from
//! `/proc/self/status`, at most every 100 ms).
//! Must never: wait for room, or shed a request already admitted (in-flight ones finish).

use crate::config::OverloadConfig;
use crate::error::RelayError;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const MEMORY_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Connections the admin listener holds at most: its own budget, so a flood of the public
/// listener never locks the operator out, and a small one (its callers are few).
pub(crate) const ADMIN_MAX_CONNECTIONS: usize = 256;

/// Reads the process's resident memory in bytes.
pub(crate) type RssReader = fn() -> Option<u64>;

pub struct Overload {
    max_connections: usize,
    max_in_flight: usize,
    retry_after: Duration,
    connections: Arc<AtomicUsize>,
    admin_connections: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    shed: AtomicU64,
    refused_connections: AtomicU64,
    memory: Option<MemoryBudget>,
}

struct MemoryBudget {
    budget: u64,
    read: RssReader,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last sample (u64::MAX: never).
    sampled_at: AtomicU64,
    rss: AtomicU64,
    over: AtomicBool,
}

/// Counts for the monitor and the admin API.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OverloadSnapshot {
    pub connections: usize,
    pub max_connections: usize,
    /// On the admin listener (at most [`ADMIN_MAX_CONNECTIONS`]).
    pub admin_connections: usize,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub shed_requests: u64,
    pub refused_connections: u64,
    pub rss_bytes: Option<u64>,
    pub memory_budget: Option<u64>,
}

/// Holds one slot of a counter until dropped.
#[derive(Debug)]
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take(counter: &Arc<AtomicUsize>, cap: usize) -> Option<Permit> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < cap).then_some(n + 1)
        })
        .ok()
        .map(|_| Permit(Arc::clone(counter)))
}

impl Overload {
    pub fn new(cfg: &OverloadConfig) -> Self {
        Self::with_reader(cfg, read_rss)
    }

    pub fn with_reader(cfg: &OverloadConfig, read: RssReader) -> Self {
        Self {
            max_connections: cfg.max_connections,
            max_in_flight: cfg.max_in_flight,
            retry_after: cfg.retry_after,
            connections: Arc::default(),
            admin_connections: Arc::default(),
            in_flight: Arc::default(),
            shed: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            memory: cfg.memory_budget.map(|budget| MemoryBudget {
                budget,
                read,
                epoch: Instant::now(),
                sampled_at: AtomicU64::new(u64::MAX),
                rss: AtomicU64::new(0),
                over: AtomicBool::new(false),
            }),
        }
    }

    /// A slot for a new inbound connection, or `None`: then the caller closes it at once.
    pub fn admit_connection(&self) -> Option<Permit> {
        let p = take(&self.connections, self.max_connections);
        if p.is_none() {
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    /// A slot for a new connection to the admin listener, or `None` (closed at once).
    pub fn admit_admin_connection(&self) -> Option<Permit> {
        let p = take(&self.admin_connections, ADMIN_MAX_CONNECTIONS);
        if p.is_none() {
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    /// Whether a new request could be admitted now, without taking a slot: the fast 503 for one
    /// that arrives when the relay is already full, before its body is read.
    pub fn has_room(&self) -> Result<(), RelayError> {
        let reason = if self.memory.as_ref().is_some_and(MemoryBudget::over) {
            "memory budget"
        } else if self.in_flight.load(Ordering::Acquire) >= self.max_in_flight {
            "requests in flight"
        } else {
            return Ok(());
        };
        self.shed.fetch_add(1, Ordering::Relaxed);
        Err(RelayError::Overloaded {
            reason,
            retry_after: self.retry_after,
        })
    }

    /// A slot for a new request (taken once its body is in), or the fast 503 to answer it with.
    pub fn admit_request(&self) -> Result<Permit, RelayError> {
        let reason = if self.memory.as_ref().is_some_and(MemoryBudget::over) {
            "memory budget"
        } else if let Some(p) = take(&self.in_flight, self.max_in_flight) {
            return Ok(p);
        } else {
            "requests in flight"
        };
        self.shed.fetch_add(1, Ordering::Relaxed);
        Err(RelayError::Overloaded {
            reason,
            retry_after: self.retry_after,
        })
    }

    pub fn snapshot(&self) -> OverloadSnapshot {
        OverloadSnapshot {
            connections: self.connections.load(Ordering::Acquire),
            max_connections: self.max_connections,
            admin_connections: self.admin_connections.load(Ordering::Acquire),
            in_flight: self.in_flight.load(Ordering::Acquire),
            max_in_flight: self.max_in_flight,
            shed_requests: self.shed.load(Ordering::Relaxed),
            refused_connections: self.refused_connections.load(Ordering::Relaxed),
            rss_bytes: self.memory.as_ref().map(|m| m.rss.load(Ordering::Relaxed)),
            memory_budget: self.memory.as_ref().map(|m| m.budget),
        }
    }
}

impl MemoryBudget {
    /// Whether resident memory is over budget, sampling it if the last sample is stale. One
    /// caller per period samples; the others read the last verdict.
    fn over(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.sampled_at.load(Ordering::Acquire);
        let stale = last == u64::MAX || now >= last + MEMORY_SAMPLE_EVERY.as_millis() as u64;
        if stale
            && self
                .sampled_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            if let Some(rss) = (self.read)() {
                self.rss.store(rss, Ordering::Relaxed);
                self.over.store(rss > self.budget, Ordering::Release);
            }
        }
        self.over.load(Ordering::Acquire)
    }
}

/// Resident memory from `/proc/self/status` (`VmRSS`, in kB): a small procfs read, no page
/// size needed. `None` off Linux.
pub(crate) fn read_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_in_flight: usize, memory_budget: Option<u64>) -> OverloadConfig {
        OverloadConfig {
            max_connections: 2,
            max_in_flight,
            memory_budget,
            retry_after: Duration::from_secs(1),
        }
    }

    #[test]
    fn permits_cap_and_come_back_on_drop() {
        let o = Overload::new(&cfg(2, None));
        let a = o.admit_request().unwrap();
        let _b = o.admit_request().unwrap();
        let err = o.admit_request().unwrap_err();
        assert!(matches!(
            err,
            RelayError::Overloaded {
                reason: "requests in flight",
                ..
            }
        ));
        drop(a);
        assert!(o.admit_request().is_ok());
        let c1 = o.admit_connection().unwrap();
        let _c2 = o.admit_connection().unwrap();
        assert!(o.admit_connection().is_none());
        drop(c1);
        assert!(o.admit_connection().is_some());
        let s = o.snapshot();
        assert_eq!((s.shed_requests, s.refused_connections), (1, 1));
    }

    #[test]
    fn has_room_checks_without_taking_a_slot() {
        let o = Overload::new(&cfg(1, None));
        assert!(o.has_room().is_ok() && o.has_room().is_ok());
        assert_eq!(o.snapshot().in_flight, 0);
        let held = o.admit_request().unwrap();
        assert!(matches!(
            o.has_room(),
            Err(RelayError::Overloaded {
                reason: "requests in flight",
                ..
            })
        ));
        drop(held);
        assert!(o.has_room().is_ok());
        assert_eq!(o.snapshot().shed_requests, 1);
        let full = Overload::with_reader(&cfg(10, Some(1000)), || Some(2000));
        assert!(full.has_room().is_err());
    }

    #[test]
    fn memory_over_budget_sheds_new_requests() {
        let o = Overload::with_reader(&cfg(10, Some(1000)), || Some(2000));
        assert!(matches!(
            o.admit_request(),
            Err(RelayError::Overloaded {
                reason: "memory budget",
                ..
            })
        ));
        let o = Overload::with_reader(&cfg(10, Some(1000)), || Some(10));
        assert!(o.admit_request().is_ok());
    }

    #[test]
    fn reads_this_process_rss() {
        if cfg!(target_os = "linux") {
            assert!(read_rss().is_some_and(|b| b > 1024 * 1024));
        }
    }
}
