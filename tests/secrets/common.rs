//! Shared by the secrets tests: a relay whose channels, tokens and admin token are known
//! secrets, traffic whose upstream errors echo the key, and the check that none shows.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::Secret;
use sluice_test_support::{read_sse, Harness, TOKEN};

/// Keys with the providers' prefixes (the simulator checks them) but too short to look like a
/// real provider key: only the redaction of configured secrets can catch these.
pub const KEYS: [&str; 3] = ["sk-e2e-openai-1", "sk-ant-e2e-anth-2", "xai-e2e-grok-3"];
/// Keys shaped like real ones: the key-shape patterns catch these even where the configured
/// secrets are not known.
pub const SHAPED_KEYS: [&str; 3] = [
    "sk-proj-E2eOpenAiKeyShapedLikeARealOne0123456789",
    "sk-ant-api03-E2eAnthropicKeyShapedLikeARealOne0123",
    "xai-E2eXaiKeyShapedLikeARealOne0123456789abcdefghij",
];
pub const ADMIN_TOKEN: &str = "admin-e2e-secret-4";

/// (model, channel name) of each demo channel, in config order.
pub const MODELS: [(&str, &str); 3] = [
    ("gpt-4o-mini", "demo-openai"),
    ("claude-sonnet-4-20250514", "demo-anthropic"),
    ("grok-3", "demo-xai"),
];

/// The demo channels with the given keys, one attempt per request and no circuit breaking, so
/// every request meets the upstream's fault.
pub async fn relay(keys: [&'static str; 3]) -> Harness {
    Harness::builder()
        .config(move |c, _| {
            for (ch, key) in c.channels.iter_mut().zip(keys) {
                ch.keys = vec![Secret::new(key)];
            }
            c.admin_token = Some(Secret::new(ADMIN_TOKEN));
            c.routing.max_attempts = 1;
            c.routing.breaker.consecutive_failures = 1000;
            c.routing.breaker.min_requests = 1000;
        })
        .start()
        .await
}

pub fn ask(model: &str, fault: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 5,
        "messages": [{"role": "user", "content": format!("hi <<sim:{fault}>>")}]})
}

/// Every secret of the harness that must never show.
pub fn secrets(keys: [&str; 3]) -> Vec<&str> {
    let mut all = keys.to_vec();
    all.extend([ADMIN_TOKEN, TOKEN]);
    all
}

pub fn assert_clean(what: &str, text: &str, keys: [&str; 3]) {
    for s in secrets(keys) {
        assert!(!text.contains(s), "{what}: `{s}` leaked in {text}");
    }
}

/// The whole response, headers and body, as text.
pub async fn seen(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let mut text = format!("{:?}\n", resp.headers());
    text.push_str(&resp.text().await.unwrap());
    (status, text)
}

/// A key refused (401, or xAI's 400) sets it aside and disables its one-key channel: back.
pub fn enable_all(h: &Harness) {
    for (_, name) in MODELS {
        h.state.routes.enable(name);
    }
}

/// Non-streaming errors with the key echoed, for both client formats and every provider
/// (native and converted): each must reach the client redacted.
pub async fn echoed_errors(h: &Harness, keys: [&str; 3]) -> usize {
    let mut sent = 0;
    for code in [400u16, 401, 429, 500] {
        let fault = format!("status={code}, retry-after=0, echo-key");
        for (model, _) in MODELS {
            for anthropic_client in [false, true] {
                let body = ask(model, &fault, false);
                let resp = if anthropic_client {
                    h.post_anthropic("/v1/messages", &body).await
                } else {
                    h.post("/v1/chat/completions", &body).await
                };
                let (status, text) = seen(resp).await;
                let what = format!("{model} status={code} anthropic_client={anthropic_client}");
                assert!(status >= 400, "{what}: {status} {text}");
                assert!(text.contains("[redacted]"), "{what}: {text}");
                assert!(!text.contains("debug"), "{what}: {text}");
                assert_clean(&what, &text, keys);
                enable_all(h);
                sent += 1;
            }
        }
    }
    sent
}

/// Streams converted by the relay whose upstream ends in an error event echoing the key.
pub async fn converted_stream_errors(h: &Harness, keys: [&str; 3]) {
    let fault = "error-event=1, echo-key";
    let cases = [
        (MODELS[1].0, false), // Anthropic upstream, OpenAI client
        (MODELS[0].0, true),  // OpenAI upstream, Anthropic client
        (MODELS[2].0, true),  // xAI upstream, Anthropic client
    ];
    for (model, anthropic_client) in cases {
        let body = ask(model, fault, true);
        let resp = if anthropic_client {
            h.post_anthropic("/v1/messages", &body).await
        } else {
            h.post("/v1/chat/completions", &body).await
        };
        assert_eq!(resp.status(), 200, "{model}");
        let headers = format!("{:?}", resp.headers());
        let (events, _) = read_sse(resp).await;
        let text = format!("{headers}\n{events:?}");
        let what = format!("{model} stream anthropic_client={anthropic_client}");
        assert!(text.contains("[redacted]"), "{what}: {text}");
        assert_clean(&what, &text, keys);
    }
}
