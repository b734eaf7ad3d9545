//! Helpers for the Gemini API and Vertex AI tests: request builders for either provider, the
//! token exchange, Google's SSE framing, and the fault checks both providers must pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sluice_sim::{Provider, SimHandle, TestServiceAccount};

use super::*;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GOOGLE_AUD: &str = "https://oauth2.googleapis.com/token";
pub const MODEL: &str = "gemini-2.0-flash";

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token request with `assertion`, as google-auth sends it.
pub fn token_request(sim: &SimHandle, assertion: &str) -> reqwest::RequestBuilder {
    client()
        .post(sim.google_token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type={JWT_BEARER}&assertion={assertion}"))
}

/// A fresh access token from the simulator's token endpoint, for the test service account.
pub async fn vertex_token(sim: &SimHandle) -> String {
    let sa = TestServiceAccount::load();
    let jwt = sa.assertion(&sa.claims(GOOGLE_AUD, unix_now())).unwrap();
    let v = expect(token_request(sim, &jwt), 200).await;
    v["access_token"].as_str().unwrap().to_owned()
}

/// One of the two Google providers, with its credentials.
pub struct Google<'a> {
    pub sim: &'a SimHandle,
    pub provider: Provider,
    /// The Vertex AI access token (the Gemini API uses [`GEMINI_KEY`]).
    pub token: String,
}

impl<'a> Google<'a> {
    pub fn gemini(sim: &'a SimHandle) -> Self {
        Google {
            sim,
            provider: Provider::Gemini,
            token: String::new(),
        }
    }

    pub async fn vertex(sim: &'a SimHandle) -> Google<'a> {
        Google {
            sim,
            provider: Provider::Vertex,
            token: vertex_token(sim).await,
        }
    }

    /// The key as the request carries it, and the header that carries it.
    pub fn key(&self) -> (&str, &'static str) {
        match self.provider {
            Provider::Vertex => (&self.token, "authorization"),
            _ => (GEMINI_KEY, "x-goog-api-key"),
        }
    }

    /// The URL of `model:method` (with `query`, e.g. `alt=sse`).
    pub fn url(&self, model: &str, method: &str, query: &str) -> String {
        let base = self.sim.base_url(self.provider);
        let path = match self.provider {
            Provider::Vertex => format!(
                "/v1/projects/sim-project/locations/us-central1/publishers/google/models/{model}:{method}"
            ),
            _ => format!("/v1beta/models/{model}:{method}"),
        };
        if query.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query}")
        }
    }

    pub fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.provider {
            Provider::Vertex => rb.bearer_auth(&self.token),
            _ => rb.header("x-goog-api-key", GEMINI_KEY),
        }
    }

    /// `POST model:method` with credentials.
    pub fn post(&self, model: &str, method: &str) -> reqwest::RequestBuilder {
        self.auth(client().post(self.url(model, method, "")))
    }

    pub fn generate(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post(MODEL, "generateContent").json(body)
    }

    /// `streamGenerateContent?alt=sse`.
    pub fn stream(&self, body: &Value) -> reqwest::RequestBuilder {
        self.auth(client().post(self.url(MODEL, "streamGenerateContent", "alt=sse")))
            .json(body)
    }
}

/// The statuses of `n` short `generateContent` requests in a row.
pub async fn statuses_of(g: &Google<'_>, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let r = g.generate(&hello(Some(2))).send().await.unwrap();
        out.push(r.status().as_u16());
    }
    out
}

/// A one-turn request, with `maxOutputTokens` when given.
pub fn hello(max: Option<u64>) -> Value {
    let mut v = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]});
    if let Some(n) = max {
        v["generationConfig"] = json!({ "maxOutputTokens": n });
    }
    v
}

/// One block of a Google event stream: a `data:` event, or bare JSON lines (how Google sends
/// an error inside a stream).
#[derive(Debug, Clone)]
pub enum Block {
    Data(String),
    Bare(String),
}

impl Block {
    pub fn json(&self) -> Value {
        let (Block::Data(s) | Block::Bare(s)) = self;
        serde_json::from_str(s).unwrap_or_else(|e| panic!("bad json {s:?}: {e}"))
    }

