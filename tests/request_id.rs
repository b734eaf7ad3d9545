//! End to end: a client's `x-request-id` is used only when it is short and plain; anything else
//! is replaced by a generated id (the one echoed back), and no value a client sent can forge or
//! flood a line of the text access log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::json;
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{Harness, TOKEN};
use std::io::Write;
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;

/// Everything logged in this test binary (one global subscriber, text format, as `sluice serve`
/// writes it).
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(|| Capture)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The access-log lines logged so far that contain `needle`.
fn access_lines(needle: &str) -> Vec<String> {
    let log = LOG.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.contains("sluice::access") && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Sends a chat request with `id` as x-request-id and `token`; returns (status, echoed id).
async fn send(h: &Harness, id: &str, token: &str, model: &str) -> (u16, String) {
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(token)
        .header("x-request-id", id)
        .json(&json!({"model": model, "max_tokens": 2,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let echoed = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    (resp.status().as_u16(), echoed)
}

fn generated(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[test]
fn client_request_ids_and_values_cannot_forge_or_flood_the_access_log() {
    capture_logs();
    leak::run(|| async {
        let h = leak::harness(|_, _| {}).await;
        assert_eq!(send(&h, "warm-up", TOKEN, "gpt-4o-mini").await.0, 200);
        let base = Baseline::take(&h).await;

        // A forged id on a refused request: it must not make the 401 look like a 200.
        let forged = r#"x" status=200 outcome="ok" token="admin"#;
        let (status, echoed) = send(&h, forged, "sk-wrong", "gpt-4o-mini").await;
        assert_eq!(status, 401);
        assert!(
            generated(&echoed),
            "the echoed id is a generated one: {echoed}"
        );
        let lines = access_lines(&echoed);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line.matches("status=").count(), 1, "{line}");
        assert!(line.contains("status=401"), "{line}");
        assert!(
            !line.contains("outcome=\"ok\"") && !line.contains("admin"),
            "{line}"
        );
        assert!(access_lines("outcome=\"ok\" token=\"admin").is_empty());

        // 36,000 bytes of id: replaced, and nothing that long is logged.
        let huge = "a".repeat(36_000);
        let (status, echoed) = send(&h, &huge, TOKEN, "gpt-4o-mini").await;
        assert_eq!(status, 200);
        assert!(generated(&echoed), "{}", &echoed[..echoed.len().min(80)]);
        let lines = access_lines(&echoed);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() < 2048, "{} bytes", lines[0].len());

        // A model name with a line break and forged fields, then 36 KB of one: escaped, bounded.
        let id = "req-model-forgery.1";
        let model = "nope\nINFO sluice::access: request request_id=\"forged\" status=200";
        let (status, echoed) = send(&h, id, TOKEN, model).await;
        assert_eq!(
            (status, echoed.as_str()),
            (404, id),
            "a plain id passes through"
        );
        assert!(
            access_lines("request_id=\"forged\"").is_empty(),
            "a forged line appeared"
        );
        let lines = access_lines(&format!("request_id=\"{id}\""));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(r#"nope\nINFO"#), "escaped: {}", lines[0]);
        let id = "req-model-flood.2";
        let (status, _) = send(&h, id, TOKEN, &"m".repeat(36_000)).await;
        assert_eq!(status, 404);
        let lines = access_lines(&format!("request_id=\"{id}\""));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() < 2048, "{} bytes", lines[0].len());

        base.assert_returns(&h, Duration::from_secs(3)).await;
        h.shutdown().await;
    });
}
