//! End to end: no configured secret reaches the relay's log output, its metrics or its admin
//! state, even while upstreams echo the request's key in their errors. A binary of its own: the
//! capturing subscriber is the process's global default, so it sees every thread.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[path = "secrets/common.rs"]
mod common;

use common::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `MakeWriter` into a shared buffer: the relay's log output, for this test alone.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Logs at every level from everything in the process but the simulator (the adversary, whose
/// own logs are not the relay's), metrics and admin state: no secret in any of them.
#[tokio::test]
async fn logs_metrics_and_admin_state_hold_no_secret() {
    use tracing_subscriber::layer::SubscriberExt;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false),
        )
        .with(tracing_subscriber::filter::filter_fn(|m| {
            !m.target().starts_with("sluice_sim")
        }))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let h = relay(KEYS).await;
    echoed_errors(&h, KEYS).await;
    // Google's clients may send the token as `?key=`: no log may show it either.
    let body = serde_json::json!({"contents": [{"parts": [{"text": "hi"}]}]});
    for path in [
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:unknownMethod",
        "/v1beta/nowhere",
    ] {
        let url = h.url(&format!("{path}?key={}", sluice_test_support::TOKEN));
        h.client.post(url).json(&body).send().await.unwrap();
    }
    let text = logs.text();
    assert!(
        text.contains("sluice::access") && text.contains("upstream key set aside"),
        "the capture must see the relay's logs: {text}"
    );
    assert_clean("logs", &text, KEYS);

    let metrics = h.state.monitor.render_prometheus();
    assert!(
        metrics.contains("sluice_upstream_errors_total"),
        "{metrics}"
    );
    assert_clean("metrics", &metrics, KEYS);
    let routes = serde_json::to_string(&h.state.routes.snapshot()).unwrap();
    assert!(routes.contains("demo-anthropic"), "{routes}");
    assert_clean("channels", &routes, KEYS);
    let health = serde_json::to_string(&h.state.monitor.snapshot()).unwrap();
    assert_clean("health", &health, KEYS);
    h.shutdown().await;
}
