use super::*;
use crate::config::{Level, Secret, Thresholds};
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn config(token: Option<&str>) -> MonitorConfig {
    MonitorConfig {
        admin_token: token.map(Secret::new),
        ..MonitorConfig::default()
    }
}

fn bearer(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, v.parse().unwrap());
    h
}

#[test]
fn loopback_is_open_and_remote_needs_the_admin_token() {
    let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let local6: SocketAddr = "[::1]:5000".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
    let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
    let none = HeaderMap::new();
    let with = config(Some("admin-token-123"));
    let without = config(None);
    for peer in [local, local6, mapped] {
        assert!(authorized(Some(peer), &none, &without), "{peer}");
    }
    assert!(!authorized(Some(remote), &none, &with));
    assert!(!authorized(None, &none, &with));
    assert!(authorized(
        Some(remote),
        &bearer("Bearer admin-token-123"),
        &with
    ));
    assert!(authorized(None, &bearer("Bearer admin-token-123"), &with));
    assert!(!authorized(
        Some(remote),
        &bearer("Bearer admin-token-12"),
        &with
    ));
    assert!(!authorized(Some(remote), &bearer("admin-token-123"), &with));
    // No token configured: remote peers are never served, whatever they send.
    assert!(!authorized(Some(remote), &bearer("Bearer "), &without));
}

async fn get(
    app: Router,
    path: &str,
    peer: Option<&str>,
    auth: Option<&str>,
) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let mut req = req.body(Body::empty()).unwrap();
    if let Some(p) = peer {
        req.extensions_mut()
            .insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
    }
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn router_serves_health_with_status_codes_and_access_rule() {
    let m = Monitor::new(&config(Some("admin-token-123")), &[]);
    let app = router(Arc::clone(&m));
    let (code, body) = get(app.clone(), HEALTH_PATH, Some("127.0.0.1:1"), None).await;
    assert_eq!(code, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));

    let (code, _) = get(app.clone(), HEALTH_PATH, Some("192.0.2.1:1"), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = get(
        app.clone(),
        HEALTH_PATH,
        None,
        Some("Bearer admin-token-123"),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = get(app.clone(), METRICS_PATH, Some("127.0.0.1:1"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(body.contains("sluice_inbound_connections 0"));
    let (code, _) = get(app, METRICS_PATH, Some("192.0.2.1:1"), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let closed = router(Monitor::new(&config(None), &[]));
    let (code, _) = get(closed, HEALTH_PATH, Some("192.0.2.1:1"), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn critical_is_503_warn_is_200() {
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
    let (code, Json(s)) = health_response(&m);
    assert_eq!((code, s.status), (StatusCode::OK, Status::Warn));
    let b = m.ledger().upstream_connection();
    let (code, Json(s)) = health_response(&m);
    assert_eq!(
        (code, s.status),
        (StatusCode::SERVICE_UNAVAILABLE, Status::Critical)
    );
    drop((a, b));
    assert_eq!(health_response(&m).0, StatusCode::OK);
}
