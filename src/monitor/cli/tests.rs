use super::*;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::future::IntoFuture;

/// Serves `body` with `status` on `/api/monitor/health` while `f` runs, on 127.0.0.1:0.
async fn with_relay<F, Fut>(status: StatusCode, body: Value, f: F) -> u8
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        HEALTH_PATH,
        get(move || async move { (status, Json(body)) }),
    );
    tokio::select! {
        r = axum::serve(listener, app).into_future() => panic!("server ended: {r:?}"),
        code = f(url) => code,
    }
}

fn once(url: String) -> Args {
    Args {
        url,
        interval: Duration::from_secs(5),
        once: true,
        token: None,
    }
}

fn snapshot(status: &str) -> Value {
    json!({
        "status": status,
        "version": "0.1.0",
        "uptime_seconds": 3725.0,
        "gauges": {"live_tasks": 12, "open_fds": null, "resident_memory_bytes": 52428800},
        "trend": {"live_tasks": 1.5},
        "alerts": [{"gauge": "live_tasks", "status": status, "value": 12, "warn": 10, "critical": 20}],
        "growing": [{"gauge": "live_tasks", "per_minute": 1.5, "tolerance_per_minute": 1.0}],
        "counters": {"requests": {"200": 5, "503": 2}, "upstream_errors": {"main": {"503": 2}},
                     "retries": 1, "client_disconnects": 0, "timeouts": {"connect": 1}},
        "tcp_sockets": {"CLOSE_WAIT": 0, "ESTABLISHED": 3},
        "samples": 4, "window_seconds": 600.0, "interval_seconds": 30.0
    })
}

#[tokio::test]
async fn once_exits_0_on_ok_and_warn() {
    for s in ["ok", "warn"] {
        let code = with_relay(StatusCode::OK, snapshot(s), |u| run(once(u))).await;
        assert_eq!(code, EXIT_OK, "{s}");
    }
}

#[tokio::test]
async fn once_exits_2_on_critical() {
    let code = with_relay(StatusCode::SERVICE_UNAVAILABLE, snapshot("critical"), |u| {
        run(once(u))
    })
    .await;
    assert_eq!(code, EXIT_CRITICAL);
}

#[tokio::test]
async fn once_exits_1_when_unreachable_or_refused() {
    // A port that was just free: nothing listens there any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(run(once(format!("http://{addr}"))).await, EXIT_UNREACHABLE);
    let refused = with_relay(StatusCode::UNAUTHORIZED, json!({}), |u| run(once(u))).await;
    assert_eq!(refused, EXIT_UNREACHABLE);
    let garbage = with_relay(StatusCode::OK, json!({"status": 7}), |u| run(once(u))).await;
    assert_eq!(garbage, EXIT_UNREACHABLE);
}

/// A relay's state with `admin_token` set (its channel is never called).
fn relay_state() -> std::sync::Arc<crate::AppState> {
    let config = crate::Config::parse(
        r#"
        admin_token = "admin-token-123"
        [[channels]]
        name = "a"
        provider = "openai"
        base_url = "http://127.0.0.1:1/v1"
        keys = ["sk-a"]
        models = ["m"]
        [[tokens]]
        key = "sk-client"
        "#,
    )
    .unwrap();
    crate::AppState::new(config).unwrap()
}

#[tokio::test]
async fn sends_the_token_and_reads_a_real_relay() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // The public listener's router: loopback peer or not, the full view needs the token.
    let app = crate::server::app(relay_state());
    let client = client(Duration::from_secs(5)).unwrap();
    tokio::select! {
        r = axum::serve(listener, app).into_future() => panic!("server ended: {r:?}"),
        () = async {
            let health = health_url(&url);
            let status_only = fetch(&client, &health, None).await.unwrap();
            assert_eq!(status_only, json!({"status": "ok"}));
            let text = render(&status_only, &url, false);
            assert!(text.contains("--token") && text.contains("admin_listen"), "{text}");
            let v = fetch(&client, &health, Some("admin-token-123")).await.unwrap();
            assert_eq!(exit_code(&Ok(v.clone())), EXIT_OK);
            let text = render(&v, &url, false);
            assert!(text.contains("inbound_connections"), "{text}");
            let wrong = fetch(&client, &format!("{url}/metrics"), Some("nope")).await.unwrap_err();
            assert!(wrong.contains("SLUICE_ADMIN_TOKEN") && !wrong.contains("monitor."), "{wrong}");
        } => {}
    }
}

