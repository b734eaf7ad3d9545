use super::*;
use crate::config::{Level, MonitorConfig, Thresholds};
use http_body_util::BodyExt;

#[test]
fn verdicts_and_their_codes() {
    assert_eq!(Verdict::of(Status::Ok, false).code(), StatusCode::OK);
    assert_eq!(Verdict::of(Status::Warn, false).code(), StatusCode::OK);
    assert_eq!(
        Verdict::of(Status::Critical, false).code(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    for s in [Status::Ok, Status::Warn, Status::Critical] {
        assert_eq!(Verdict::of(s, true), Verdict::Draining);
    }
    assert_eq!(Verdict::Draining.code(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json!(Verdict::Draining), json!("draining"));
}

#[tokio::test]
async fn critical_is_503_warn_is_200_and_draining_overrides() {
    let th = Thresholds {
        upstream_connections: Level::new(1, 2),
        ..Thresholds::default()
    };
    let m = Monitor::new(
        &MonitorConfig {
            thresholds: th,
            ..MonitorConfig::default()
        },
        &[],
    );
    let a = m.ledger().upstream_connection();
    let (code, v) = health_response(&m, false);
    assert_eq!((code, v["status"].as_str()), (StatusCode::OK, Some("warn")));
    assert!(v["gauges"].is_object());
    let b = m.ledger().upstream_connection();
    let (code, v) = health_response(&m, false);
    assert_eq!(
        (code, v["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("critical"))
    );
    drop((a, b));
    assert_eq!(health_response(&m, false).0, StatusCode::OK);
    let (code, v) = health_response(&m, true);
    assert_eq!(
        (code, v["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("draining"))
    );
}

#[tokio::test]
async fn status_only_says_nothing_else() {
    let m = Monitor::new(&MonitorConfig::default(), &[]);
    for (draining, code, body) in [
        (false, StatusCode::OK, json!({"status": "ok"})),
        (
            true,
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining"}),
        ),
    ] {
        let resp = status_only(&m, draining);
        assert_eq!(resp.status(), code);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), body);
    }
}

#[tokio::test]
async fn tasks_past_their_deadline_warn_and_show_in_health() {
    use crate::store::tasks::TaskCounts;
    let m = Monitor::new(&MonitorConfig::default(), &[]);
    let (_, v) = health_response(&m, false);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["video"]["overdue"], 0);
    m.video().set_counts(
        TaskCounts {
            overdue: 3,
            ..TaskCounts::default()
        },
        1_000,
    );
    let (code, v) = health_response(&m, false);
    assert_eq!((code, v["status"].as_str()), (StatusCode::OK, Some("warn")));
    let alert = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["gauge"] == crate::monitor::VIDEO_OVERDUE)
        .expect("an overdue alert");
    assert_eq!(
        (alert["status"].as_str(), alert["value"].as_u64()),
        (Some("warn"), Some(3))
    );
    assert_eq!(v["video"]["overdue"], 3);
    m.video().set_counts(TaskCounts::default(), 2_000);
    assert_eq!(health_response(&m, false).1["status"], "ok");
}
