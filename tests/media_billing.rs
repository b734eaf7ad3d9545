//! Billing of media requests, end to end through the simulator, on real SQLite and PostgreSQL:
//! images by count, size and quality (dall-e) or by the tokens GPT image models report (whole
//! and streamed), speech by characters (tts-1) or by the tokens of its event stream
//! (gpt-4o-mini-tts), moderations free while unpriced; an upstream's error costs nothing; and a
//! quota too small for a request's estimate refuses it before the upstream is called.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::{PricesConfig, StoreConfig};
use sluice::store::usage::query::UsageFilter;
use sluice::store::usage::{Outcome, UsageRecord, UsageSource};
use sluice::store::{Store, TokenSpec};
use sluice_test_support::db::{TestPg, TestSqlite};
use sluice_test_support::{access_log, eventually, read_sse, request_id, Harness};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// Prices of the test, in dollars: dall-e by size (and quality), gpt-image-1 and
/// gpt-4o-mini-tts by tokens (with unit prices beside), tts-1 by characters.
const PRICES: &str = r#"
[[models]]
match = ["dall-e-2"]
image = 0.02
images = { "256x256" = 0.016, "512x512" = 0.018 }
[[models]]
match = ["dall-e-3"]
image = 0.04
images = { "1024x1024" = 0.04, "1024x1792" = 0.08, "1024x1792/hd" = 0.12 }
[[models]]
match = ["gpt-image-1"]
input = 5.0
output = 40.0
image = 0.042
max_output = 4160
[[models]]
match = ["tts-1"]
characters = 15.0
[[models]]
match = ["gpt-4o-mini-tts"]
input = 0.6
output = 12.0
characters = 15.0
"#;

/// Cost units per currency unit, as the relay counts them.
const UNITS: i64 = 1_000_000;

/// The test's prices and `more` entries after them.
fn prices(more: &str) -> PricesConfig {
    toml::from_str(&format!("{PRICES}{more}")).unwrap()
}

async fn relay(store: StoreConfig, more_prices: &'static str) -> Harness {
    Harness::builder()
        .config(move |c, _| {
            c.store = Some(store);
            c.prices = prices(more_prices);
            c.routing.max_attempts = 1;
        })
        .start()
        .await
}

fn store_of(h: &Harness) -> Store {
    h.state.metered.as_ref().expect("a store").store.clone()
}

async fn token(h: &Harness, quota: Option<i64>) -> (i64, String) {
    let spec = TokenSpec {
        name: "media".to_owned(),
        quota_limit: quota,
        ..TokenSpec::default()
    };
    let new = store_of(h).create_token(spec).await.unwrap();
    (new.token.id, new.key.expose().to_owned())
}

