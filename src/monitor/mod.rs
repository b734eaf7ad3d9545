//! The relay watching itself: live tasks, connections, streams, fds and memory, counted so an
//! operator sees a leak long before it kills the process (design.md rule 6).
//!
//! Owns: the [`Monitor`] of one relay instance: its [`Ledger`] (RAII-guarded gauges, counters,
//! histograms) and the video tasks' counts, the OS view from /proc, the sample ring behind trends, health status against
//! thresholds, the Prometheus text, the sampler loop and the `sluice monitor` command.
//! Must never: be a global (several relays share a test process), spawn tasks itself (the
//! sampler is a future the supervisor runs), or grow with traffic (labels and ring are bounded).

pub mod cli;
mod gauges;
pub mod health;
mod histogram;
mod ledger;
pub mod procfs;
pub mod prometheus;
pub mod sampler;
mod snapshot;
mod trend;

pub use gauges::{Gauge, Reading};
pub use health::{health_response, metrics_response, status_only, Verdict};
pub use histogram::HistogramSnapshot;
pub use ledger::{
    Counters, Counts, ErrorKind, ErrorLabel, Guard, Ledger, TimeoutKind, OTHER_CHANNEL,
};
pub use snapshot::{Alert, Growth, Latency, Snapshot, Status, VIDEO_OVERDUE};
pub use trend::{slope, Sample};

use crate::config::MonitorConfig;
use crate::tasks::gauges::VideoGauges;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use trend::Ring;

pub struct Monitor {
    config: MonitorConfig,
    ledger: Arc<Ledger>,
    /// What is counted of video tasks (the poller and the video front count there).
    video: Arc<VideoGauges>,
    ring: Mutex<Ring>,
    started: Instant,
}

/// Everything read at one instant, before it becomes a sample or a snapshot.
struct Observation {
    reading: Reading,
    proc: procfs::ProcView,
    runtime: Option<procfs::RuntimeView>,
    counts: Counts,
}

impl Monitor {
    /// `channels`: the configured channel names, the only upstream-error labels besides `other`.
    pub fn new(config: &MonitorConfig, channels: &[String]) -> Arc<Self> {
        Arc::new(Self {
            ring: Mutex::new(Ring::new(config.ring_capacity())),
            config: config.clone(),
            ledger: Ledger::new(channels),
            video: Arc::new(VideoGauges::default()),
            started: Instant::now(),
        })
    }

    /// The ledger to create guards and count events on.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The video tasks' counts.
    pub fn video(&self) -> &Arc<VideoGauges> {
        &self.video
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The sampler's period.
    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// A fresh reading with the trend of the samples held so far (the health endpoint).
    pub fn snapshot(&self) -> Snapshot {
        let obs = self.observe();
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        Snapshot::new(self, obs, &ring)
    }

    /// Takes a reading, keeps it in the sample ring, and returns the snapshot (the sampler).
    pub fn record_sample(&self) -> Snapshot {
        let obs = self.observe();
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.push(Sample {
            at: self.uptime().as_secs_f64(),
            reading: obs.reading,
        });
        Snapshot::new(self, obs, &ring)
    }

    /// The samples in the ring, oldest first (soak reports, tests).
    pub fn samples(&self) -> Vec<Sample> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.samples().copied().collect()
    }

    /// `GET /metrics` in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        prometheus::render(&self.snapshot(), &self.ledger)
    }

    fn observe(&self) -> Observation {
        let proc = procfs::read();
        let runtime = procfs::runtime();
        let counts = self.ledger.counts();
        let tcp = |state: &str| {
            proc.tcp_sockets
                .as_ref()
                .map(|t| t.get(state).copied().unwrap_or(0))
        };
        let mut r = Reading::default();
        r.set(Gauge::LiveTasks, runtime.map(|rt| rt.live_tasks));
        r.set(Gauge::InboundConnections, Some(counts.inbound_connections));
        r.set(
            Gauge::UpstreamConnections,
            Some(counts.upstream_connections),
        );
        r.set(Gauge::InFlightRequests, Some(counts.in_flight_total()));
        r.set(Gauge::OpenStreams, Some(counts.open_streams));
        r.set(Gauge::BackgroundJobs, Some(counts.background_jobs));
        r.set(Gauge::OpenFds, proc.open_fds);
        r.set(Gauge::ResidentMemoryBytes, proc.resident_memory_bytes);
        r.set(Gauge::Threads, proc.threads);
        r.set(Gauge::TcpEstablished, tcp("ESTABLISHED"));
        r.set(Gauge::TcpCloseWait, tcp("CLOSE_WAIT"));
        Observation {
            reading: r,
            proc,
            runtime,
            counts,
        }
    }
}
