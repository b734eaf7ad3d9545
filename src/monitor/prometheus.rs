//! `GET /metrics`: the snapshot and the ledger's histograms in the Prometheus text format 0.0.4.
//!
//! Owns: metric names (`sluice_` prefix, base units, `_total` for counters), help texts, label
//! escaping. Hand-written over the ledger's atomics rather than a `metrics` recorder, so that
//! the health JSON and `/metrics` read the very same numbers and each relay instance renders
//! only its own.
//! Must never: emit a label whose values grow with traffic (all label sets are fixed lists).

use super::histogram::HistogramSnapshot;
use super::{Gauge, Ledger, Snapshot, Status};
use crate::config::ProviderKind;
use crate::supervisor::JobStatus;
use crate::tasks::gauges::{PollErrorKind, VideoSnapshot};
use crate::tasks::TaskState;
use std::fmt::Write;

pub const PREFIX: &str = "sluice_";

/// The whole exposition.
pub fn render(s: &Snapshot, ledger: &Ledger) -> String {
    let mut w = Writer(String::with_capacity(8 * 1024));
    let plain = [
        (
            Gauge::LiveTasks,
            "live_tasks",
            "Tasks alive in the tokio runtime.",
        ),
        (
            Gauge::InboundConnections,
            "inbound_connections",
            "Client connections open.",
        ),
        (
            Gauge::UpstreamConnections,
            "upstream_connections",
            "Upstream connections open.",
        ),
        (Gauge::OpenStreams, "open_streams", "Response streams open."),
        (
            Gauge::BackgroundJobs,
            "background_jobs",
            "Background jobs running.",
        ),
        (
            Gauge::OpenFds,
            "open_fds",
            "File descriptors open (from /proc).",
        ),
        (
            Gauge::ResidentMemoryBytes,
            "resident_memory_bytes",
            "Resident memory (from /proc).",
        ),
        (
            Gauge::Threads,
            "threads",
            "OS threads of the process (from /proc).",
        ),
    ];
    for (g, name, help) in plain {
        if let Some(v) = s.gauges.get(g) {
            w.family(name, help, "gauge");
            w.sample(name, &[], v as f64);
        }
    }
    if let Some(workers) = s.tokio_workers {
        w.family(
            "tokio_workers",
            "Worker threads of the tokio runtime.",
            "gauge",
        );
        w.sample("tokio_workers", &[], workers as f64);
    }
    w.family(
        "in_flight_requests",
        "Requests being handled, by endpoint family.",
        "gauge",
    );
    for (family, n) in &s.in_flight {
        w.sample("in_flight_requests", &[("family", family)], *n as f64);
    }
    if let Some(tcp) = &s.tcp_sockets {
        w.family(
            "tcp_sockets",
            "TCP sockets of the process by state (from /proc).",
            "gauge",
        );
        for (state, n) in tcp {
            w.sample("tcp_sockets", &[("state", state)], *n as f64);
        }
    }
    w.family("uptime_seconds", "Time since the monitor started.", "gauge");
    w.sample("uptime_seconds", &[], s.uptime_seconds);
    w.family(
        "health_status",
        "Health: 0 ok, 1 warn, 2 critical.",
        "gauge",
    );
    let status = match s.status {
        Status::Ok => 0.0,
        Status::Warn => 1.0,
        Status::Critical => 2.0,
    };
    w.sample("health_status", &[], status);

    let c = &s.counters;
    w.family(
        "requests_total",
        "Responses sent to clients, by status.",
        "counter",
    );
    for (status, n) in &c.requests {
        w.sample("requests_total", &[("status", status)], *n as f64);
    }
    w.family(
        "upstream_errors_total",
        "Failed upstream calls, by channel and status or kind.",
        "counter",
    );
    for (channel, by) in &c.upstream_errors {
        for (status, n) in by {
            let labels = [("channel", channel.as_str()), ("status", status.as_str())];
            w.sample("upstream_errors_total", &labels, *n as f64);
        }
    }
    w.family(
        "retries_total",
        "Upstream attempts retried or failed over.",
        "counter",
    );
    w.sample("retries_total", &[], c.retries as f64);
    w.family(
        "client_disconnects_total",
        "Clients gone before the response ended.",
        "counter",
    );
    w.sample("client_disconnects_total", &[], c.client_disconnects as f64);
    w.family(
        "timeouts_total",
        "Deadlines that fired, by kind.",
        "counter",
    );
    for (kind, n) in &c.timeouts {
        w.sample("timeouts_total", &[("kind", kind)], *n as f64);
    }
    for (name, help, h) in ledger.histograms() {
        w.histogram(name, help, &h);
    }
    render_video(&mut w, &s.video);
    w.0
}