async fn post(h: &Harness, key: &str, path: &str, body: &Value) -> reqwest::Response {
    h.client
        .post(h.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("relay unreachable")
}

/// The ledger row of a request, once written (polled for up to [`WITHIN`]).
async fn row(store: &Store, token_id: i64, request_id: &str) -> UsageRecord {
    let filter = UsageFilter {
        token_id: Some(token_id),
        ..UsageFilter::default()
    };
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let rows = store.usage_events(&filter, None, 1000).await.unwrap();
        if let Some(r) = rows.into_iter().find(|r| r.request_id == request_id) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no usage row for {request_id} within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What reported tokens cost at a price per 1M (in cost units per 1M), rounded up.
fn token_cost(input: u64, output: u64, input_price: i64, output_price: i64) -> i64 {
    let n = input as i64 * input_price + output as i64 * output_price;
    (n + 999_999) / 1_000_000
}

/// Sends `body` to `path`, reads the whole answer, and returns it with its ledger row; the
/// access-log line must carry the same cost and units.
async fn billed(
    h: &Harness,
    (id, key): (i64, &str),
    path: &str,
    body: &Value,
) -> (u16, Vec<u8>, UsageRecord) {
    let resp = post(h, key, path, body).await;
    let status = resp.status().as_u16();
    let rid = request_id(&resp);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let r = row(&store_of(h), id, &rid).await;
    let access = access_log::take(&rid).await;
    assert_eq!(access.cost_units, Some(r.cost_units), "{path}: logged cost");
    assert_eq!(u64::from(r.images), access.images, "{path}: logged images");
    assert_eq!(r.characters, access.characters, "{path}: logged characters");
    (status, bytes, r)
}

async fn media_requests_are_billed_by_their_units(config: StoreConfig) {
    let h = relay(config, "").await;
    let (id, key) = token(&h, None).await;
    let t = (id, key.as_str());
    let images = "/v1/images/generations";

    // dall-e-2, n = 2 at 512x512: two images at that size's price.
    let body = json!({"model": "dall-e-2", "prompt": "a red fox", "n": 2, "size": "512x512"});
    let (status, _, r) = billed(&h, t, images, &body).await;
    assert_eq!(status, 200);
    assert_eq!((r.images, r.image_size.as_deref()), (2, Some("512x512")));
    assert_eq!(r.cost_units, 2 * 18 * UNITS / 1000);
    assert_eq!((r.endpoint.as_str(), r.outcome), ("images", Outcome::Ok));

    // dall-e-3 at 1024x1792, hd: the size-and-quality price.
    let body =
        json!({"model": "dall-e-3", "prompt": "a red fox", "size": "1024x1792", "quality": "hd"});
    let (status, _, r) = billed(&h, t, images, &body).await;
    assert_eq!(status, 200);
    assert_eq!(r.image_quality.as_deref(), Some("hd"));
    assert_eq!(r.cost_units, 12 * UNITS / 100);

    // gpt-image-1 reports tokens: billed by them, not by its image price.
    let body = json!({"model": "gpt-image-1", "prompt": "a red fox in snow", "quality": "low"});
    let (status, bytes, r) = billed(&h, t, images, &body).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    let (input, output) = (
        answer["usage"]["input_tokens"].as_u64().unwrap(),
        answer["usage"]["output_tokens"].as_u64().unwrap(),
    );
    assert_eq!((r.prompt_tokens, r.completion_tokens), (input, output));
    assert_eq!(r.usage_source, UsageSource::Upstream);
    assert_eq!(r.images, 1);
    assert_eq!(
        r.cost_units,
        token_cost(input, output, 5 * UNITS, 40 * UNITS)
    );

    // Its stream: the tokens of the `completed` event.
    let body = json!({"model": "gpt-image-1", "prompt": "a red fox", "quality": "low",
        "stream": true, "partial_images": 1});
    let resp = post(&h, &key, images, &body).await;
    assert_eq!(resp.status(), 200);
    let rid = request_id(&resp);
    let (events, _) = read_sse(resp).await;
    let done: Value = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|v| v["type"] == "image_generation.completed")
        .expect("a completed event");
    let usage = &done["usage"];
    let (input, output) = (
        usage["input_tokens"].as_u64().unwrap(),
        usage["output_tokens"].as_u64().unwrap(),
    );
    let r = row(&store_of(&h), id, &rid).await;
    assert!(r.stream);
    assert_eq!((r.images, r.completion_tokens), (1, output));
    assert_eq!(
        r.cost_units,
        token_cost(input, output, 5 * UNITS, 40 * UNITS)
    );

    // dall-e-3 does not stream: the upstream refuses it, and a refusal costs nothing.
    let body = json!({"model": "dall-e-3", "prompt": "a red fox", "stream": true});
    let (status, _, r) = billed(&h, t, images, &body).await;
    assert_eq!(status, 400);
    assert_eq!((r.cost_units, r.images), (0, 0));

    // An upstream error costs nothing either (the estimate was reserved, then released).
    let body = json!({"model": "dall-e-3", "prompt": "<<sim:status=500>> a red fox"});
    let (status, _, r) = billed(&h, t, images, &body).await;
    assert!(status >= 500, "{status}");
    assert_eq!(r.outcome, Outcome::UpstreamError);
    assert_eq!((r.cost_units, r.images, r.prompt_tokens), (0, 0, 0));

    // tts-1: its input's characters.
    let input = "Hello there, wörld! Billing by characters.";
    let chars = input.chars().count() as i64;
    let body = json!({"model": "tts-1", "input": input, "voice": "alloy"});
    let (status, audio, r) = billed(&h, t, "/v1/audio/speech", &body).await;
    assert_eq!(status, 200);
    assert!(!audio.is_empty());
    assert_eq!(r.characters, chars as u64);
    assert_eq!(r.cost_units, (chars * 15 * UNITS + 999_999) / 1_000_000);

    // gpt-4o-mini-tts with `stream_format: "sse"`: the tokens of `speech.audio.done`, which win
    // over its characters price.
    let body = json!({"model": "gpt-4o-mini-tts", "input": input, "voice": "alloy",
        "stream_format": "sse"});
    let resp = post(&h, &key, "/v1/audio/speech", &body).await;
    assert_eq!(resp.status(), 200);
    let rid = request_id(&resp);
    let (events, _) = read_sse(resp).await;
    let done: Value = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|v| v["type"] == "speech.audio.done")
        .expect("a done event");
    let (i, o) = (
        done["usage"]["input_tokens"].as_u64().unwrap(),
        done["usage"]["output_tokens"].as_u64().unwrap(),
    );
    let r = row(&store_of(&h), id, &rid).await;
    assert_eq!((r.prompt_tokens, r.completion_tokens), (i, o));
    assert_eq!(r.characters, chars as u64, "the characters are kept too");
    assert_eq!(r.cost_units, token_cost(i, o, 6 * UNITS / 10, 12 * UNITS));

    // Moderations: no price, no cost.
    let body = json!({"model": "omni-moderation-latest", "input": "a red fox"});
    let (status, _, r) = billed(&h, t, "/v1/moderations", &body).await;
    assert_eq!(status, 200);
    assert_eq!((r.endpoint.as_str(), r.cost_units), ("moderations", 0));

    // The token's committed total is the ledger's sum.
    let store = store_of(&h);
    eventually(WITHIN, "the token's total follows its ledger", || {
        let store = store.clone();
        async move {
            let rows = store
                .usage_events(
                    &UsageFilter {
                        token_id: Some(id),
                        ..UsageFilter::default()
                    },
                    None,
                    1000,
                )
                .await
                .unwrap();
            let sum: i64 = rows.iter().map(|r| r.cost_units).sum();
            store.get_token(id).await.unwrap().used_units == sum && sum > 0
        }
    })
    .await;
    h.shutdown().await;
}

