//! End to end: what the relay answers by itself while the channels of a model rest, so that
//! clients and their SDKs read it right: 429 with the soonest `retry-after` while every channel
//! cools after rate limits (also when the upstream gave it as an HTTP date); panic mode for a
//! model whose every circuit is open (on by default for a single channel); a 503 that says why
//! and when to come back; and `/v1/models` listing only what an enabled channel serves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::{ChannelConfig, PanicMode};
use sluice_sim::Scenario;
use sluice_test_support::{
    assert_upstream_settled, openai_channel, request_id, with_fault, Harness, ROUTED_MODEL,
};
use std::time::Duration;

const IDLE: usize = 4;

fn ask() -> Value {
    json!({"model": ROUTED_MODEL, "max_tokens": 3,
        "messages": [{"role": "user", "content": "hi"}]})
}

async fn relay_with(
    make: impl FnOnce(&sluice_sim::SimHandle) -> Vec<ChannelConfig> + 'static,
    tweak: impl FnOnce(&mut sluice::Config) + 'static,
) -> Harness {
    Harness::builder()
        .config(move |c, sim| {
            c.channels = make(sim);
            c.upstream.pool_max_idle_per_host = IDLE;
            c.routing.seed = Some(1);
            tweak(c);
        })
        .start()
        .await
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn every_channel_cooling_after_429s_answers_429_with_the_soonest_retry_after() {
    let h = relay_with(
        |sim| {
            let mut a = with_fault(
                openai_channel(sim, "a", "gpt-4o"),
                "status=429,retry-after=40",
            );
            a.priority = 1;
            let b = with_fault(
                openai_channel(sim, "b", "gpt-4o-mini"),
                "status=429,retry-after=20",
            );
            vec![a, b]
        },
        |_| {},
    )
    .await;
    // The first request meets both upstreams and gets the last one's 429.
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(h.sim.stats().requests_total, 2);
    // Then the relay answers itself while both keys cool: a 429 in the client's format with
    // the wait until the first channel is back, never a 503 an SDK takes for a server fault.
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 429);
    let wait = retry_after(&resp);
    assert!((19..=20).contains(&wait), "{wait}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    let resp = h.post_anthropic("/v1/messages", &ask()).await;
    assert_eq!(resp.status(), 429);
    assert!((19..=20).contains(&retry_after(&resp)));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error")),
        "{v}"
    );
    assert_eq!(
        h.sim.stats().requests_total,
        2,
        "no upstream asked meanwhile"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let upstream = MockServer::start().await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", date.as_str())
                .set_body_string(r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#),
        )
        .mount(&upstream)
        .await;
    let base = upstream.uri();
    let h = relay_with(
        move |sim| {
            let mut ch = openai_channel(sim, "dated", "gpt-4o");
            ch.base_url = base;
            vec![ch]
        },
        |_| {},
    )
    .await;
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], date.as_str(), "passed on");
    // The key cools until that date: the next request is answered by the relay, not sent.
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 429);
    let wait = retry_after(&resp);
    assert!((28..=31).contains(&wait), "{wait}");
    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
    h.shutdown().await;
}

/// Channels whose first requests (by upstream model) fail with 500, opening their circuits
/// after one fault, with a long backoff.
async fn opened(
    channels: &'static [(&'static str, &'static str)],
    panic: Option<PanicMode>,
) -> Harness {
    let h = relay_with(
        move |sim| {
            channels
                .iter()
                .enumerate()
                .map(|(i, (name, model))| {
                    let mut ch = openai_channel(sim, name, model);
                    ch.priority = -(i as i32);
                    ch
                })
                .collect()
        },
        move |c| {
            c.routing.breaker.consecutive_failures = 1;
            c.routing.breaker.backoff = Duration::from_secs(60);
            c.routing.max_attempts = channels.len() as u32;
            if let Some(p) = panic {
                c.routing.panic = p;
            }
        },
    )
    .await;
    let rules: String = channels
        .iter()
        .map(|(_, model)| {
            format!("[[rule]]\nmodel = \"{model}\"\nrequests = 1\nfault = \"status=500\"\n")
        })
        .collect();
    h.sim.set_scenario(Some(Scenario::parse(&rules).unwrap()));
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 500);
    for (name, _) in channels {
        let snap = h.state.routes.channel_snapshot(name).unwrap();
        assert_eq!(snap.breaker, sluice::routing::BreakerState::Open, "{name}");
    }
    h
}

#[tokio::test]
async fn a_single_channel_with_an_open_circuit_is_still_tried_by_default() {
    let h = opened(&[("only", "gpt-4o")], None).await;
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 200, "panic mode: the one channel is tried");
    assert_eq!(h.sim.stats().requests_total, 2);
    let snap = h.state.routes.channel_snapshot("only").unwrap();
    assert_eq!(
        snap.breaker,
        sluice::routing::BreakerState::Closed,
        "a success heals it"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn without_panic_mode_an_open_circuit_gets_a_503_that_says_why() {
    let h = opened(&[("only", "gpt-4o")], Some(PanicMode::Never)).await;
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 503);
    let wait = retry_after(&resp);
    assert!((59..=60).contains(&wait), "the next probe: {wait}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "no_channel_available");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("`only`: circuit open"), "{msg}");
    assert_eq!(h.sim.stats().requests_total, 1);
    h.shutdown().await;
}

const TWO: &[(&str, &str)] = &[("a", "gpt-4o"), ("b", "gpt-4o-mini")];

#[tokio::test]
async fn several_open_circuits_get_a_503_naming_them_unless_panic_is_always() {
    let h = opened(TWO, None).await;
    assert_eq!(h.sim.stats().requests_total, 2, "both tried and opened");
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("`a`: circuit open") && msg.contains("`b`: circuit open"),
        "{msg}"
    );
    h.shutdown().await;

    let h = opened(TWO, Some(PanicMode::Always)).await;
    let resp = h.post("/v1/chat/completions", &ask()).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    assert_eq!(
        h.served_model(&id, ROUTED_MODEL).await,
        "gpt-4o",
        "the circuit that opened longest ago: a"
    );
    assert_upstream_settled(&h, IDLE).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_disabled_channel_gets_a_503_that_says_so_and_leaves_the_model_list() {
    let h = Harness::start().await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = || async {
        h.client
            .get(h.url("/v1/models"))
            .bearer_auth(sluice_test_support::TOKEN)
            .send()
            .await
            .unwrap()
    };
    let one = |id: &'static str| {
        h.client
            .get(h.url(&format!("/v1/models/{id}")))
            .bearer_auth(sluice_test_support::TOKEN)
            .send()
    };
    assert!(ids(list().await.json().await.unwrap()).contains(&"grok-3".to_owned()));
    assert!(h.state.routes.disable("demo-xai"));
    let listed = ids(list().await.json().await.unwrap());
    assert!(!listed.iter().any(|m| m.starts_with("grok")), "{listed:?}");
    assert!(listed.contains(&"gpt-4o-mini".to_owned()), "{listed:?}");
    assert_eq!(one("grok-3").await.unwrap().status(), 404);
    assert_eq!(one("gpt-4o-mini").await.unwrap().status(), 200);

    let body = json!({"model": "grok-3", "messages": [{"role": "user", "content": "hi"}]});
    let resp = h.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("`demo-xai`: disabled (operator)"), "{msg}");

    assert!(h.state.routes.enable("demo-xai"));
    assert_eq!(one("grok-3").await.unwrap().status(), 200);
    h.shutdown().await;
}
