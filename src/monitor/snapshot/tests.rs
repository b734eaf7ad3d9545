use super::*;
use crate::config::{Level, MonitorConfig};
use std::sync::Arc;
use std::time::Duration;

fn config_with(th: Thresholds) -> MonitorConfig {
    MonitorConfig {
        thresholds: th,
        ..MonitorConfig::default()
    }
}

#[test]
fn status_flips_to_warn_and_critical_and_back() {
    let th = Thresholds {
        inbound_connections: Level::new(2, 4),
        ..Thresholds::default()
    };
    let m = Monitor::new(&config_with(th), &[]);
    let l = Arc::clone(m.ledger());
    assert_eq!(m.snapshot().status, Status::Ok);
    let mut held: Vec<_> = (0..2).map(|_| l.inbound_connection()).collect();
    let s = m.snapshot();
    assert_eq!(s.status, Status::Warn);
    assert_eq!(
        s.alerts,
        vec![Alert {
            gauge: "inbound_connections",
            status: Status::Warn,
            value: 2,
            warn: 2,
            critical: 4
        }]
    );
    held.extend((0..2).map(|_| l.inbound_connection()));
    assert_eq!(m.snapshot().status, Status::Critical);
    held.truncate(3);
    assert_eq!(m.snapshot().status, Status::Warn);
    held.clear();
    let s = m.snapshot();
    assert_eq!(s.status, Status::Ok);
    assert!(s.alerts.is_empty());
}

#[test]
#[cfg(target_os = "linux")]
fn os_gauges_have_thresholds_too() {
    let th = Thresholds {
        open_fds: Level::new(1, 1_000_000),
        resident_memory_bytes: Level::new(1, 2),
        ..Thresholds::default()
    };
    let s = Monitor::new(&config_with(th), &[]).snapshot();
    assert_eq!(s.status, Status::Critical);
    let gauges: Vec<_> = s.alerts.iter().map(|a| (a.gauge, a.status)).collect();
    assert!(gauges.contains(&("open_fds", Status::Warn)));
    assert!(gauges.contains(&("resident_memory_bytes", Status::Critical)));
}

#[tokio::test]
async fn live_tasks_threshold_uses_the_runtime_count() {
    let th = Thresholds {
        live_tasks: Level::new(5, 1000),
        ..Thresholds::default()
    };
    let m = Monitor::new(&config_with(th), &[]);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        set.spawn(std::future::pending::<()>());
    }
    let s = m.snapshot();
    assert!(s.gauges.get(Gauge::LiveTasks).unwrap() >= 5);
    assert_eq!(s.status, Status::Warn);
    set.abort_all();
    while set.join_next().await.is_some() {}
    assert_eq!(m.snapshot().status, Status::Ok);
}

#[test]
fn growing_needs_a_trend_above_tolerance() {
    let th = Thresholds::default(); // live_tasks tolerance: 30 per minute
    let trend = BTreeMap::from([("live_tasks", 45.0), ("open_fds", 10.0), ("threads", 1e6)]);
    let g = growing(&trend, &th);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].gauge, "live_tasks");
    assert_eq!(g[0].tolerance_per_minute, 30.0);
}

#[tokio::test(start_paused = true)]
async fn snapshot_reports_growth_once_half_the_window_is_covered() {
    let config = MonitorConfig {
        interval: Duration::from_secs(10),
        window: Duration::from_secs(60),
        thresholds: Thresholds {
            inbound_connections: Level::new(1000, 2000),
            ..Thresholds::default()
        },
        ..MonitorConfig::default()
    };
    let m = Monitor::new(&config, &[]);
    let mut held = Vec::new();
    for i in 0..6 {
        // +10 connections per 10 s = 60 per minute, tolerance 10 per minute.
        held.extend((0..10).map(|_| m.ledger().inbound_connection()));
        let s = m.record_sample();
        // Only the ledger's inbound count is driven here; the OS gauges (fds, threads) are the
        // test process's own and move with the tests running beside this one.
        let growing: Vec<_> = s.growing.iter().map(|g| g.gauge).collect();
        let inbound = growing.contains(&"inbound_connections");
        assert_eq!(inbound, i >= 3, "sample {i}: {growing:?}");
        tokio::time::advance(Duration::from_secs(10)).await;
    }
    let s = m.snapshot();
    assert!((s.trend["inbound_connections"] - 60.0).abs() < 1e-6);
    assert_eq!(s.samples, 6);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["gauges"]["inbound_connections"], 60);
    let growing = json["growing"].as_array().unwrap();
    assert!(growing.iter().any(|g| g["gauge"] == "inbound_connections"));
}
