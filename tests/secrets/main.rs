//! End to end: no configured secret (channel keys, client tokens, the admin token) reaches a
//! client, a log line, the metrics or the admin state, even from upstreams that echo the
//! request's key in their errors (the simulator's `echo-key` fault: the key in the message and
//! the credentials header in a `debug` member), on every provider, native and converted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use sluice_test_support::{assert_upstream_settled, read_sse};

#[tokio::test]
async fn upstream_errors_echoing_the_key_are_redacted_for_every_provider_and_format() {
    let h = relay(KEYS).await;
    let sent = echoed_errors(&h, KEYS).await;
    assert_eq!(h.sim.stats().faults_of("echo-key") as usize, sent);
    assert_upstream_settled(&h, 128).await;
    h.shutdown().await;
}

#[tokio::test]
async fn converted_stream_errors_lose_key_shaped_secrets() {
    let h = relay(SHAPED_KEYS).await;
    converted_stream_errors(&h, SHAPED_KEYS).await;
    assert_upstream_settled(&h, 128).await;
    h.shutdown().await;
}

#[tokio::test]
async fn converted_stream_errors_lose_configured_secrets() {
    let h = relay(KEYS).await;
    converted_stream_errors(&h, KEYS).await;
    h.shutdown().await;
}

#[tokio::test]
async fn passed_through_stream_errors_lose_configured_secrets() {
    let h = relay(KEYS).await;
    for (model, _) in MODELS {
        let body = ask(model, "error-event=1, echo-key", true);
        let resp = if model.starts_with("claude") {
            h.post_anthropic("/v1/messages", &body).await
        } else {
            h.post("/v1/chat/completions", &body).await
        };
        let (events, _) = read_sse(resp).await;
        let text = format!("{events:?}");
        assert!(text.contains("[redacted]"), "{model}: {text}");
        assert!(!text.contains("debug"), "{model}: {text}");
        assert_clean(model, &text, KEYS);
    }
    h.shutdown().await;
}
