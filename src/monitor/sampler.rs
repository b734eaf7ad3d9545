//! The sampler: every `monitor.interval`, a reading goes into the ring and one log line; alerts
//! are logged when a threshold is crossed (and again every `alert_repeat` while it lasts) and
//! when a gauge keeps growing.
//!
//! Owns: the sampling loop (a future; the supervisor runs it as the critical job `sampler`,
//! counted there) and the alert transitions.
//! Must never: spawn, outlive its cancellation token, or log more than one line per gauge per
//! `alert_repeat` while nothing changes.

use super::{Growth, Monitor, Snapshot, Status};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Samples until `cancel` fires. The first sample is taken at once.
pub async fn run(monitor: Arc<Monitor>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(monitor.interval());
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut alerts = Alerts::new(monitor.config().alert_repeat);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let snapshot = monitor.record_sample();
        log_sample(&snapshot);
        for event in alerts.update(Instant::now(), &snapshot) {
            event.log();
        }
    }
    tracing::debug!(target: "sluice::monitor", "sampler stopped");
}

fn log_sample(s: &Snapshot) {
    use super::Gauge::*;
    let g = |gauge| s.gauges.get(gauge);
    tracing::info!(
        target: "sluice::monitor",
        status = s.status.as_str(),
        live_tasks = g(LiveTasks),
        inbound_connections = g(InboundConnections),
        upstream_connections = g(UpstreamConnections),
        in_flight_requests = g(InFlightRequests),
        open_streams = g(OpenStreams),
        background_jobs = g(BackgroundJobs),
        open_fds = g(OpenFds),
        resident_memory_bytes = g(ResidentMemoryBytes),
        threads = g(Threads),
        tcp_established = g(TcpEstablished),
        tcp_close_wait = g(TcpCloseWait),
        "monitor sample"
    );
}

/// What the sampler reports after a sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A gauge reached a new level (warn or critical), or went from critical back to warn.
    Raised {
        gauge: &'static str,
        status: Status,
        value: u64,
        threshold: u64,
    },
    /// Still at warn or critical, `alert_repeat` after the last report.
    Lasting {
        gauge: &'static str,
        status: Status,
        value: u64,
        threshold: u64,
    },
    /// Back below warn.
    Cleared { gauge: &'static str, value: u64 },
    /// Growing faster than its tolerance over the window.
    Growing(Growth),
}

impl Event {
    fn log(&self) {
        match self {
            Self::Raised {
                gauge,
                status,
                value,
                threshold,
            }
            | Self::Lasting {
                gauge,
                status,
                value,
                threshold,
            } => {
                let lasting = matches!(self, Self::Lasting { .. });
                if *status == Status::Critical {
                    tracing::error!(target: "sluice::monitor", gauge, value, threshold, lasting, "gauge critical");
                } else {
                    tracing::warn!(target: "sluice::monitor", gauge, value, threshold, lasting, "gauge above warn level");
                }
            }
            Self::Cleared { gauge, value } => {
                tracing::info!(target: "sluice::monitor", gauge, value, "gauge back to normal");
            }
            Self::Growing(g) => {
                tracing::warn!(
                    target: "sluice::monitor",
                    gauge = g.gauge,
                    per_minute = g.per_minute,
                    tolerance_per_minute = g.tolerance_per_minute,
                    "gauge keeps growing: possible leak"
                );
            }
        }
    }
}

/// The last reported level of each gauge, and when it was last reported.
pub struct Alerts {
    repeat: Duration,
    levels: HashMap<&'static str, (Status, Instant)>,
    growth: HashMap<&'static str, Instant>,
}

impl Alerts {
    pub fn new(repeat: Duration) -> Self {
        Self {
            repeat,
            levels: HashMap::new(),
            growth: HashMap::new(),
        }
    }

    pub fn update(&mut self, now: Instant, s: &Snapshot) -> Vec<Event> {
        let mut events = Vec::new();
        for a in &s.alerts {
            let threshold = match a.status {
                Status::Critical => a.critical,
                _ => a.warn,
            };
            let (gauge, status, value) = (a.gauge, a.status, a.value);
            match self.levels.get(gauge) {
                Some((was, at)) if *was == status => {
                    if now.duration_since(*at) >= self.repeat {
                        events.push(Event::Lasting {
                            gauge,
                            status,
                            value,
                            threshold,
                        });
                        self.levels.insert(gauge, (status, now));
                    }
                }
                _ => {
                    events.push(Event::Raised {
                        gauge,
                        status,
                        value,
                        threshold,
                    });
                    self.levels.insert(gauge, (status, now));
                }
            }
        }
        let cleared: Vec<&'static str> = self
            .levels
            .keys()
            .filter(|g| !s.alerts.iter().any(|a| a.gauge == **g))
            .copied()
            .collect();
        for gauge in cleared {
            self.levels.remove(gauge);
            let value = super::Gauge::ALL
                .iter()
                .find(|g| g.name() == gauge)
                .and_then(|g| s.gauges.get(*g))
                .unwrap_or(0);
            events.push(Event::Cleared { gauge, value });
        }
        self.growth
            .retain(|g, _| s.growing.iter().any(|x| x.gauge == *g));
        for g in &s.growing {
            let due = self
                .growth
                .get(g.gauge)
                .is_none_or(|at| now.duration_since(*at) >= self.repeat);
            if due {
                self.growth.insert(g.gauge, now);
                events.push(Event::Growing(g.clone()));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests;
