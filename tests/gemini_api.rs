//! End to end through the simulator: Google's native routes (`/v1beta/models/{model}:...`,
//! `/v1/...`, `/v1alpha/...`) for the Gemini API's clients, served by a Gemini channel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice_test_support::{read_sse, Harness, TOKEN};

const MODEL: &str = "gemini-2.5-flash";

fn generate(text: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"maxOutputTokens": 7, "thinkingConfig": {"thinkingBudget": 0}}
    })
}

/// A request as Google's SDKs send it: the token in `x-goog-api-key`.
async fn post_google(h: &Harness, path: &str, body: &Value) -> reqwest::Response {
    h.client
        .post(h.url(path))
        .header("x-goog-api-key", TOKEN)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_google(h: &Harness, path: &str) -> reqwest::Response {
    h.client
        .get(h.url(path))
        .header("x-goog-api-key", TOKEN)
        .send()
        .await
        .unwrap()
}

/// A Google error body: its status, `error.code` and `error.status`.
async fn google_error(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], status, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["status"].is_string(), "{v}");
    (status, v)
}

fn text_of(v: &Value) -> String {
    v["candidates"][0]["content"]["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<String>()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn generate_content_on_every_version() {
    let h = Harness::start().await;
    for version in ["v1beta", "v1", "v1alpha"] {
        let path = format!("/{version}/models/{MODEL}:generateContent");
        let resp = post_google(&h, &path, &generate("Say hello")).await;
        assert_eq!(resp.status(), 200, "{version}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["candidates"][0]["content"]["role"], "model", "{v}");
        assert!(!text_of(&v).is_empty(), "{v}");
        assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS", "{v}");
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 7, "{v}");
        assert!(v.get("model").is_none(), "no model member put in: {v}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn stream_generate_content_is_sse_with_the_same_text_and_usage() {
    let h = Harness::start().await;
    let whole: Value = post_google(
        &h,
        &format!("/v1beta/models/{MODEL}:generateContent"),
        &generate("Say hello"),
    )
    .await
    .json()
    .await
    .unwrap();
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"),
        &generate("Say hello"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (events, _) = read_sse(resp).await;
    assert!(events.len() > 1, "{events:?}");
    let chunks: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let text: String = chunks.iter().map(text_of).collect();
    assert_eq!(text, text_of(&whole));
    let last = chunks.last().unwrap();
    assert_eq!(
        last["candidates"][0]["finishReason"], "MAX_TOKENS",
        "{last}"
    );
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 7);
    // A stream without alt=sse would be a JSON array: refused, in Google's shape.
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{MODEL}:streamGenerateContent"),
        &generate("Say hello"),
    )
    .await;
    assert_eq!(google_error(resp).await.0, 400);
    h.shutdown().await;
}

#[tokio::test]
async fn count_tokens_and_embeddings() {
    let h = Harness::start().await;
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{MODEL}:countTokens"),
        &json!({"contents": [{"role": "user", "parts": [{"text": "one two three"}]}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["totalTokens"].as_u64().unwrap() > 0, "{v}");
    for model in ["gemini-embedding-001", "text-embedding-004"] {
        let resp = post_google(
            &h,
            &format!("/v1beta/models/{model}:embedContent"),
            &json!({"content": {"parts": [{"text": "hello"}]},
                "outputDimensionality": 8}),
        )
        .await;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{model}: {v}");
        assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 8, "{v}");
        let one = |t: &str| json!({"model": format!("models/{model}"), "content": {"parts": [{"text": t}]}});
        let resp = post_google(
            &h,
            &format!("/v1/models/{model}:batchEmbedContents"),
            &json!({"requests": [one("a"), one("b")]}),
        )
        .await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["embeddings"].as_array().unwrap().len(), 2, "{v}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn models_are_listed_in_googles_shape_and_v1_stays_openais_for_bearer_clients() {
    let h = Harness::start().await;
    for path in ["/v1beta/models", "/v1alpha/models", "/v1/models"] {
        let v: Value = get_google(&h, path).await.json().await.unwrap();
        let names: Vec<&str> = v["models"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {v}"))
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"models/gemini-2.5-flash"),
            "{path}: {names:?}"
        );
        assert!(names.contains(&"models/gpt-4o-mini"), "{path}: {names:?}");
    }
    let v: Value = get_google(&h, "/v1beta/models/gemini-2.5-pro")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "models/gemini-2.5-pro", "{v}");
    let resp = get_google(&h, "/v1beta/models/nope").await;
    assert_eq!(google_error(resp).await.0, 404);
    // The OpenAI SDK's calls on the same paths.
    let bearer = |path: &str| h.client.get(h.url(path)).bearer_auth(TOKEN).send();
    let v: Value = bearer("/v1/models").await.unwrap().json().await.unwrap();
    assert_eq!(v["object"], "list", "{v}");
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == MODEL));
    let v: Value = bearer("/v1/models/gemini-2.5-flash")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["id"].as_str(), v["object"].as_str()),
        (Some(MODEL), Some("model"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn the_token_goes_in_x_goog_api_key_or_the_key_query() {
    let h = Harness::start().await;
    let path = format!("/v1beta/models/{MODEL}:generateContent");
    let resp = h
        .client
        .post(h.url(&format!("{path}?key={TOKEN}")))
        .json(&generate("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = h
        .client
        .get(h.url(&format!("/v1beta/models?key={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for bad in [
        h.client.post(h.url(&path)).json(&generate("hi")),
        h.client
            .post(h.url(&format!("{path}?key=sk-wrong")))
            .json(&generate("hi")),
        h.client
            .post(h.url(&path))
            .header("x-goog-api-key", "sk-wrong")
            .json(&generate("hi")),
    ] {
        let (status, v) = google_error(bad.send().await.unwrap()).await;
        assert_eq!(status, 401, "{v}");
        assert_eq!(v["error"]["status"], "UNAUTHENTICATED", "{v}");
    }
    let resp = post_google(&h, &format!("/v1beta/models/{MODEL}:predict"), &json!({})).await;
    assert_eq!(google_error(resp).await.0, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn upstream_errors_reach_the_client_in_googles_shape() {
    // One relay per fault: each cools the only Gemini channel for its retry-after.
    for (fault, want, word) in [
        ("status=429, retry-after=3", 429, "RESOURCE_EXHAUSTED"),
        ("status=503", 503, "UNAVAILABLE"),
        ("status=400", 400, "INVALID_ARGUMENT"),
    ] {
        let h = Harness::builder()
            .config(|c, _| {
                c.routing.max_attempts = 1;
                c.routing.breaker.consecutive_failures = 1000;
            })
            .start()
            .await;
        let path = format!("/v1beta/models/{MODEL}:generateContent");
        let resp = post_google(&h, &path, &generate(&format!("hi <<sim:{fault}>>"))).await;
        if want == 429 {
            assert_eq!(resp.headers()["retry-after"], "3", "{:?}", resp.headers());
        }
        let (status, v) = google_error(resp).await;
        assert_eq!(status, want, "{fault}: {v}");
        assert_eq!(v["error"]["status"], word, "{fault}: {v}");
        h.shutdown().await;
    }
}

#[tokio::test]
async fn a_refused_channel_key_is_a_502_and_sets_the_key_aside() {
    let h = Harness::builder()
        .config(|c, _| {
            let g = c
                .channels
                .iter_mut()
                .find(|c| c.name == "demo-gemini")
                .unwrap();
            g.keys = vec![sluice::config::Secret::new("not-a-google-key")];
        })
        .start()
        .await;
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{MODEL}:generateContent"),
        &generate("hi"),
    )
    .await;
    let (status, v) = google_error(resp).await;
    assert_eq!(status, 502, "{v}");
    assert!(!v.to_string().contains("not-a-google-key"), "{v}");
    let g = h.state.routes.channel_snapshot("demo-gemini").unwrap();
    assert_eq!(g.keys[0].state, "auth", "{:?}", g.keys);
    h.shutdown().await;
}

#[tokio::test]
async fn broken_streams_end_with_an_error_chunk_in_googles_shape() {
    let h = Harness::start().await;
    let path = format!("/v1beta/models/{MODEL}:streamGenerateContent?alt=sse");
    for fault in ["cut=2", "error-event=1", "no-done"] {
        let body = generate(&format!("hi <<sim:{fault}>>"));
        let resp = post_google(&h, &path, &body).await;
        assert_eq!(resp.status(), 200, "{fault}");
        let (events, _) = read_sse(resp).await;
        let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
        assert!(last["error"]["message"].is_string(), "{fault}: {last}");
        assert!(last["error"]["code"].is_u64(), "{fault}: {last}");
        assert!(last["error"]["status"].is_string(), "{fault}: {last}");
        if fault.starts_with("error-event") {
            assert_eq!(last["error"]["status"], "UNAVAILABLE", "{last}");
        }
    }
    h.shutdown().await;
}

const VERTEX_MODEL: &str = "gemini-2.0-flash-vertex";

#[tokio::test]
async fn vertex_serves_the_same_routes_with_an_exchanged_token() {
    let h = Harness::builder()
        .sim(|s| {
            let sa = sluice_sim::TestServiceAccount::load();
            s.google_oauth.service_accounts = vec![sa.key().unwrap()];
        })
        .start()
        .await;
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{VERTEX_MODEL}:generateContent"),
        &generate("Say hello"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(!text_of(&v).is_empty(), "{v}");
    let (events, _) = read_sse(
        post_google(
            &h,
            &format!("/v1/models/{VERTEX_MODEL}:streamGenerateContent?alt=sse"),
            &generate("Say hello"),
        )
        .await,
    )
    .await;
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert!(last["candidates"][0]["finishReason"].is_string(), "{last}");
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{VERTEX_MODEL}:countTokens"),
        &json!({"contents": [{"role": "user", "parts": [{"text": "a b c"}]}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    // One token for all of them: exchanged once (by the refresher or the first request).
    assert_eq!(h.sim.stats().tokens_issued, 1);
    h.shutdown().await;
}

#[tokio::test]
async fn vertex_tokens_are_refreshed_before_they_expire() {
    // Tokens live 2 s: the refresher exchanges a new one at 1.5 s, so requests spread over
    // 4 s all succeed, none waiting on an expired token.
    let h = Harness::builder()
        .sim(|s| s.google_oauth.token_lifetime = std::time::Duration::from_secs(2))
        .start()
        .await;
    let path = format!("/v1beta/models/{VERTEX_MODEL}:generateContent");
    for _ in 0..8 {
        let resp = post_google(&h, &path, &generate("hi")).await;
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let issued = h.sim.stats().tokens_issued;
    assert!((2..=5).contains(&issued), "tokens issued: {issued}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_refused_vertex_credential_is_a_refused_key() {
    // The token endpoint knows another account only: ours is refused (invalid_grant).
    let h = Harness::builder()
        .sim(|s| {
            let pem = sluice_sim::TestServiceAccount::load().public_key_pem();
            let other =
                sluice_sim::ServiceAccountKey::from_pem("other@p.iam.gserviceaccount.com", pem);
            s.google_oauth.service_accounts = vec![other.unwrap()];
        })
        .start()
        .await;
    let resp = post_google(
        &h,
        &format!("/v1beta/models/{VERTEX_MODEL}:generateContent"),
        &generate("hi"),
    )
    .await;
    let (status, v) = google_error(resp).await;
    assert_eq!(status, 502, "{v}");
    assert!(!v.to_string().contains("PRIVATE KEY"), "{v}");
    let ch = h.state.routes.channel_snapshot("demo-vertex").unwrap();
    assert_eq!(ch.keys[0].state, "auth", "{:?}", ch.keys);
    assert_eq!(h.sim.stats().tokens_issued, 0);
    h.shutdown().await;
}