/// A token whose quota is below a request's estimate (one hd image at 0.12) is refused with
/// 429 `insufficient_quota` before the upstream is called; a cheaper request still passes, and
/// nothing stays reserved. A priced moderation costs its prompt, estimated (its answer reports
/// no tokens).
async fn a_quota_below_the_estimate_refuses_before_the_upstream(config: StoreConfig) {
    let h = relay(
        config,
        "[[models]]\nmatch = [\"omni-moderation-*\"]\ninput = 1.0\n",
    )
    .await;
    let (id, key) = token(&h, Some(10 * UNITS / 100)).await;
    // Image requests the simulator served (background probes may call other endpoints).
    let images_served = || {
        h.sim
            .stats()
            .requests
            .iter()
            .filter(|(k, _)| k.contains("images"))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let before = images_served();
    let body =
        json!({"model": "dall-e-3", "prompt": "a red fox", "size": "1024x1792", "quality": "hd"});
    let resp = post(&h, &key, "/v1/images/generations", &body).await;
    assert_eq!(resp.status(), 429);
    let rid = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_quota", "{v}");
    assert_eq!(images_served(), before, "the upstream was not called");
    let r = row(&store_of(&h), id, &rid).await;
    assert_eq!((r.outcome, r.cost_units), (Outcome::QuotaExceeded, 0));
    // One standard 1024x1024 image fits (0.04).
    let body = json!({"model": "dall-e-3", "prompt": "a red fox"});
    let resp = post(&h, &key, "/v1/images/generations", &body).await;
    assert_eq!(resp.status(), 200);
    let rid = request_id(&resp);
    let _ = resp.bytes().await;
    let r = row(&store_of(&h), id, &rid).await;
    assert_eq!(r.cost_units, 4 * UNITS / 100);
    assert_eq!(images_served(), before + 1, "this one was served");
    let entry = h
        .state
        .metered
        .as_ref()
        .unwrap()
        .limits
        .authenticate(&key)
        .await
        .unwrap();
    // A priced moderation: its body's bytes / 3 input tokens at 1.00 per 1M.
    let body = json!({"model": "omni-moderation-latest", "input": "a red fox in the snow"});
    let bytes = serde_json::to_vec(&body).unwrap().len() as i64;
    let resp = post(&h, &key, "/v1/moderations", &body).await;
    assert_eq!(resp.status(), 200);
    let rid = request_id(&resp);
    let _ = resp.bytes().await;
    let m = row(&store_of(&h), id, &rid).await;
    assert_eq!(m.usage_source, UsageSource::Estimated);
    assert_eq!(m.cost_units, (bytes + 2) / 3);
    assert_eq!(entry.quota.reserved(), 0, "nothing stays reserved");
    assert_eq!(entry.quota.spent(), 4 * UNITS / 100 + m.cost_units);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_media_requests_are_billed_by_their_units() {
    let db = TestSqlite::new();
    media_requests_are_billed_by_their_units(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_media_requests_are_billed_by_their_units() {
    let Some(db) = TestPg::new() else { return };
    media_requests_are_billed_by_their_units(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_quota_below_the_estimate_refuses_before_the_upstream() {
    let db = TestSqlite::new();
    a_quota_below_the_estimate_refuses_before_the_upstream(db.config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_quota_below_the_estimate_refuses_before_the_upstream() {
    let Some(db) = TestPg::new() else { return };
    a_quota_below_the_estimate_refuses_before_the_upstream(db.config()).await;
}
