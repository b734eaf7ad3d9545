//! End to end: a channel's `base_url` works with or without its `/v1` for every provider, a
//! bad one stops the relay at start (not at the first request), and provider names are shown
//! as the config writes them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::ProviderKind;
use sluice_sim::Provider;
use sluice_test_support::{Harness, TOKEN};

#[tokio::test]
async fn base_urls_work_with_or_without_v1_on_every_provider() {
    let h = Harness::builder()
        .config(|c, sim| {
            // The demo's Anthropic URL has no /v1 and the OpenAI-format ones have it: swap.
            c.channels[0].base_url = sim.base_url(Provider::OpenAi).replace("/v1", "/");
            c.channels[1].base_url = format!("{}/v1/", sim.base_url(Provider::Anthropic));
            c.channels[2].base_url = sim.base_url(Provider::Xai).replace("/v1", "");
        })
        .start()
        .await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"] {
        let body = json!({"model": model, "max_tokens": 3,
            "messages": [{"role": "user", "content": "hi"}]});
        for resp in [
            h.post("/v1/chat/completions", &body).await,
            h.post_anthropic("/v1/messages", &body).await,
        ] {
            let status = resp.status();
            assert_eq!(status, 200, "{model}: {}", resp.text().await.unwrap());
        }
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_bad_base_url_stops_the_relay_at_start() {
    let sim = sluice_sim::start(sluice_sim::SimConfig::default())
        .await
        .unwrap();
    for bad in [
        "http://",
        "ftp://example.com/v1",
        "https://example.com/v1?key=abc",
        "https://example.com/v1#top",
        "https://user:pass@example.com/v1",
        "not a url",
    ] {
        let mut config = sluice::demo::config(&sim, "127.0.0.1:0".parse().unwrap());
        config.channels[1].base_url = bad.to_owned();
        let err = match sluice::AppState::new(config) {
            Ok(_) => panic!("`{bad}` was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("demo-anthropic") && err.contains("base_url"),
            "{bad}: {err}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn provider_names_are_shown_as_written_in_the_config() {
    let h = Harness::builder()
        .config(|c, _| c.channels[0].provider = ProviderKind::OpenaiCompatible)
        .start()
        .await;
    let snap = h.state.routes.channel_snapshot("demo-openai").unwrap();
    assert_eq!(snap.provider, "openai-compatible");
    let v: Value = h
        .client
        .get(h.url("/v1/models/gpt-4o-mini"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["owned_by"], "openai-compatible", "{v}");
    h.shutdown().await;
}