/// The video tasks: pending by provider and state (every state of every provider kind, so a
/// series drops to 0 rather than vanishing), the oldest pending task's age, polls, poll errors
/// by kind, callbacks, and tasks past their deadline.
fn render_video(w: &mut Writer, v: &VideoSnapshot) {
    w.family(
        "video_tasks_pending",
        "Video tasks not ended, by provider kind and state (as last counted).",
        "gauge",
    );
    for kind in ProviderKind::ALL {
        for state in TaskState::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let n = v
                .pending
                .iter()
                .filter(|g| g.provider == kind.as_str() && g.state == state)
                .map(|g| g.count)
                .sum::<u64>();
            let labels = [("provider", kind.as_str()), ("state", state.as_str())];
            w.sample("video_tasks_pending", &labels, n as f64);
        }
    }
    w.family(
        "video_oldest_pending_seconds",
        "Age of the oldest video task not ended (0 when none).",
        "gauge",
    );
    w.sample(
        "video_oldest_pending_seconds",
        &[],
        v.oldest_pending_seconds.unwrap_or(0.0),
    );
    w.family(
        "video_tasks_overdue",
        "Video tasks past their deadline and not yet expired.",
        "gauge",
    );
    w.sample("video_tasks_overdue", &[], v.overdue as f64);
    w.family(
        "video_polls_total",
        "Upstream polls of video tasks sent by this instance.",
        "counter",
    );
    w.sample("video_polls_total", &[], v.polls_total as f64);
    w.family(
        "video_poll_errors_total",
        "Failed polls of video tasks, by kind.",
        "counter",
    );
    for kind in PollErrorKind::ALL {
        let n = v.poll_errors.get(kind.as_str()).copied().unwrap_or(0);
        w.sample(
            "video_poll_errors_total",
            &[("kind", kind.as_str())],
            n as f64,
        );
    }
    w.family(
        "video_callbacks_total",
        "Provider callbacks about video tasks received.",
        "counter",
    );
    w.sample("video_callbacks_total", &[], v.callbacks_total as f64);
    w.family(
        "video_settlements_total",
        "Video tasks this instance ended and settled.",
        "counter",
    );
    w.sample("video_settlements_total", &[], v.settlements_total as f64);
}

/// The supervisor's jobs: `sluice_background_job_running{job}` (1 while a run is in progress)
/// and `sluice_background_job_restarts_total{job}` (job names are fixed in the code).
pub fn render_jobs(out: &mut String, jobs: &[JobStatus]) {
    type Family = (
        &'static str,
        &'static str,
        &'static str,
        fn(&JobStatus) -> f64,
    );
    let families: [Family; 2] = [
        (
            "background_job_running",
            "1 while the background job runs, 0 once it ended or waits to restart.",
            "gauge",
            |j| f64::from(u8::from(j.running)),
        ),
        (
            "background_job_restarts_total",
            "Restarts of a critical background job that ended or panicked.",
            "counter",
            |j| j.restarts as f64,
        ),
    ];
    let mut w = Writer(std::mem::take(out));
    for (name, help, kind, value) in families {
        w.family(name, help, kind);
        for j in jobs {
            w.sample(name, &[("job", j.name)], value(j));
        }
    }
    *out = w.0;
}

struct Writer(String);

impl Writer {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.0, "# HELP {PREFIX}{name} {help}");
        let _ = writeln!(self.0, "# TYPE {PREFIX}{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.0, "{PREFIX}{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"");
                escape_into(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        self.family(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        for (le, n) in h.bounds.iter().zip(&h.cumulative) {
            self.sample(&bucket, &[("le", &le.to_string())], *n as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count as f64);
        self.sample(&format!("{name}_sum"), &[], h.sum_seconds);
        self.sample(&format!("{name}_count"), &[], h.count as f64);
    }
}

/// Label values escape `\`, `"` and newlines.
pub fn escape_into(out: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
