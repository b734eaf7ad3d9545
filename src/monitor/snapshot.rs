//! One full picture of the relay's health: every gauge and counter, the trend, and the status
//! against the configured thresholds.
//!
//! Owns: [`Snapshot`] (the JSON of `/api/monitor/health`), the status rule (the worst level of
//! any thresholded gauge, and a warning while video tasks are past their deadline) and the "keeps growing" rule.
//! Must never: read anything; it is built from an observation the monitor made.

use super::gauges::{Gauge, Reading};
use super::ledger::Counters;
use super::trend::Ring;
use super::{Monitor, Observation};
use crate::config::Thresholds;
use crate::tasks::gauges::VideoSnapshot;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Critical,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Critical => "critical",
        }
    }
}

/// A gauge at or above its warn or critical level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub gauge: &'static str,
    pub status: Status,
    pub value: u64,
    pub warn: u64,
    pub critical: u64,
}

/// A gauge whose growth over the window is above its tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Growth {
    pub gauge: &'static str,
    pub per_minute: f64,
    pub tolerance_per_minute: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub sum_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// `ok`, `warn` or `critical`: the worst level of any thresholded gauge.
    pub status: Status,
    pub version: &'static str,
    pub uptime_seconds: f64,
    /// Every gauge by name; `null` where the platform cannot tell.
    pub gauges: Reading,
    pub in_flight: BTreeMap<&'static str, u64>,
    /// This process's TCP sockets by state; `null` without /proc.
    pub tcp_sockets: Option<BTreeMap<&'static str, u64>>,
    pub tokio_workers: Option<u64>,
    pub counters: Counters,
    pub latency: BTreeMap<&'static str, Latency>,
    /// Growth per minute of each gauge over the samples held (least-squares slope).
    pub trend: BTreeMap<&'static str, f64>,
    /// Gauges growing faster than their tolerance over at least half the window.
    pub growing: Vec<Growth>,
    pub alerts: Vec<Alert>,
    /// Video tasks: polls, poll errors, callbacks, pending tasks and those past their deadline.
    pub video: VideoSnapshot,
    pub samples: usize,
    pub interval_seconds: f64,
    pub window_seconds: f64,
}

impl Snapshot {
    pub(super) fn new(monitor: &Monitor, obs: Observation, ring: &Ring) -> Self {
        let config = monitor.config();
        let video = monitor.video().snapshot();
        let mut alerts = evaluate(&obs.reading, &config.thresholds);
        alerts.extend(overdue_alert(&video));
        let trend = ring.trend();
        let covered = ring.len() >= 3 && ring.span() >= config.window.as_secs_f64() / 2.0;
        let growing = if covered {
            growing(&trend, &config.thresholds)
        } else {
            Vec::new()
        };
        let latency = monitor
            .ledger()
            .histograms()
            .into_iter()
            .map(|(name, _, h)| {
                let l = Latency {
                    count: h.count,
                    sum_seconds: h.sum_seconds,
                };
                (name, l)
            })
            .collect();
        Self {
            status: alerts.iter().map(|a| a.status).max().unwrap_or(Status::Ok),
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: monitor.uptime().as_secs_f64(),
            gauges: obs.reading,
            in_flight: obs.counts.in_flight,
            tcp_sockets: obs.proc.tcp_sockets,
            tokio_workers: obs.runtime.map(|r| r.workers),
            counters: monitor.ledger().counters(),
            latency,
            trend,
            growing,
            alerts,
            video,
            samples: ring.len(),
            interval_seconds: config.interval.as_secs_f64(),
            window_seconds: config.window.as_secs_f64(),
        }
    }
}

/// The thresholded gauges at warn or above.
pub(super) fn evaluate(reading: &Reading, thresholds: &Thresholds) -> Vec<Alert> {
    Gauge::ALL
        .iter()
        .filter_map(|g| {
            let level = g.level(thresholds)?;
            let value = reading.get(*g)?;
            let status = if value >= level.critical {
                Status::Critical
            } else if value >= level.warn {
                Status::Warn
            } else {
                return None;
            };
            Some(Alert {
                gauge: g.name(),
                status,
                value,
                warn: level.warn,
                critical: level.critical,
            })
        })
        .collect()
}

/// The alert name of video tasks past their deadline.
pub const VIDEO_OVERDUE: &str = "video_tasks_overdue";

/// A warning while pending video tasks are past their deadline (the sweep expires them each
/// round, so a lasting count means the poller is behind or down). Never critical: the relay
/// still serves.
pub(super) fn overdue_alert(video: &VideoSnapshot) -> Option<Alert> {
    (video.overdue > 0).then_some(Alert {
        gauge: VIDEO_OVERDUE,
        status: Status::Warn,
        value: video.overdue,
        warn: 1,
        critical: u64::MAX,
    })
}

/// The thresholded gauges whose trend is above their growth tolerance.
pub(super) fn growing(trend: &BTreeMap<&'static str, f64>, thresholds: &Thresholds) -> Vec<Growth> {
    Gauge::ALL
        .iter()
        .filter_map(|g| {
            let tolerance = g.level(thresholds)?.growth_per_minute;
            let per_minute = *trend.get(g.name())?;
            (per_minute > tolerance).then_some(Growth {
                gauge: g.name(),
                per_minute,
                tolerance_per_minute: tolerance,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