#[test]
fn draining_exits_like_critical() {
    assert_eq!(exit_code(&Ok(json!({"status": "draining"}))), EXIT_CRITICAL);
}

#[test]
fn renders_gauges_trends_levels_and_counters() {
    let text = render(&snapshot("warn"), "http://relay", false);
    assert!(!text.contains('\x1b'));
    assert!(render(&snapshot("warn"), "http://relay", true).contains("\x1b[33mWARN"));
    assert!(
        text.contains("WARN") && text.contains("up 1h02m05s"),
        "{text}"
    );
    let line = text.lines().find(|l| l.starts_with("live_tasks")).unwrap();
    assert!(
        line.contains("12") && line.contains("+1.50") && line.contains("warn"),
        "{line}"
    );
    let rss = text
        .lines()
        .find(|l| l.starts_with("resident_memory_bytes"))
        .unwrap();
    assert!(rss.contains("50.0 MiB"), "{rss}");
    let fds = text.lines().find(|l| l.starts_with("open_fds")).unwrap();
    assert!(fds.contains(" -"), "{fds}");
    assert!(text.contains("growing: live_tasks"));
    assert!(
        text.contains("requests 7  upstream errors 2  retries 1  client disconnects 0  timeouts 1")
    );
    assert!(text.contains("tcp sockets: ESTABLISHED 3\n"), "{text}");
}

#[test]
fn parses_intervals() {
    assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("soon").is_err());
}

#[test]
fn the_store_line_shows_status_queue_spool_and_writes() {
    let mut v = snapshot("ok");
    v["store"] = json!({
        "status": "degraded", "backend": "postgres", "queue_depth": 3, "queue_capacity": 16384,
        "spool_bytes": 2048, "spool_full": false, "batches_written": 4, "write_micros_sum": 400,
        "write_micros_max": 250, "write_failures": 2, "records_dropped": 0,
    });
    let text = render(&v, "http://x", false);
    let line = text.lines().find(|l| l.starts_with("store ")).expect(&text);
    assert!(line.contains("postgres degraded"), "{line}");
    assert!(line.contains("queue 3/16384"), "{line}");
    assert!(
        line.contains("mean 100µs") && line.contains("failures 2"),
        "{line}"
    );
    assert!(!render(&snapshot("ok"), "http://x", false).contains("\nstore "));
}

#[test]
fn the_video_lines_show_pending_polls_errors_and_overdue() {
    let mut v = snapshot("warn");
    v["video"] = json!({
        "polls_total": 120, "polls_per_second": 2.5, "callbacks_total": 4,
        "poll_errors": {"status": 2, "deadline": 0, "invalid": 1, "network": 0, "channel_gone": 0},
        "pending": [{"provider": "kling", "state": "queued", "count": 3},
                    {"provider": "luma", "state": "in_progress", "count": 1}],
        "pending_total": 4, "oldest_pending_seconds": 42.4, "overdue": 1, "counted_at": 5,
    });
    let text = render(&v, "http://x", false);
    let line = text.lines().find(|l| l.starts_with("video ")).expect(&text);
    for part in [
        "pending 4",
        "oldest 42s",
        "overdue 1",
        "polls 120 (2.5/s)",
        "poll errors: status 2, invalid 1",
        "callbacks 4",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(
        text.contains("by provider: kling queued 3, luma in_progress 1"),
        "{text}"
    );
    assert!(render(&v, "http://x", true).contains("\x1b[33moverdue 1"));
    assert!(!render(&snapshot("ok"), "http://x", false).contains("\nvideo "));
}
