//! `/api/monitor/health` and `/metrics` for the whole relay: the monitor's view plus the state
//! of the channels (circuit, in-flight, faults), the retry budget, overload protection and the
//! background jobs.
//!
//! Owns: composing those views; the monitor stays unaware of routing.
//! Must never: give more than the status to a caller `server::access` does not authorise
//! (`/metrics` sits behind its guard; health checks here).

use super::access::{self, Listener};
use crate::monitor::{health_response, metrics_response, prometheus, status_only};
use crate::routing::{BreakerState, ChannelSnapshot, RoutesSnapshot};
use crate::state::AppState;
use crate::store::{StoreSnapshot, StoreStatus};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::fmt::Write as _;
use std::sync::Arc;

/// Open to every caller, for load balancers: only `{"status"}` unless authorised (the admin
/// token, or the admin listener), then every gauge, counter, channel and overload count.
pub(super) async fn health(
    State(state): State<Arc<AppState>>,
    Extension(listener): Extension<Listener>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let draining = state.is_draining();
    if !access::authorized(listener, &uri, &headers, state.config.admin_token.as_ref()) {
        return status_only(&state.monitor, draining);
    }
    let (status, mut body) = health_response(&state.monitor, draining);
    body["channels"] = serde_json::to_value(state.routes.snapshot()).unwrap_or_default();
    body["overload"] = serde_json::to_value(state.overload.snapshot()).unwrap_or_default();
    body["jobs"] = serde_json::to_value(state.supervisor.jobs()).unwrap_or_default();
    if let Some(sink) = state.sink() {
        body["store"] = serde_json::to_value(sink.snapshot()).unwrap_or_default();
    }
    if let Some(m) = &state.metered {
        body["cluster"] = serde_json::to_value(m.cluster.snapshot()).unwrap_or_default();
    }
    (status, Json(body)).into_response()
}

/// Behind `access::guard`.
pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.monitor.render_prometheus();
    prometheus::render_jobs(&mut text, &state.supervisor.jobs());
    render_routes(&mut text, &state.routes.snapshot());
    if let Some(sink) = state.sink() {
        render_store(&mut text, &sink.snapshot());
    }
    let o = state.overload.snapshot();
    family(
        &mut text,
        "sluice_shed_requests_total",
        "counter",
        "Requests refused with 503 by overload protection.",
    );
    let _ = writeln!(text, "sluice_shed_requests_total {}", o.shed_requests);
    family(
        &mut text,
        "sluice_refused_connections_total",
        "counter",
        "Connections closed at once beyond overload.max_connections.",
    );
    let _ = writeln!(
        text,
        "sluice_refused_connections_total {}",
        o.refused_connections
    );
    metrics_response(text)
}

