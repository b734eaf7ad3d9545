//! Helpers for the simulator's end-to-end tests: start, request, parse SSE, wait.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod google;
pub mod media;
pub mod video;

use std::time::Duration;

use serde_json::{json, Value};
use sluice_sim::{Provider, SimConfig, SimHandle, FAULT_HEADER};

pub const OPENAI_KEY: &str = "sk-test-123";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-123";
pub const XAI_KEY: &str = "xai-test-123";
pub const GEMINI_KEY: &str = "AIzaSimTest123";

pub async fn sim() -> SimHandle {
    sluice_sim::start(SimConfig::default())
        .await
        .expect("start simulator")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// A POST with the provider's auth headers.
pub fn post(sim: &SimHandle, provider: Provider, path: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", sim.base_url(provider));
    auth(client().post(url), provider)
}

pub fn get(sim: &SimHandle, provider: Provider, path: &str) -> reqwest::RequestBuilder {
    let url = format!("{}{path}", sim.base_url(provider));
    auth(client().get(url), provider)
}

pub fn auth(rb: reqwest::RequestBuilder, provider: Provider) -> reqwest::RequestBuilder {
    match provider {
        Provider::OpenAi => rb.bearer_auth(OPENAI_KEY),
        Provider::Xai => rb.bearer_auth(XAI_KEY),
        Provider::Anthropic => rb
            .header("x-api-key", ANTHROPIC_KEY)
            .header("anthropic-version", "2023-06-01"),
        Provider::Gemini => rb.header("x-goog-api-key", GEMINI_KEY),
        // Vertex AI takes an access token from the token endpoint: see `vertex_token`.
        Provider::Vertex | Provider::GoogleOAuth => rb,
        Provider::Kling => rb.bearer_auth(kling_jwt("ak-sim", "sk-sim", 1800, -5)),
        Provider::Runway => rb
            .bearer_auth(RUNWAY_KEY)
            .header("x-runway-version", "2024-11-06"),
        Provider::Luma => rb.bearer_auth(LUMA_KEY),
        Provider::Zhipu => rb.bearer_auth(ZHIPU_KEY),
        Provider::Dashscope => rb
            .bearer_auth(DASHSCOPE_KEY)
            .header("x-dashscope-async", "enable"),
        Provider::Viggle => rb.bearer_auth(VIGGLE_KEY),
    }
}

pub const RUNWAY_KEY: &str = "key_test123";
pub const LUMA_KEY: &str = "luma-test123";
pub const ZHIPU_KEY: &str = "sim-id.sim-secret";
pub const DASHSCOPE_KEY: &str = "sk-dash-test";
pub const VIGGLE_KEY: &str = "viggle-test-key";

/// A Kling JWT (HS256, `typ: JWT`) for `access` signed with `secret`, expiring `exp_in`
/// seconds from now and valid from `nbf_in` seconds from now.
pub fn kling_jwt(access: &str, secret: &str, exp_in: i64, nbf_in: i64) -> String {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims = json!({"iss": access, "exp": now + exp_in, "nbf": now + nbf_in});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Sends the request, asserts the status (showing the body when it differs) and returns the body
/// as JSON (`Value::Null` when it is not JSON).
pub async fn expect(rb: reqwest::RequestBuilder, status: u16) -> Value {
    let r = rb.send().await.expect("send");
    let got = r.status().as_u16();
    let bytes = r.bytes().await.expect("body");
    assert_eq!(got, status, "body: {}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// One parsed SSE event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("bad json {:?}: {e}", self.data))
    }
}

pub fn parse_sse(text: &str) -> Vec<Event> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Event { name, data }
        })
        .collect()
}

pub async fn sse(resp: reqwest::Response) -> Vec<Event> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    parse_sse(&resp.text().await.expect("body"))
}

/// Polls `cond` every few ms until it holds or `within` passes.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Removes ids and timestamps so two answers can be compared.
pub fn strip_volatile(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in ["id", "created", "request_id"] {
                map.remove(key);
            }
            map.values_mut().for_each(strip_volatile);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

pub fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

pub fn anthropic_msg(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-20250514", "max_tokens": 12, "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]})
}

pub fn xai_chat(stream: bool) -> Value {
    json!({"model": "grok-3", "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

pub fn with_fault(rb: reqwest::RequestBuilder, fault: &str) -> reqwest::RequestBuilder {
    rb.header(FAULT_HEADER, fault)
}

/// Reads a body chunk by chunk; returns the bytes and whether it ended in an error.
pub async fn read_all(mut resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("body in time")
        {
            Ok(Some(c)) => out.extend_from_slice(&c),
            Ok(None) => return (out, false),
            Err(_) => return (out, true),
        }
    }
}
