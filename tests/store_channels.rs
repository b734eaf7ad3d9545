//! Channels changed at run time through the store's admin API serve without a restart, on a
//! real SQLite store; the config file's channels are read-only there. One test in its own
//! binary: it sets `SLUICE_SECRET_KEY` (the channel-key secret) for the process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::json;
use sluice_test_support::db::{TestSqlite, TEST_SECRET_HEX};
use sluice_test_support::{eventually, Harness};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_created_at_run_time_serve_without_a_restart() {
    // The only test of this binary: nothing else reads the environment meanwhile.
    std::env::set_var("SLUICE_SECRET_KEY", TEST_SECRET_HEX);
    let db = TestSqlite::new();
    let store = db.config();
    let h = Harness::builder()
        .config(move |c, _| c.store = Some(store))
        .start()
        .await;
    let body = json!({"model": "runtime-model", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(h.post("/v1/chat/completions", &body).await.status(), 404);
    let base = h.sim.base_url(sluice_sim::Provider::OpenAi);
    let (s, v) = h
        .admin_json(
            reqwest::Method::POST,
            "/api/channels",
            Some(json!({
                "name": "runtime",
                "provider": "openai",
                "base_url": base,
                "keys": ["sk-runtime-key"],
                "models": ["runtime-model"],
                "model_mapping": {"runtime-model": "gpt-4o-mini"},
            })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(
        !v.to_string().contains("sk-runtime-key"),
        "no key read back: {v}"
    );
    eventually(WITHIN, "the stored channel serves", || async {
        h.post("/v1/chat/completions", &body).await.status() == 200
    })
    .await;
    let (s, v) = h
        .admin_json(reqwest::Method::POST, "/api/channels/runtime/disable", None)
        .await;
    assert_eq!(s, 200, "{v}");
    eventually(WITHIN, "the disabled channel stops serving", || async {
        h.post("/v1/chat/completions", &body).await.status() != 200
    })
    .await;
    let (s, _) = h
        .admin_json(reqwest::Method::POST, "/api/channels/runtime/enable", None)
        .await;
    assert_eq!(s, 200);
    eventually(WITHIN, "enabled again", || async {
        h.post("/v1/chat/completions", &body).await.status() == 200
    })
    .await;
    let (s, _) = h
        .admin_json(reqwest::Method::DELETE, "/api/channels/runtime", None)
        .await;
    assert_eq!(s, 204);
    eventually(WITHIN, "the deleted channel is gone", || async {
        h.post("/v1/chat/completions", &body).await.status() == 404
    })
    .await;
    // A config-file channel is read-only in the store's API, and still switchable in memory.
    let (s, _) = h
        .admin_json(reqwest::Method::DELETE, "/api/channels/demo-openai", None)
        .await;
    assert_eq!(s, 409);
    let (s, _) = h
        .admin_json(
            reqwest::Method::POST,
            "/api/channels/demo-openai/disable",
            None,
        )
        .await;
    assert_eq!(s, 200);
    h.shutdown().await;
}