    pub fn is_data(&self) -> bool {
        matches!(self, Block::Data(_))
    }
}

/// Splits a Google SSE body: blocks end with `\r\n\r\n`; each is `data: {...}` or bare JSON.
pub fn google_sse(body: &[u8]) -> Vec<Block> {
    String::from_utf8_lossy(body)
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| match b.strip_prefix("data: ") {
            Some(d) => {
                assert!(!d.contains('\n'), "one data line per event: {b:?}");
                Block::Data(d.to_owned())
            }
            None => Block::Bare(b.to_owned()),
        })
        .collect()
}

/// The text of the candidates' (non-thought) parts of a chunk or response.
pub fn text_of(v: &Value) -> String {
    v["candidates"][0]["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// A streamed answer read whole: its blocks and whether it ended in a body error.
pub async fn stream_blocks(rb: reqwest::RequestBuilder) -> (Vec<Block>, bool) {
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (bytes, failed) = read_all(r).await;
    (google_sse(&bytes), failed)
}

/// Checks a Google error body: `{"error":{code,message,status}}` with the HTTP status.
pub fn google_error(v: &Value, code: u16, status: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["status"], status, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

/// Every fault kind against `g`'s `generateContent` and `streamGenerateContent`, as its
/// client sees it. Returns nothing; panics on the first difference.
pub async fn check_every_fault(g: &Google<'_>) {
    let p = g.provider;
    let body = hello(None);
    // status=, in Google's shape, without retry-after or request-id headers.
    for (code, word) in [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ] {
        let r = with_fault(g.generate(&body), &format!("status={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), code, "{p}");
        assert!(!r.headers().contains_key("retry-after"), "{p}");
        let text = r.text().await.unwrap();
        assert!(
            text.starts_with("{\n  \"error\": {"),
            "pretty-printed: {text}"
        );
        google_error(&serde_json::from_str(&text).unwrap(), code, word);
    }
    // retry-after= goes into the 429's RetryInfo.
    let v = expect(
        with_fault(g.stream(&body), "status=429, retry-after=7"),
        429,
    )
    .await;
    google_error(&v, 429, "RESOURCE_EXHAUSTED");
    let details = v["error"]["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
                && d["retryDelay"] == "7s"),
        "{v}"
    );

    // A clean stream: finishReason last, and a proper end of the body.
    let (clean, failed) = stream_blocks(g.stream(&body)).await;
    assert!(!failed, "{p}: a clean end");
    assert_eq!(clean.len(), 12);
    assert_eq!(
        clean.last().unwrap().json()["candidates"][0]["finishReason"],
        "STOP"
    );

    // cut: N events, then an aborted body; no finishReason seen.
    let (blocks, failed) = stream_blocks(with_fault(g.stream(&body), "cut=3")).await;
    assert!(failed, "{p}: cut is a body error");
    assert_eq!(blocks.len(), 3);
    assert!(blocks
        .iter()
        .all(|b| b.json()["candidates"][0].get("finishReason").is_none()));

    // no-done: a clean end without the last chunk (the one with finishReason).
    let (blocks, failed) = stream_blocks(with_fault(g.stream(&body), "no-done")).await;
    assert!(!failed);
    assert_eq!(blocks.len(), 11);
    assert!(blocks
        .iter()
        .all(|b| b.json()["candidates"][0].get("finishReason").is_none()));

    // truncate: a JSON body shorter than its Content-Length; a stream cut mid-event.
    let r = with_fault(g.generate(&body), "truncate=30")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 30
    );
    let (bytes, failed) = read_all(r).await;
    assert!(failed && bytes.len() == 30, "{p}");
    let r = with_fault(g.stream(&body), "truncate=50")
        .send()
        .await
        .unwrap();
    let (bytes, failed) = read_all(r).await;
    assert!(failed && bytes.len() == 50, "{p}");

    // error-event: N chunks, then the error as bare JSON lines, then a clean end.
    let (blocks, failed) = stream_blocks(with_fault(g.stream(&body), "error-event=2")).await;
    assert!(!failed);
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert!(blocks[1].is_data() && !blocks[2].is_data());
    google_error(&blocks[2].json(), 503, "UNAVAILABLE");

    // echo-key: the error repeats the key, in the message and a debug member.
    let (key, header) = g.key();
    let v = expect(with_fault(g.generate(&body), "status=401, echo-key"), 401).await;
    assert!(v["error"]["message"].as_str().unwrap().contains(key), "{v}");
    assert!(
        v["error"]["debug"][header].as_str().unwrap().contains(key),
        "{v}"
    );
    let (blocks, _) = stream_blocks(with_fault(g.stream(&body), "error-event=1, echo-key")).await;
    assert_eq!(
        blocks[1].json()["error"]["debug"][header]
            .as_str()
            .map(|s| s.contains(key)),
        Some(true)
    );

    // malformed: a broken JSON body (status kept); the 2nd event broken, the 3rd intact.
    let r = with_fault(g.generate(&body), "malformed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    let (blocks, _) = stream_blocks(with_fault(g.stream(&body), "malformed")).await;
    let (Block::Data(second) | Block::Bare(second)) = &blocks[1];
    assert!(serde_json::from_str::<Value>(second).is_err());
    assert!(serde_json::from_str::<Value>(match &blocks[2] {
        Block::Data(s) | Block::Bare(s) => s,
    })
    .is_ok());

    // oversize: the body, or the 2nd event, padded and still valid.
    let r = with_fault(g.generate(&body), "oversize=20000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-length"], "20000");
    assert_eq!(
        r.json::<Value>().await.unwrap()["candidates"][0]["index"],
        0
    );
    let r = with_fault(g.stream(&body), "oversize=9000")
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let blocks = google_sse(&bytes);
    assert_eq!(
        format!(
            "data: {}\r\n\r\n",
            match &blocks[1] {
                Block::Data(s) | Block::Bare(s) => s,
            }
        )
        .len(),
        9000
    );
    assert!(blocks[1].json()["sim_padding"].is_string());

    // delay and drip: slower, complete.
    let t = std::time::Instant::now();
    expect(with_fault(g.generate(&body), "delay=50ms"), 200).await;
    assert!(t.elapsed() >= Duration::from_millis(50));
    let (blocks, failed) = stream_blocks(with_fault(g.stream(&body), "drip=1ms..2ms")).await;
    assert!(!failed && blocks.len() == 12);

    // stall-after: N events, then silence with the stream open.
    let mut r = with_fault(g.stream(&body), "stall-after=2")
        .send()
        .await
        .unwrap();
    let mut got = Vec::new();
    while google_sse(&got).len() < 2 || !got.ends_with(b"\r\n\r\n") {
        let c = tokio::time::timeout(Duration::from_secs(2), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.extend_from_slice(&c);
    }
    assert!(tokio::time::timeout(Duration::from_millis(100), r.chunk())
        .await
        .is_err());
    drop(r);

    // stall-headers, blackhole: no answer at all; reset: a connection error.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    for fault in ["stall-headers", "blackhole"] {
        let e = g
            .auth(quick.post(g.url(MODEL, "generateContent", "")))
            .header(sluice_sim::FAULT_HEADER, fault)
            .json(&body)
            .send()
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{p} {fault}: {e:?}");
    }
    let e = with_fault(g.generate(&body), "reset")
        .send()
        .await
        .unwrap_err();
    assert!(!e.is_timeout(), "{e:?}");

    let s = g.sim.stats();
    for kind in [
        "cut",
        "no-done",
        "truncate",
        "error-event",
        "echo-key",
        "malformed",
        "oversize",
        "delay",
        "drip",
        "stall-after",
        "stall-headers",
        "blackhole",
        "reset",
        "status=429",
        "status=503",
    ] {
        assert!(
            s.faults_of(kind) >= 1,
            "{p}: {kind} not counted: {:?}",
            s.faults
        );
    }
    assert!(
        eventually(Duration::from_secs(2), || g.sim.stats().connections_open
            == 0)
        .await
    );
}
