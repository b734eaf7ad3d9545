//! How faults are chosen: header, body directive, scenario rules, seeded mix, runtime changes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::*;
use serde_json::json;
use sluice_sim::{Mix, Provider, Scenario, SimConfig};

#[tokio::test]
async fn body_directive_and_header_precedence() {
    let sim = sim().await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi <<sim:status=503>>"}]});
    expect(
        post(&sim, Provider::OpenAi, "/chat/completions").json(&body),
        503,
    )
    .await;
    expect(
        with_fault(
            post(&sim, Provider::OpenAi, "/chat/completions").json(&body),
            "status=418",
        ),
        418,
    )
    .await;
    expect(
        with_fault(
            post(&sim, Provider::OpenAi, "/chat/completions").json(&body),
            "none",
        ),
        200,
    )
    .await;
    let body = json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "stream": true,
        "messages": [{"role": "user", "content": "<<sim:drip=1ms..2ms, cut=2>>"}]});
    let r = post(&sim, Provider::Anthropic, "/v1/messages")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (bytes, failed) = read_all(r).await;
    assert!(failed);
    assert_eq!(parse_sse(&String::from_utf8_lossy(&bytes)).len(), 2);
}

#[tokio::test]
async fn bad_fault_specs_are_clear_400s() {
    let sim = sim().await;
    let v = expect(
        with_fault(
            post(&sim, Provider::OpenAi, "/chat/completions").json(&chat(false)),
            "stauts=429",
        ),
        400,
    )
    .await;
    assert_eq!(v["error"]["type"], "sim_fault_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("stauts"));
}

#[tokio::test]
async fn scenario_rules_at_runtime() {
    let sim = sim().await;
    let scenario = Scenario::parse(
        r#"
        [[rule]]
        provider = "openai"
        path = "/v1/chat/completions"
        requests = "1..=2"
        fault = "status=429"
        [[rule]]
        provider = "anthropic"
        model = "claude-3*"
        fault = "status=529"
    "#,
    )
    .unwrap();
    sim.set_scenario(Some(scenario));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            post(&sim, Provider::OpenAi, "/chat/completions")
                .json(&chat(false))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![429, 429, 200]);
    let mut m = anthropic_msg(false);
    m["model"] = json!("claude-3-5-haiku-20241022");
    assert_eq!(
        post(&sim, Provider::Anthropic, "/v1/messages")
            .json(&m)
            .send()
            .await
            .unwrap()
            .status(),
        529
    );
    assert_eq!(
        post(&sim, Provider::Anthropic, "/v1/messages")
            .json(&anthropic_msg(false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Over HTTP: a bad scenario is a 400 naming the problem; DELETE clears.
    let url = format!("http://{}/__sim/scenario", sim.addr());
    let v = expect(client().put(&url).body("[[rule]]\nfault = \"cut=x\""), 400).await;
    assert!(v["error"]["message"].as_str().unwrap().contains("rule 1"));
    expect(
        client().put(&url).body("[[rule]]\nfault = \"status=500\""),
        204,
    )
    .await;
    assert_eq!(
        get(&sim, Provider::Xai, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(
        get(&sim, Provider::Xai, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn mix_statuses(seed: u64) -> Vec<u16> {
    let mix = Mix::parse("status=429:20%, status=503:20%, error-event:10%").unwrap();
    let sim = sluice_sim::start(SimConfig {
        seed,
        mix: Some(mix),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..60 {
        let r = post(&sim, Provider::OpenAi, "/chat/completions")
            .json(&chat(true))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        out.push(if text.contains("\"error\"") && status == 200 {
            1
        } else {
            status
        });
    }
    let s = sim.stats();
    assert_eq!(
        s.faults_total(),
        out.iter().filter(|s| **s != 200).count() as u64
    );
    sim.shutdown().await;
    out
}

#[tokio::test]
async fn mix_is_deterministic_per_seed() {
    let a = mix_statuses(42).await;
    let b = mix_statuses(42).await;
    let c = mix_statuses(7).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&429) && a.contains(&503) && a.contains(&200));
}

#[tokio::test]
async fn set_mix_at_runtime_and_over_http() {
    let sim = sim().await;
    sim.set_mix(Some(Mix::parse("status=500:100%").unwrap()));
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    sim.set_mix(None);
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let url = format!("http://{}/__sim/mix", sim.addr());
    assert_eq!(
        client()
            .put(&url)
            .body("status=502:100%")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    assert_eq!(
        client()
            .put(&url)
            .body("status=502:200%")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(
        get(&sim, Provider::OpenAi, "/models")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
