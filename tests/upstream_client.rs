//! The upstream client against a scripted upstream (wiremock): deadlines, bounded error bodies,
//! error bodies kept only as their documented fields and redacted, retry-after passed on, and
//! the size bound on answers. These are the client's own rules,
//! tested without the relay around them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use bytes::Bytes;
use http::{HeaderMap, Method};
use sluice::config::ProviderKind;
use sluice::monitor::Ledger;
use sluice::providers::{provider_for, Provider};
use sluice::upstream::{Deadline, Upstream, UpstreamError, UpstreamRequest};
use sluice::Config;
use std::time::Duration;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn openai() -> &'static dyn Provider {
    provider_for(ProviderKind::Openai)
}

fn client(tweak: impl FnOnce(&mut Config)) -> (Upstream, std::sync::Arc<Ledger>) {
    let mut config = Config::parse("[[tokens]]\nkey = \"t\"\n").unwrap();
    config.timeouts.first_byte = Duration::from_millis(300);
    config.limits.max_error_body = 1024;
    config.limits.max_response_body = 4096;
    tweak(&mut config);
    let ledger = Ledger::new(&[]);
    (Upstream::new(&config, ledger.clone()).unwrap(), ledger)
}

fn post(server: &MockServer) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        url: format!("{}/v1/chat/completions", server.uri()),
        headers: HeaderMap::new(),
        body: Bytes::from_static(b"{}").into(),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn slow_headers_miss_the_first_byte_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let (up, _) = client(|_| {});
    let started = std::time::Instant::now();
    let err = up.send(post(&server), openai(), soon()).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Timeout(Deadline::FirstByte)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up at the deadline, not after the answer"
    );
}

#[tokio::test]
async fn the_total_deadline_wins_when_it_is_sooner() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let (up, _) = client(|c| c.timeouts.first_byte = Duration::from_secs(60));
    let total = Instant::now() + Duration::from_millis(200);
    let err = up.send(post(&server), openai(), total).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Timeout(Deadline::Total)),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_bodies_are_read_up_to_the_bound_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .insert_header("retry-after-ms", "7000")
                .set_body_string("x".repeat(100_000)),
        )
        .mount(&server)
        .await;
    let (up, ledger) = client(|_| {});
    let err = up.send(post(&server), openai(), soon()).await.unwrap_err();
    let UpstreamError::Status(fault) = err else {
        panic!("{err:?}");
    };
    assert_eq!(fault.status.map(|s| s.as_u16()), Some(429));
    assert_eq!(
        (fault.message, fault.documented),
        (None, None),
        "a body cut at limits.max_error_body is no JSON: nothing of it is kept"
    );
    let names: Vec<&str> = fault.retry_after.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["retry-after", "retry-after-ms"]);
    // The body was not read to its end: its connection is dropped, not pooled.
    let mut left = ledger.counts().upstream_connections;
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = ledger.counts().upstream_connections;
    }
    assert_eq!(left, 0, "a half-read connection must not stay open");
}

#[tokio::test]
async fn small_error_bodies_are_read_whole_and_their_connection_reused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("{\"error\":{\"message\":\"busy\"}}"),
        )
        .mount(&server)
        .await;
    let (up, ledger) = client(|_| {});
    for _ in 0..3 {
        let err = up.send(post(&server), openai(), soon()).await.unwrap_err();
        let UpstreamError::Status(fault) = err else {
            panic!("{err:?}")
        };
        assert_eq!(fault.message.as_deref(), Some("busy"), "{fault:?}");
    }
    assert_eq!(
        ledger.counts().upstream_connections,
        1,
        "one pooled connection served all three"
    );
}

#[tokio::test]
async fn error_bodies_are_kept_without_secrets_or_undocumented_fields() {
    use sluice::config::Secret;
    let server = MockServer::start().await;
    let echo = r#"{"error":{"message":"Incorrect API key provided: sk-channel-key-1.","type":"invalid_request_error","param":null,"code":"invalid_api_key","debug":{"authorization":"Bearer sk-channel-key-1"}},"echo":"admin-token-2"}"#;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(echo))
        .mount(&server)
        .await;
    let (up, _) = client(|c| c.admin_token = Some(Secret::new("admin-token-2")));
    // What the relay keeps of an error: its message and its documented shape.
    let body = |err: UpstreamError| match err {
        UpstreamError::Status(f) => format!(
            "{} {}",
            f.message.unwrap_or_default(),
            f.documented.map(|d| d.to_string()).unwrap_or_default()
        ),
        other => panic!("{other:?}"),
    };
    // The channel key is not in the config yet: only the admin token is known.
    let err = up.send(post(&server), openai(), soon()).await.unwrap_err();
    let text = body(err);
    assert!(
        text.contains("sk-channel-key-1") && !text.contains("admin-token-2"),
        "{text}"
    );
    assert!(!text.contains("debug") && !text.contains("echo"), "{text}");
    // Once the channel's key is among the secrets (a channel added at runtime), it goes too.
    let secrets = [
        Secret::new("sk-channel-key-1"),
        Secret::new("admin-token-2"),
    ];
    up.set_secrets(&secrets);
    let text = body(up.send(post(&server), openai(), soon()).await.unwrap_err());
    assert_eq!(
        text,
        r#"Incorrect API key provided: [redacted]. {"error":{"message":"Incorrect API key provided: [redacted].","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
    );
    // A page that is not JSON (never shown to clients) is not kept at all.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>sk-channel-key-1</html>"))
        .mount(&server)
        .await;
    let text = body(
        up.send(post(&server), provider_for(ProviderKind::Anthropic), soon())
            .await
            .unwrap_err(),
    );
    assert_eq!(text, " ");
}

#[tokio::test]
async fn answers_over_the_size_bound_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("y".repeat(10_000)))
        .mount(&server)
        .await;
    let (up, _) = client(|_| {});
    let resp = up.send(post(&server), openai(), soon()).await.unwrap();
    let err = up.read_body(resp, soon()).await.unwrap_err();
    assert!(matches!(err, UpstreamError::TooLarge(4096)), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = sluice_test_support::closed_port();
    let (up, _) = client(|_| {});
    let req = UpstreamRequest {
        method: Method::POST,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
        headers: HeaderMap::new(),
        body: Bytes::new().into(),
    };
    let err = up.send(req, openai(), soon()).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Connect(_)), "{err:?}");
}
