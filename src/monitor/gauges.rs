//! The gauges the monitor watches, and one reading of all of them.
//!
//! Owns: the list of watched gauges, their names (JSON keys and log fields), and which
//! thresholds apply to which gauge.
//! Must never: read anything itself; a [`Reading`] is filled by `Monitor::read`.

use crate::config::{Level, Thresholds};
use serde::ser::{Serialize, SerializeMap, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gauge {
    LiveTasks,
    InboundConnections,
    UpstreamConnections,
    InFlightRequests,
    OpenStreams,
    BackgroundJobs,
    OpenFds,
    ResidentMemoryBytes,
    Threads,
    TcpEstablished,
    TcpCloseWait,
}

impl Gauge {
    pub const ALL: [Gauge; 11] = [
        Gauge::LiveTasks,
        Gauge::InboundConnections,
        Gauge::UpstreamConnections,
        Gauge::InFlightRequests,
        Gauge::OpenStreams,
        Gauge::BackgroundJobs,
        Gauge::OpenFds,
        Gauge::ResidentMemoryBytes,
        Gauge::Threads,
        Gauge::TcpEstablished,
        Gauge::TcpCloseWait,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::LiveTasks => "live_tasks",
            Self::InboundConnections => "inbound_connections",
            Self::UpstreamConnections => "upstream_connections",
            Self::InFlightRequests => "in_flight_requests",
            Self::OpenStreams => "open_streams",
            Self::BackgroundJobs => "background_jobs",
            Self::OpenFds => "open_fds",
            Self::ResidentMemoryBytes => "resident_memory_bytes",
            Self::Threads => "threads",
            Self::TcpEstablished => "tcp_established",
            Self::TcpCloseWait => "tcp_close_wait",
        }
    }

    /// The warn/critical/growth levels of this gauge, if it has any.
    pub fn level(self, t: &Thresholds) -> Option<Level> {
        match self {
            Self::LiveTasks => Some(t.live_tasks),
            Self::InboundConnections => Some(t.inbound_connections),
            Self::UpstreamConnections => Some(t.upstream_connections),
            Self::OpenFds => Some(t.open_fds),
            Self::ResidentMemoryBytes => Some(t.resident_memory_bytes),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One value per [`Gauge`]; `None` where the platform cannot tell (no /proc, no runtime).
/// Serializes as a map from gauge name to value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading([Option<u64>; Gauge::ALL.len()]);

impl Reading {
    pub fn get(&self, g: Gauge) -> Option<u64> {
        self.0[g.index()]
    }

    pub fn set(&mut self, g: Gauge, value: Option<u64>) {
        self.0[g.index()] = value;
    }

    pub fn with(mut self, g: Gauge, value: u64) -> Self {
        self.set(g, Some(value));
        self
    }
}

impl Serialize for Reading {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(Gauge::ALL.len()))?;
        for g in Gauge::ALL {
            map.serialize_entry(g.name(), &self.get(g))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_gauge_in_index_order() {
        for (i, g) in Gauge::ALL.iter().enumerate() {
            assert_eq!(g.index(), i);
        }
    }

    #[test]
    fn reading_serializes_by_name() {
        let r = Reading::default().with(Gauge::OpenFds, 7);
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(v["open_fds"], 7);
        assert!(v["live_tasks"].is_null());
        assert_eq!(v.as_object().unwrap().len(), Gauge::ALL.len());
    }
}
