//! Vertex AI and its OAuth token endpoint as a plain client sees them: the JWT-bearer grant
//! and its refusals, access tokens (issued, expired, forged), paths, answer shapes,
//! embeddings, publisher models, every fault, and determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::google::*;
use common::*;
use serde_json::{json, Value};
use sluice_sim::{GoogleOAuthConfig, Mix, Provider, SimConfig, SimHandle, TestServiceAccount};

async fn sim_with(google_oauth: GoogleOAuthConfig) -> SimHandle {
    sluice_sim::start(SimConfig {
        google_oauth,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A simulator that checks the test service account's signatures.
async fn strict_sim() -> SimHandle {
    let sa = TestServiceAccount::load();
    sim_with(GoogleOAuthConfig {
        service_accounts: vec![sa.key().unwrap()],
        ..GoogleOAuthConfig::default()
    })
    .await
}

fn vertex_url(sim: &SimHandle, path: &str) -> String {
    format!("{}{path}", sim.base_url(Provider::Vertex))
}

#[tokio::test]
async fn a_signed_assertion_buys_an_access_token_vertex_accepts() {
    let sim = strict_sim().await;
    let sa = TestServiceAccount::load();
    let jwt = sa.assertion(&sa.claims(GOOGLE_AUD, unix_now())).unwrap();
    let r = token_request(&sim, &jwt).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let v: Value = r.json().await.unwrap();
    assert!(v["access_token"].as_str().unwrap().starts_with("ya29."));
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["token_type"], "Bearer");
    // The simulator's own token URL is an accepted audience too.
    let own = sa
        .assertion(&sa.claims(&sim.google_token_url(), unix_now()))
        .unwrap();
    expect(token_request(&sim, &own), 200).await;
    assert_eq!(sim.stats().tokens_issued, 2);
    assert_eq!(sim.stats().requests_to(Provider::GoogleOAuth, "/token"), 2);

    let token = v["access_token"].as_str().unwrap();
    for version in ["v1", "v1beta1"] {
        let path = format!("/{version}/projects/p1/locations/europe-west4/publishers/google/models/{MODEL}:generateContent");
        let v = expect(
            client()
                .post(vertex_url(&sim, &path))
                .bearer_auth(token)
                .json(&hello(Some(3))),
            200,
        )
        .await;
        assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(v["usageMetadata"]["trafficType"], "ON_DEMAND");
        assert!(v["createTime"].as_str().unwrap().ends_with('Z'));
    }
}

#[tokio::test]
async fn bad_assertions_are_refused_as_google_does() {
    let sim = strict_sim().await;
    let sa = TestServiceAccount::load();
    let now = unix_now();
    let signed = |edit: &dyn Fn(&mut Value)| {
        let mut c = sa.claims(GOOGLE_AUD, now);
        edit(&mut c);
        sa.assertion(&c).unwrap()
    };
    let refusal = |body: String| {
        let sim = &sim;
        async move {
            let r = client()
                .post(sim.google_token_url())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400);
            let v: Value = r.json().await.unwrap();
            (
                v["error"].as_str().unwrap().to_owned(),
                v["error_description"].as_str().unwrap().to_owned(),
            )
        }
    };
    let good = signed(&|_| {});
    let (e, d) = refusal(format!("grant_type=client_credentials&assertion={good}")).await;
    assert_eq!(
        (e.as_str(), d.as_str()),
        (
            "unsupported_grant_type",
            "Invalid grant_type: client_credentials"
        )
    );
    let (e, _) = refusal(format!("grant_type={JWT_BEARER}")).await;
    assert_eq!(e, "invalid_request");
    let (e, _) = refusal(format!("grant_type={JWT_BEARER}&assertion=garbage")).await;
    assert_eq!(e, "invalid_grant");
    let (e, d) = refusal(format!(
        "grant_type={JWT_BEARER}&assertion={}",
        signed(&|c| c["aud"] = "https://example.com/token".into())
    ))
    .await;
    assert_eq!(e, "invalid_grant");
    assert!(d.contains("audience"), "{d}");
    let (e, _) = refusal(format!(
        "grant_type={JWT_BEARER}&assertion={}",
        signed(&|c| c["scope"] = "openid".into())
    ))
    .await;
    assert_eq!(e, "invalid_scope");
    let (e, d) = refusal(format!(
        "grant_type={JWT_BEARER}&assertion={}",
        signed(&|c| c["exp"] = (now + 7200).into())
    ))
    .await;
    assert_eq!(e, "invalid_grant");
    assert!(d.contains("short-lived token (60 minutes)"), "{d}");
    let (e, _) = refusal(format!(
        "grant_type={JWT_BEARER}&assertion={}",
        signed(&|c| {
            c["iat"] = (now - 8000).into();
            c["exp"] = (now - 4400).into();
        })
    ))
    .await;
    assert_eq!(e, "invalid_grant");
    let (e, d) = refusal(format!(
        "grant_type={JWT_BEARER}&assertion={}",
        signed(&|c| c["iss"] = "someone-else@x.iam.gserviceaccount.com".into())
    ))
    .await;
    assert_eq!(
        (e.as_str(), d.as_str()),
        ("invalid_grant", "Invalid grant: account not found")
    );
    // A forged signature: the same claims, another signature.
    let (head, sig) = good.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[20] = if sig[20] == 'x' { 'y' } else { 'x' };
    let forged = format!("{head}.{}", sig.into_iter().collect::<String>());
    let (e, d) = refusal(format!("grant_type={JWT_BEARER}&assertion={forged}")).await;
    assert_eq!(
        (e.as_str(), d.as_str()),
        ("invalid_grant", "Invalid JWT Signature.")
    );
    assert_eq!(sim.stats().tokens_issued, 0);

    // Given no keys, the simulator checks claims only: the forged one passes.
    let lax = sim_with(GoogleOAuthConfig::default()).await;
    expect(token_request(&lax, &forged), 200).await;
}

#[tokio::test]
async fn access_tokens_are_checked() {
    let sim = sim().await;
    let path = format!(
        "/v1/projects/p/locations/us-central1/publishers/google/models/{MODEL}:generateContent"
    );
    let r = client()
        .post(vertex_url(&sim, &path))
        .json(&hello(None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let v: Value = r.json().await.unwrap();
    google_error(&v, 401, "UNAUTHENTICATED");
    assert_eq!(v["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
    let v = expect(
        client()
            .post(vertex_url(&sim, &path))
            .bearer_auth("ya29.never-issued")
            .json(&hello(None)),
        401,
    )
    .await;
    google_error(&v, 401, "UNAUTHENTICATED");
    assert_eq!(
        v["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    );

    // A token whose lifetime is over: 401 ACCESS_TOKEN_EXPIRED, and a fresh one works.
    let short = sim_with(GoogleOAuthConfig {
        token_lifetime: Duration::ZERO,
        ..GoogleOAuthConfig::default()
    })
    .await;
    let token = vertex_token(&short).await;
    let v = expect(
        client()
            .post(vertex_url(&short, &path))
            .bearer_auth(&token)
            .json(&hello(None)),
        401,
    )
    .await;
    assert_eq!(v["error"]["details"][0]["reason"], "ACCESS_TOKEN_EXPIRED");
    let r = token_request(
        &short,
        &TestServiceAccount::load()
            .assertion(&TestServiceAccount::load().claims(GOOGLE_AUD, unix_now()))
            .unwrap(),
    );
    assert_eq!(expect(r, 200).await["expires_in"], 0);
}

#[tokio::test]
async fn vertex_answers_in_gemini_shapes() {
    let sim = sim().await;
    let g = Google::vertex(&sim).await;
    let whole = expect(g.generate(&hello(None)), 200).await;
    let (blocks, failed) = stream_blocks(g.stream(&hello(None))).await;
    assert!(!failed);
    let joined: String = blocks.iter().map(|b| text_of(&b.json())).collect();
    assert_eq!(joined, text_of(&whole));
    let last = blocks.last().unwrap().json();
    assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
    assert!(last["createTime"].is_string());
    // Without alt=sse: a JSON array.
    let v = expect(
        g.auth(client().post(g.url(MODEL, "streamGenerateContent", "")))
            .json(&hello(Some(2))),
        200,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 2);

    let n = expect(
        g.post(MODEL, "countTokens")
            .json(&json!({"contents": [{"parts": [{"text": "ab cd"}]}],
        "systemInstruction": {"parts": [{"text": "x"}]}})),
        200,
    )
    .await;
    assert_eq!(n["totalTokens"], 2 + 3 + 1);
    assert_eq!(n["totalBillableCharacters"], 4);

    let p = expect(
        g.post("text-embedding-005", "predict")
            .json(&json!({"instances": [{"content": "a b"}, {"content": "c"}],
        "parameters": {"outputDimensionality": 16}})),
        200,
    )
    .await;
    let preds = p["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2);
    assert_eq!(
        preds[0]["embeddings"]["values"].as_array().unwrap().len(),
        16
    );
    assert_eq!(preds[0]["embeddings"]["statistics"]["token_count"], 2);
    assert_eq!(p["metadata"]["billableCharacterCount"], 3);
    let e = expect(
        g.post("gemini-embedding-001", "embedContent")
            .json(&json!({"content": {"parts": [{"text": "a"}]}})),
        200,
    )
    .await;
    assert_eq!(e["embedding"]["values"].as_array().unwrap().len(), 3072);
    let b = expect(g.post("gemini-embedding-001", "batchEmbedContents").json(&json!({"requests": [
        {"content": {"parts": [{"text": "a"}]}, "embedContentConfig": {"outputDimensionality": 4}},
        {"content": {"parts": [{"text": "b"}]}, "embedContentConfig": {"outputDimensionality": 4}}]})), 200).await;
    assert_eq!(b["embeddings"].as_array().unwrap().len(), 2);

    let models = expect(
        g.auth(client().get(vertex_url(
            &sim,
            "/v1beta1/publishers/google/models?pageSize=2",
        ))),
        200,
    )
    .await;
    assert_eq!(models["publisherModels"].as_array().unwrap().len(), 2);
    assert!(models["nextPageToken"].is_string());
    let m = expect(
        g.auth(client().get(vertex_url(
            &sim,
            "/v1/publishers/google/models/gemini-2.5-pro",
        ))),
        200,
    )
    .await;
    assert_eq!(m["name"], "publishers/google/models/gemini-2.5-pro");

    // What Vertex does not serve.
    let v = expect(
        g.post("gemma-3-27b-it", "generateContent")
            .json(&hello(None)),
        404,
    )
    .await;
    google_error(&v, 404, "NOT_FOUND");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("Publisher Model `projects/sim-project/locations/us-central1/publishers/google/models/gemma-3-27b-it`"));
    expect(
        g.post("text-embedding-005", "generateContent")
            .json(&hello(None)),
        404,
    )
    .await;
    let anthropic =
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4:rawPredict";
    expect(
        g.auth(client().post(vertex_url(&sim, anthropic)))
            .json(&hello(None)),
        404,
    )
    .await;
    let beta =
        format!("/v1beta/projects/p/locations/l/publishers/google/models/{MODEL}:generateContent");
    expect(
        g.auth(client().post(vertex_url(&sim, &beta)))
            .json(&hello(None)),
        404,
    )
    .await;
    let v = expect(
        g.generate(&json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]})),
        400,
    )
    .await;
    google_error(&v, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn every_fault_in_vertex_shapes() {
    let sim = sim().await;
    let g = Google::vertex(&sim).await;
    check_every_fault(&g).await;
    // A bare 429 unless the fault gives retry-after.
    let v = expect(with_fault(g.generate(&hello(None)), "status=429"), 429).await;
    assert!(v["error"].get("details").is_none(), "{v}");
    // The token endpoint fails in OAuth's shape.
    let sa = TestServiceAccount::load();
    let jwt = sa.assertion(&sa.claims(GOOGLE_AUD, unix_now())).unwrap();
    for (code, word) in [
        (500, "internal_failure"),
        (503, "temporarily_unavailable"),
        (400, "invalid_request"),
    ] {
        let v = expect(
            with_fault(token_request(&sim, &jwt), &format!("status={code}")),
            code,
        )
        .await;
        assert_eq!(v["error"], word);
        assert!(v["error_description"].is_string());
    }
    let e = with_fault(token_request(&sim, &jwt), "reset")
        .send()
        .await
        .unwrap_err();
    assert!(!e.is_timeout());
    let r = with_fault(token_request(&sim, &jwt), "truncate=10")
        .send()
        .await
        .unwrap();
    assert!(read_all(r).await.1);
}

async fn statuses(seed: u64) -> Vec<u16> {
    let sim = sluice_sim::start(SimConfig {
        seed,
        mix: Some(Mix::parse("status=429:20%, status=503:20%, status=500:10%").unwrap()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sa = TestServiceAccount::load();
    let jwt = sa.assertion(&sa.claims(GOOGLE_AUD, unix_now())).unwrap();
    // The token request draws from the mix too; retry it until it succeeds.
    let mut token = None;
    let mut out = Vec::new();
    for _ in 0..20 {
        let r = token_request(&sim, &jwt).send().await.unwrap();
        out.push(r.status().as_u16());
        if r.status() == 200 {
            token = r.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .map(str::to_owned);
            break;
        }
    }
    let g = Google {
        sim: &sim,
        provider: Provider::Vertex,
        token: token.unwrap(),
    };
    out.extend(statuses_of(&g, 30).await);
    out
}

#[tokio::test]
async fn same_seed_same_faults() {
    let a = statuses(3).await;
    assert_eq!(a, statuses(3).await);
    assert_ne!(a, statuses(4).await);
    assert!(a.contains(&200) && a.contains(&429));
}
