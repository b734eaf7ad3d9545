//! End to end: the admin surfaces trust no peer address. Behind a same-host proxy every client is
//! a loopback peer; through one, an unauthenticated call to each admin route and to `/metrics`
//! is refused, health says no more than its status, and a browser-made (cross-site or form)
//! state-changing call is refused even with the admin token. With `admin_listen`, the admin
//! surfaces live there only and the public listener answers them 404.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use reqwest::Method;
use serde_json::{json, Value};
use sluice::config::Secret;
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::proxy::Proxy;
use sluice_test_support::Harness;
use std::time::Duration;

const ADMIN: &str = "admin-token-for-tests-0123456789";
const HEALTH: &str = "/api/monitor/health";

/// Every admin route and the metrics, with the method each takes.
const ADMIN_ROUTES: [(&str, &str); 4] = [
    ("GET", "/api/channels"),
    ("POST", "/api/channels/demo-openai/disable"),
    ("POST", "/api/channels/demo-openai/enable"),
    ("GET", "/metrics"),
];

/// A warmed-up leak harness whose admin surfaces are on the public listener behind the token.
async fn public_admin() -> (Harness, Baseline) {
    let h = leak::harness(|c, _| {
        c.admin_listen = None;
        c.admin_token = Some(Secret::new(ADMIN));
    })
    .await;
    let ask = json!({"model": "gpt-4o-mini", "max_tokens": 2,
        "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        assert_eq!(h.post("/v1/chat/completions", &ask).await.status(), 200);
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

async fn call(h: &Harness, method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = h
        .client
        .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("relay unreachable");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn openai_enabled(h: &Harness) -> bool {
    h.state
        .routes
        .channel_snapshot("demo-openai")
        .unwrap()
        .enabled
}

fn openai_error(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(v["error"]["message"].is_string(), "client error shape: {v}");
    v
}

#[test]
fn through_a_same_host_proxy_admin_surfaces_need_the_token() {
    leak::run(|| async {
        let (h, base) = public_admin().await;
        let proxy = Proxy::start(h.addr()).await;
        let bearer = format!("Bearer {ADMIN}");
        for (method, path) in ADMIN_ROUTES {
            for auth in [
                None,
                Some("Bearer wrong-token"),
                Some("admin-token-for-tests"),
            ] {
                let headers: Vec<(&str, &str)> =
                    auth.map(|a| ("authorization", a)).into_iter().collect();
                let (status, body) = call(&h, method, &proxy.url(path), &headers).await;
                assert_eq!(status, 401, "{method} {path} with {auth:?}: {body}");
                openai_error(&body);
            }
        }
        assert!(openai_enabled(&h), "no refused call changed anything");

        // Health through the proxy without the token: the status and nothing else.
        let (status, body) = call(&h, "GET", &proxy.url(HEALTH), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"status": "ok"})
        );

        // With the token, through the same proxy: every surface answers in full.
        let auth = [("authorization", bearer.as_str())];
        let (status, body) = call(&h, "GET", &proxy.url(HEALTH), &auth).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["gauges"]["inbound_connections"].is_u64(), "{v}");
        assert!(v["channels"]["channels"].is_array(), "{v}");
        for (method, path) in ADMIN_ROUTES {
            let (status, body) = call(&h, method, &proxy.url(path), &auth).await;
            assert_eq!(status, 200, "{method} {path}: {body}");
        }
        proxy.shutdown().await;
        base.assert_returns(&h, Duration::from_secs(3)).await;
        h.shutdown().await;
    });
}

#[test]
fn browser_made_admin_calls_are_refused_even_with_the_token() {
    leak::run(|| async {
        let (h, base) = public_admin().await;
        let proxy = Proxy::start(h.addr()).await;
        let bearer = format!("Bearer {ADMIN}");
        let disable = proxy.url("/api/channels/demo-openai/disable");
        let refused: [&[(&str, &str)]; 5] = [
            // A cross-site `text/plain` POST: what a web page's fetch() can send unpreflighted.
            &[
                ("content-type", "text/plain"),
                ("origin", "https://evil.example"),
            ],
            // A form POST from any page.
            &[("content-type", "application/x-www-form-urlencoded")],
            &[("content-type", "multipart/form-data; boundary=x")],
            // JSON, but from another origin (a preflight would be needed; refuse it anyway).
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            &[("sec-fetch-site", "cross-site")],
        ];
        for extra in refused {
            let mut headers = vec![("authorization", bearer.as_str())];
            headers.extend_from_slice(extra);
            let (status, body) = call(&h, "POST", &disable, &headers).await;
            assert_eq!(status, 403, "{extra:?}: {body}");
            openai_error(&body);
        }
        assert!(openai_enabled(&h));

        // Same-origin (a console served by the relay itself), curl and scripts: allowed.
        let same_origin = format!("http://{}", proxy.addr());
        let allowed: [&[(&str, &str)]; 3] = [
            &[],
            &[
                ("content-type", "application/json"),
                ("origin", same_origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
            &[("sec-fetch-site", "none")],
        ];
        for extra in allowed {
            let mut headers = vec![("authorization", bearer.as_str())];
            headers.extend_from_slice(extra);
            let (status, body) = call(&h, "POST", &disable, &headers).await;
            assert_eq!(status, 200, "{extra:?}: {body}");
        }
        assert!(!openai_enabled(&h));
        proxy.shutdown().await;
        base.assert_returns(&h, Duration::from_secs(3)).await;
        h.shutdown().await;
    });
}

#[tokio::test]
async fn admin_listen_serves_the_admin_surfaces_and_the_public_listener_does_not() {
    // The harness default: admin_listen on loopback, admin_token set.
    let h = Harness::start().await;
    let admin = h.relay.admin_addr().expect("an admin listener");
    let token = format!("Bearer {}", sluice_test_support::ADMIN_TOKEN);
    let auth = [("authorization", token.as_str())];
    for (method, path) in ADMIN_ROUTES {
        // Public listener: not served, with or without the token.
        for headers in [&[][..], &auth[..]] {
            let (status, body) = call(&h, method, &h.url(path), headers).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            let v = openai_error(&body);
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("admin listener"),
                "{v}"
            );
        }
        // Admin listener: the token is still needed.
        let url = format!("http://{admin}{path}");
        let (status, body) = call(&h, method, &url, &[]).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        let (status, body) = call(&h, method, &url, &auth).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
    }
    // The relay's own endpoints are not on the admin listener.
    let (status, _) = call(&h, "GET", &format!("http://{admin}/v1/models"), &[]).await;
    assert_eq!(status, 404);
    // Health: the status on both without the token, everything with it.
    for base in [h.url(HEALTH), format!("http://{admin}{HEALTH}")] {
        let (status, body) = call(&h, "GET", &base, &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"status":"ok"}"#),
            "{base}"
        );
        let (status, body) = call(&h, "GET", &base, &auth).await;
        assert_eq!(status, 200);
        assert!(body.contains("\"gauges\""), "{base}: {body}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn an_admin_listener_without_a_token_serves_requests_addressed_to_it() {
    let h = Harness::builder()
        .config(|c, _| c.admin_token = None)
        .start()
        .await;
    let admin = h.relay.admin_addr().unwrap();
    let url = format!("http://{admin}/api/channels");
    let (status, body) = call(&h, "GET", &url, &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&h, "GET", &format!("http://{admin}{HEALTH}"), &[]).await;
    assert!(status == 200 && body.contains("\"gauges\""), "{body}");
    // A DNS name (what a rebinding web page would use) is not an address: refused.
    let (status, body) = call(&h, "GET", &url, &[("host", "admin.evil.example")]).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(
        &h,
        "GET",
        &format!("http://{admin}{HEALTH}"),
        &[("host", "admin.evil.example")],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    // The public listener still serves none of it.
    assert_eq!(call(&h, "GET", &h.url("/api/channels"), &[]).await.0, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn with_neither_admin_listen_nor_admin_token_the_admin_surfaces_are_off() {
    let h = Harness::builder()
        .config(|c, _| {
            c.admin_listen = None;
            c.admin_token = None;
        })
        .start()
        .await;
    assert!(h.relay.admin_addr().is_none());
    for (method, path) in ADMIN_ROUTES {
        let (status, body) = call(&h, method, &h.url(path), &[("authorization", "Bearer x")]).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        let v = openai_error(&body);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("admin_token") && msg.contains("admin_listen"),
            "{msg}"
        );
    }
    let (status, body) = call(&h, "GET", &h.url(HEALTH), &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    h.shutdown().await;
}

#[test]
fn health_says_draining_while_the_relay_drains() {
    leak::run(|| async {
        let h = leak::harness(|c, _| c.shutdown_grace = Duration::from_secs(10)).await;
        let warm = json!({"model": "gpt-4o-mini", "max_tokens": 2,
            "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(h.post("/v1/chat/completions", &warm).await.status(), 200);
        assert_eq!(h.health().await.0, 200);
        let base = Baseline::take(&h).await;
        // A stream that would run 20 s keeps the relay draining until the test lets it go.
        let slow = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 400,
            "messages": [{"role": "user", "content": "go <<sim:drip=50ms..50ms>>"}]});
        let stream = h.post("/v1/chat/completions", &slow).await;
        assert_eq!(stream.status(), 200);
        let Harness {
            sim,
            relay,
            state,
            client,
        } = h;
        let public = relay.addr();
        let admin = relay.admin_addr().unwrap();
        let health = |auth: bool| {
            let mut req = client.get(format!("http://{admin}{HEALTH}"));
            if auth {
                req = req.bearer_auth(sluice_test_support::ADMIN_TOKEN);
            }
            async move {
                let resp = req
                    .send()
                    .await
                    .expect("the admin listener answers while draining");
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }
        };
        let probe = async {
            sluice_test_support::eventually(Duration::from_secs(5), "draining", || {
                let d = state.is_draining();
                async move { d }
            })
            .await;
            let (status, v) = health(false).await;
            assert_eq!((status, v), (503, json!({"status": "draining"})));
            let (status, v) = health(true).await;
            assert_eq!((status, v["status"].as_str()), (503, Some("draining")));
            assert_eq!(v["gauges"]["open_streams"], 1, "{v}");
            assert!(
                tokio::net::TcpStream::connect(public).await.is_err(),
                "the public listener accepts nothing new"
            );
            drop(stream); // the last request ends: the drain completes
        };
        tokio::join!(relay.shutdown(), probe);
        base.assert_returns_to(&state, &sim, Duration::from_secs(3))
            .await;
        drop(state);
        sim.shutdown().await;
    });
}
