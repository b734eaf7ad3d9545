//! The soak's verdict: per-series least-squares trends after warm-up, and the final counts after
//! the load stopped and the relay settled, each against its stated tolerance.
//!
//! Owns: the series list, the trend rule and the return-to-baseline rule.
//! Must never: read anything; it judges the rows it is given.

use super::Row;
use crate::probe::Sample;

const MIB: f64 = 1024.0 * 1024.0;

/// Tolerances, per minute for trends.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Tolerances {
    pub tasks_per_min: f64,
    pub conns_per_min: f64,
    pub fds_per_min: f64,
    pub rss_mib_per_min: f64,
    pub threads_per_min: f64,
    /// Final RSS may exceed the RSS at the end of warm-up by this much.
    pub rss_final_slack_mib: f64,
    /// Idle upstream connections the pool may keep (pool_max_idle_per_host; one host).
    pub pool_bound: u64,
}

/// One series' trend over the post-warm-up load phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Trend {
    pub series: &'static str,
    pub unit: &'static str,
    pub samples: usize,
    pub slope_per_min: f64,
    pub stderr_per_min: f64,
    pub tolerance_per_min: f64,
    /// "pass", "FAIL" or "skipped (too few samples)".
    pub verdict: &'static str,
}

type Getter = fn(&Sample) -> f64;

/// The series watched for trends, with their unit and tolerance.
fn series(t: &Tolerances) -> Vec<(&'static str, &'static str, Getter, f64)> {
    vec![
        (
            "live_tasks",
            "tasks",
            |s| s.live_tasks as f64,
            t.tasks_per_min,
        ),
        (
            "inbound_connections",
            "conns",
            |s| s.inbound_connections as f64,
            t.conns_per_min,
        ),
        (
            "upstream_connections",
            "conns",
            |s| s.upstream_connections as f64,
            t.conns_per_min,
        ),
        (
            "open_streams",
            "streams",
            |s| s.open_streams as f64,
            t.conns_per_min,
        ),
        (
            "tcp_close_wait",
            "sockets",
            |s| s.tcp_close_wait as f64,
            t.conns_per_min,
        ),
        ("open_fds", "fds", |s| s.open_fds as f64, t.fds_per_min),
        (
            "rss",
            "MiB",
            |s| s.rss_bytes as f64 / MIB,
            t.rss_mib_per_min,
        ),
        (
            "threads",
            "threads",
            |s| s.threads as f64,
            t.threads_per_min,
        ),
    ]
}

/// Least-squares slope of y over x and its standard error.
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (sse / (n - 2.0) / sxx).sqrt();
    Some((b, se))
}

/// Minimum samples after warm-up for a trend verdict.
pub const MIN_TREND_SAMPLES: usize = 10;

/// A series fails when its slope exceeds the tolerance beyond doubt (three standard errors)
/// (slope - 3 x standard error > tolerance), so that short noisy runs do not fail on noise and
/// long runs detect slow growth.
pub fn trends(rows: &[Row], t: &Tolerances) -> Vec<Trend> {
    let steady: Vec<&Row> = rows.iter().filter(|r| r.phase == "load").collect();
    series(t)
        .into_iter()
        .map(|(name, unit, get, tol)| {
            let pts: Vec<(f64, f64)> = steady.iter().map(|r| (r.t / 60.0, get(&r.s))).collect();
            let fit = slope(&pts).filter(|_| pts.len() >= MIN_TREND_SAMPLES);
            let (b, se) = fit.unwrap_or((0.0, 0.0));
            let verdict = match fit {
                None => "skipped (too few samples)",
                Some(_) if b - 3.0 * se > tol => "FAIL",
                Some(_) => "pass",
            };
            Trend {
                series: name,
                unit,
                samples: pts.len(),
                slope_per_min: b,
                stderr_per_min: se,
                tolerance_per_min: tol,
                verdict,
            }
        })
        .collect()
}

/// One final count against its allowed bound.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Final {
    pub series: &'static str,
    pub baseline: u64,
    pub last: u64,
    pub allowed: u64,
    pub ok: bool,
    pub rule: &'static str,
}

/// Final counts after the settle phase against the idle baseline (counts) and the end of
/// warm-up (RSS).
pub fn finals(idle: &Sample, warm: &Sample, last: &Sample, t: &Tolerances) -> Vec<Final> {
    let upstream_extra = last
        .upstream_connections
        .saturating_sub(idle.upstream_connections);
    let rss_allowed = warm.rss_bytes + (t.rss_final_slack_mib * MIB) as u64;
    let f = |series, baseline: u64, last: u64, allowed: u64, rule| Final {
        series,
        baseline,
        last,
        allowed,
        ok: last <= allowed,
        rule,
    };
    vec![
        f(
            "live_tasks",
            idle.live_tasks,
            last.live_tasks,
            idle.live_tasks,
            "<= idle baseline",
        ),
        f(
            "inbound_connections",
            idle.inbound_connections,
            last.inbound_connections,
            idle.inbound_connections,
            "<= idle baseline (the monitor's own connection)",
        ),
        f(
            "upstream_connections",
            idle.upstream_connections,
            last.upstream_connections,
            idle.upstream_connections.max(t.pool_bound),
            "<= pool_max_idle_per_host",
        ),
        f(
            "in_flight_requests",
            idle.in_flight_requests,
            last.in_flight_requests,
            idle.in_flight_requests,
            "<= idle baseline",
        ),
        f(
            "open_streams",
            idle.open_streams,
            last.open_streams,
            idle.open_streams,
            "<= idle baseline",
        ),
        f(
            "tcp_close_wait",
            idle.tcp_close_wait,
            last.tcp_close_wait,
            idle.tcp_close_wait,
            "<= idle baseline",
        ),
        f(
            "open_fds",
            idle.open_fds,
            last.open_fds,
            idle.open_fds + upstream_extra,
            "<= idle baseline + idle pooled connections",
        ),
        f(
            "rss_bytes",
            warm.rss_bytes,
            last.rss_bytes,
            rss_allowed,
            "<= RSS at end of warm-up + slack",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_noise() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 1.0)).collect();
        let (b, se) = slope(&line).unwrap();
        assert!((b - 3.0).abs() < 1e-9 && se < 1e-9);
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i % 2) as f64)).collect();
        let (b, se) = slope(&flat).unwrap();
        assert!(b.abs() < 0.1 && se > 0.0);
        assert!(slope(&line[..2]).is_none());
    }
}