/// The store's usage pipeline: status (one-hot), queue, spool, writes and their latency.
fn render_store(out: &mut String, s: &StoreSnapshot) {
    family(
        out,
        "sluice_store_status",
        "gauge",
        "The store's state (1 for the current one).",
    );
    for st in [StoreStatus::Ok, StoreStatus::Degraded, StoreStatus::Down] {
        let on = u8::from(s.status == st);
        let _ = writeln!(
            out,
            "sluice_store_status{{status=\"{}\"}} {on}",
            st.as_str()
        );
    }
    let gauges: [(&str, &str, u64); 5] = [
        (
            "sluice_usage_queue_depth",
            "Usage records waiting for the writer.",
            s.queue_depth as u64,
        ),
        (
            "sluice_usage_queue_capacity",
            "The usage queue's bound.",
            s.queue_capacity as u64,
        ),
        (
            "sluice_usage_spool_bytes",
            "Bytes in the usage spool.",
            s.spool_bytes,
        ),
        (
            "sluice_usage_spool_segments",
            "Segments in the usage spool.",
            s.spool_segments,
        ),
        (
            "sluice_usage_spool_full",
            "1 while the spool is full (metered tokens fail closed).",
            u64::from(s.spool_full),
        ),
    ];
    for (name, help, v) in gauges {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let counters: [(&str, &str, u64); 8] = [
        (
            "sluice_usage_rows_written_total",
            "Usage rows new to the ledger.",
            s.rows_written,
        ),
        (
            "sluice_usage_rows_duplicate_total",
            "Usage rows offered again (a replay) and already there.",
            s.rows_duplicate,
        ),
        (
            "sluice_usage_batches_total",
            "Usage batches committed.",
            s.batches_written,
        ),
        (
            "sluice_usage_write_errors_total",
            "Usage batch writes that failed.",
            s.write_failures,
        ),
        (
            "sluice_usage_spooled_total",
            "Usage records put in the spool.",
            s.records_spooled,
        ),
        (
            "sluice_usage_replayed_total",
            "Usage records replayed from the spool.",
            s.records_replayed,
        ),
        (
            "sluice_usage_dropped_total",
            "Usage records lost (the spool was full).",
            s.records_dropped,
        ),
        (
            "sluice_usage_write_micros_total",
            "Time spent in committed usage batch writes (µs).",
            s.write_micros_sum,
        ),
    ];
    for (name, help, v) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    family(
        out,
        "sluice_usage_write_micros_max",
        "gauge",
        "Longest usage batch write (µs).",
    );
    let _ = writeln!(out, "sluice_usage_write_micros_max {}", s.write_micros_max);
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn label(channel: &str) -> String {
    let mut s = String::new();
    prometheus::escape_into(&mut s, channel);
    s
}

/// Channel states, one-hot per state, and per-channel counts.
pub(super) fn render_routes(out: &mut String, r: &RoutesSnapshot) {
    family(
        out,
        "sluice_channel_state",
        "gauge",
        "1 for the channel's current state (closed, open, half_open, disabled).",
    );
    for c in &r.channels {
        let current = if !c.enabled {
            "disabled"
        } else {
            match c.breaker {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            }
        };
        let ch = label(&c.name);
        for state in ["closed", "open", "half_open", "disabled"] {
            let v = u8::from(state == current);
            let _ = writeln!(
                out,
                "sluice_channel_state{{channel=\"{ch}\",state=\"{state}\"}} {v}"
            );
        }
    }
    type PerChannel = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ChannelSnapshot) -> u64,
    );
    let per_channel: [PerChannel; 4] = [
        (
            "sluice_channel_in_flight",
            "gauge",
            "Attempts in flight on the channel.",
            |c| c.in_flight as u64,
        ),
        (
            "sluice_channel_attempts_total",
            "counter",
            "Upstream attempts admitted on the channel.",
            |c| c.attempts,
        ),
        (
            "sluice_channel_faults_total",
            "counter",
            "Attempts on the channel that ended in an upstream fault.",
            |c| c.faults,
        ),
        (
            "sluice_channel_breaker_trips",
            "gauge",
            "Circuit opens since the channel's circuit last closed.",
            |c| u64::from(c.breaker_trips),
        ),
    ];
    for (name, kind, help, value) in per_channel {
        family(out, name, kind, help);
        for c in &r.channels {
            let _ = writeln!(out, "{name}{{channel=\"{}\"}} {}", label(&c.name), value(c));
        }
    }
    let b = &r.retry_budget;
    family(
        out,
        "sluice_retry_budget_requests",
        "gauge",
        "Requests in the retry budget's window.",
    );
    let _ = writeln!(out, "sluice_retry_budget_requests {}", b.requests);
    family(
        out,
        "sluice_retry_budget_retries",
        "gauge",
        "Retries in the retry budget's window.",
    );
    let _ = writeln!(out, "sluice_retry_budget_retries {}", b.retries);
    family(
        out,
        "sluice_retry_budget_allowed",
        "gauge",
        "Retries the budget allows over its window at this traffic.",
    );
    let _ = writeln!(out, "sluice_retry_budget_allowed {}", b.allowed);
}
