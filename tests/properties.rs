//! Properties of the whole relay under random traffic: random sequences of requests (endpoint,
//! provider, native or converted, Google's native routes on Gemini and Vertex AI, stream or
//! not, length; OpenAI-format routes also on any
//! OpenAI-compatible dialect of the simulator, with a mapped model), upstream faults (or none)
//! and client behaviours (read all, leave at a random byte, read slowly, bursts of concurrent
//! requests).
//! After each sequence:
//! - every count is back at its baseline (the leak checker, `sluice_test_support::leak`);
//! - every request read to its end got a well-formed answer or a well-formed error in the
//!   client's format, and the one the fault calls for;
//! - every request was accounted exactly once (the ledger's request counters).
//!
//! 16 cases by default; `PROPTEST_CASES=256 cargo test --test properties` for more. A failing
//! case is saved to `tests/properties.proptest-regressions` (commit it) and replayed first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use futures_util::future::join_all;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sluice_sim::Dialect;
use sluice_test_support::leak::traffic::{self, Outcome, Route, Shape};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{compat_channel, Harness};
use std::time::Duration;

/// One request may take this long end to end; the slowest legitimate one (a slow reader of a
/// 48-token stream) takes about a second.
const REQUEST: Duration = Duration::from_secs(10);

/// The faults a request may carry (`None`: no fault).
const FAULTS: [&str; 15] = [
    "status=429",
    "status=503",
    "status=504",
    "truncate=40",
    "malformed",
    "cut=3",
    "no-done",
    "stall-headers",
    "stall-after=2",
    "blackhole",
    "reset",
    "drip=5ms..10ms",
    "oversize=100000",
    "error-event",
    "status=400",
];

#[derive(Clone, Debug)]
enum Client {
    /// Reads the whole answer.
    ReadAll,
    /// Leaves once this many body bytes arrived (or reads all, if the body is shorter).
    LeaveAt(usize),
    /// Waits this long before each chunk it reads.
    Slow(Duration),
}

#[derive(Clone, Debug)]
struct Req {
    route: Route,
    /// The OpenAI-compatible dialect that serves an OpenAI-format route instead of OpenAI.
    dialect: Option<Dialect>,
    stream: bool,
    max_tokens: u32,
    fault: Option<&'static str>,
    client: Client,
}

#[derive(Clone, Debug)]
enum Step {
    One(Req),
    /// Sent all at once.
    Burst(Vec<Req>),
}

fn req() -> impl Strategy<Value = Req> {
    let fault = prop_oneof![
        1 => Just(None),
        3 => proptest::sample::select(FAULTS.to_vec()).prop_map(Some),
    ];
    let client = prop_oneof![
        5 => Just(Client::ReadAll),
        2 => (0usize..3000).prop_map(Client::LeaveAt),
        1 => (2u64..15).prop_map(|ms| Client::Slow(Duration::from_millis(ms))),
    ];
    let dialect = prop_oneof![
        1 => Just(None),
        1 => proptest::sample::select(Dialect::ALL.to_vec()).prop_map(Some),
    ];
    (
        proptest::sample::select([&Route::ALL[..], &Route::GOOGLE[..]].concat()),
        dialect,
        any::<bool>(),
        1u32..48,
        fault,
        client,
    )
        .prop_map(|(route, dialect, stream, max_tokens, fault, client)| {
            let stream = stream && route.can_stream();
            Req {
                route,
                dialect: dialect.filter(|&d| on_dialects(route) && checkable(d, route, stream)),
                stream,
                max_tokens,
                fault,
                client,
            }
        })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => req().prop_map(Step::One),
        1 => vec(req(), 2..=5).prop_map(Step::Burst),
    ];
    vec(step, 1..=8)
}

/// The routes an OpenAI-compatible dialect can serve (OpenAI-format channels).
fn on_dialects(route: Route) -> bool {
    matches!(
        route,
        Route::OpenAiChat | Route::Completions | Route::Embeddings | Route::GptViaMessages
    )
}

/// Whether the shape check can judge the dialect's answer: a non-streamed chat or completion
/// must name its `object`, which the FastAPI clone leaves out (passed through as it is).
fn checkable(d: Dialect, route: Route, stream: bool) -> bool {
    d != Dialect::FastApi || stream || !matches!(route, Route::OpenAiChat | Route::Completions)
}

/// A dialect's name for a route's model (mapped to the route's own model on its channel).
fn dialect_model(route: Route, d: Dialect) -> String {
    format!("{}@{d}", route.model())
}

/// What a request read to its end must have got. `None`: either shape is right.
fn expected(r: &Req) -> Option<Shape> {
    let native = !matches!(r.route, Route::ClaudeViaChat | Route::GptViaMessages);
    // A JSON-only server answers a stream request with JSON (relayed as a stream).
    let json_answer = !r.stream || r.dialect == Some(Dialect::JsonOnly);
    match r.fault {
        None | Some("drip=5ms..10ms") | Some("oversize=100000") => Some(Shape::Answer),
        // Stream-only faults on a JSON answer are not applied.
        Some("cut=3" | "no-done" | "stall-after=2" | "error-event") if json_answer => {
            Some(Shape::Answer)
        }
        // Converted from OpenAI, a stream whose finish_reason came may end without [DONE].
        Some("no-done") if r.route == Route::GptViaMessages => None,
        // A native stream is passed through unparsed: the broken event reaches the client.
        Some("malformed") if r.stream && native => None,
        Some(_) => Some(Shape::Error),
    }
}

/// Sends one request and behaves as its client; `None` when the client left early.
async fn run(h: &Harness, r: &Req) -> Option<Outcome> {
    let mut body = r.route.body(r.fault, r.stream, r.max_tokens);
    if let Some(d) = r.dialect {
        body["model"] = dialect_model(r.route, d).into();
    }
    let exchange = async {
        let mut resp = r
            .route
            .request(h, &body)
            .send()
            .await
            .expect("relay reachable");
        match r.client {
            Client::ReadAll => Some(traffic::read(r.route, r.stream, resp).await),
            Client::LeaveAt(at) => {
                let status = resp.status().as_u16();
                let mut bytes = Vec::new();
                while bytes.len() < at {
                    match resp.chunk().await {
                        Ok(Some(c)) => bytes.extend_from_slice(&c),
                        Ok(None) => {
                            return Some(Outcome {
                                route: r.route,
                                stream: r.stream,
                                status,
                                body: String::from_utf8_lossy(&bytes).into_owned(),
                                cut: false,
                            })
                        }
                        Err(_) => break,
                    }
                }
                None
            }
            Client::Slow(pause) => {
                let status = resp.status().as_u16();
                let mut bytes = Vec::new();
                let mut cut = false;
                loop {
                    tokio::time::sleep(pause).await;
                    match resp.chunk().await {
                        Ok(Some(c)) => bytes.extend_from_slice(&c),
                        Ok(None) => break,
                        Err(_) => {
                            cut = true;
                            break;
                        }
                    }
                }
                Some(Outcome {
                    route: r.route,
                    stream: r.stream,
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                    cut,
                })
            }
        }
    };
    tokio::time::timeout(REQUEST, exchange)
        .await
        .unwrap_or_else(|_| panic!("no end within {REQUEST:?}: {r:?}"))
}

fn check(r: &Req, out: &Outcome) {
    let shape = if r.fault == Some("malformed") && r.stream {
        out.shape_passthrough()
    } else {
        out.shape()
    };
    let shape = shape.unwrap_or_else(|e| panic!("{e}\nrequest: {r:?}"));
    if let Some(want) = expected(r) {
        assert_eq!(shape, want, "request: {r:?}\noutcome: {out:?}");
    }
}

async fn case(steps: Vec<Step>) {
    let h = leak::harness(|c, sim| {
        for d in Dialect::ALL {
            let names: Vec<(String, &str)> = Route::ALL
                .into_iter()
                .filter(|&r| on_dialects(r))
                .map(|r| (dialect_model(r, d), r.model()))
                .collect();
            let models: Vec<(&str, &str)> = names.iter().map(|(c, u)| (c.as_str(), *u)).collect();
            c.channels
                .push(compat_channel(sim, &format!("compat-{d}"), d, &models));
        }
        c.timeouts.first_byte = Duration::from_millis(300);
        c.timeouts.stream_idle = Duration::from_millis(300);
        c.timeouts.keepalive = Duration::from_millis(100);
        c.timeouts.total = Duration::from_secs(5);
    })
    .await;
    for route in [Route::OpenAiChat, Route::ClaudeMessages] {
        for stream in [false, true] {
            traffic::send(&h, route, None, stream, 4, REQUEST)
                .await
                .expect("warm-up");
        }
    }
    let base = Baseline::take(&h).await;
    let mut sent = 0u64;
    for step in &steps {
        let reqs: Vec<&Req> = match step {
            Step::One(r) => vec![r],
            Step::Burst(rs) => rs.iter().collect(),
        };
        sent += reqs.len() as u64;
        let outs = join_all(reqs.iter().map(|r| run(&h, r))).await;
        for (r, out) in reqs.iter().zip(outs) {
            if let Some(out) = out {
                check(r, &out);
            }
        }
    }
    base.assert_returns(&h, Duration::from_secs(3)).await;
    assert_eq!(
        base.requests_since(&h),
        sent,
        "each request accounted exactly once: {:?}",
        h.state.monitor.ledger().counters().requests
    );
    h.shutdown().await;
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    ProptestConfig {
        cases,
        // Each case starts a relay and waits for quiescence: shrink a little, not for long.
        max_shrink_iters: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_traffic_leaves_nothing_and_every_request_is_answered_once(steps in steps()) {
        leak::run(|| case(steps));
    }
}

/// The JSON-bodied media endpoints, as random traffic of their own.
mod media {
    use super::{config, REQUEST};
    use futures_util::future::join_all;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use sluice_test_support::leak::{self, Baseline};
    use sluice_test_support::Harness;
    use std::time::Duration;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Ask {
        /// dall-e-2, b64_json.
        Image,
        /// gpt-image-1 with 2 partial images.
        ImageStream,
        /// tts-1 as WAV.
        Speech,
        /// gpt-4o-mini-tts with `stream_format: "sse"`.
        SpeechEvents,
        Moderation,
    }

    impl Ask {
        fn path(self) -> &'static str {
            match self {
                Ask::Image | Ask::ImageStream => "/v1/images/generations",
                Ask::Speech | Ask::SpeechEvents => "/v1/audio/speech",
                Ask::Moderation => "/v1/moderations",
            }
        }

        fn events(self) -> bool {
            matches!(self, Ask::ImageStream | Ask::SpeechEvents)
        }

        fn body(self, fault: Option<&str>) -> Value {
            let text = format!(
                "media {}",
                fault.map(|f| format!("<<sim:{f}>>")).unwrap_or_default()
            );
            match self {
                Ask::Image => json!({"model": "dall-e-2", "prompt": text, "size": "256x256",
                    "response_format": "b64_json"}),
                Ask::ImageStream => json!({"model": "gpt-image-1", "prompt": text,
                    "stream": true, "partial_images": 2}),
                Ask::Speech => json!({"model": "tts-1", "voice": "alloy",
                    "response_format": "wav", "input": format!("{text} {}", "say ".repeat(20))}),
                Ask::SpeechEvents => json!({"model": "gpt-4o-mini-tts", "voice": "alloy",
                    "stream_format": "sse", "input": text}),
                Ask::Moderation => json!({"model": "omni-moderation-latest", "input": text}),
            }
        }
    }

    const FAULTS: [&str; 10] = [
        "status=429, retry-after=0",
        "status=500",
        "status=503, retry-after=0",
        "truncate=40",
        "cut=2",
        "cut-before-completed",
        "moderation-blocked",
        "drip=1ms..3ms",
        "reset",
        "malformed",
    ];

    #[derive(Clone, Debug)]
    struct Req {
        ask: Ask,
        fault: Option<&'static str>,
        /// Leave once this many body bytes arrived (`None`: read it all).
        leave_at: Option<usize>,
    }

    fn req() -> impl Strategy<Value = Req> {
        (
            proptest::sample::select(vec![
                Ask::Image,
                Ask::ImageStream,
                Ask::Speech,
                Ask::SpeechEvents,
                Ask::Moderation,
            ]),
            prop_oneof![1 => Just(None), 3 => proptest::sample::select(FAULTS.to_vec()).prop_map(Some)],
            prop_oneof![3 => Just(None), 1 => (0usize..20_000).prop_map(Some)],
        )
            .prop_map(|(ask, fault, leave_at)| Req { ask, fault, leave_at })
    }

    /// How a request read to its end came back.
    struct Out {
        status: u16,
        content_type: String,
        body: Vec<u8>,
        /// The body broke off (not a clean end).
        broken: bool,
    }

    impl std::fmt::Debug for Out {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let text = String::from_utf8_lossy(&self.body);
            let head: String = text.chars().take(300).collect();
            write!(
                f,
                "{} {} ({} bytes{}): {head}",
                self.status,
                self.content_type,
                self.body.len(),
                if self.broken { ", broken" } else { "" }
            )
        }
    }

    async fn run(h: &Harness, r: &Req) -> Option<Out> {
        let exchange = async {
            let mut resp = h.post(r.ask.path(), &r.ask.body(r.fault)).await;
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut body = Vec::new();
            loop {
                if r.leave_at.is_some_and(|at| body.len() >= at) {
                    return None;
                }
                match resp.chunk().await {
                    Ok(Some(c)) => body.extend_from_slice(&c),
                    Ok(None) => {
                        return Some(Out {
                            status,
                            content_type,
                            body,
                            broken: false,
                        })
                    }
                    Err(_) => {
                        return Some(Out {
                            status,
                            content_type,
                            body,
                            broken: true,
                        })
                    }
                }
            }
        };
        tokio::time::timeout(REQUEST, exchange)
            .await
            .unwrap_or_else(|_| panic!("no end within {REQUEST:?}: {r:?}"))
    }

    /// The data of the last event of an event stream.
    fn last_event(body: &[u8]) -> Value {
        let text = String::from_utf8_lossy(body);
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .next_back();
        serde_json::from_str(data.unwrap_or_default().trim()).unwrap_or_default()
    }

    /// A request read to its end got what its fault calls for, well-formed.
    fn check(r: &Req, o: &Out) {
        let expect = match r.fault {
            Some(f) if f.starts_with("status=") => f[7..10].parse().unwrap(),
            Some("moderation-blocked") => 400,
            Some("reset") => 502,
            Some("truncate=40" | "malformed") if !r.ask.events() && r.ask != Ask::Speech => 502,
            _ => 200,
        };
        assert_eq!(o.status, expect, "{r:?}: {o:?}");
        if o.status != 200 {
            let v: Value = serde_json::from_slice(&o.body).unwrap_or_default();
            assert!(v["error"]["message"].is_string(), "{r:?}: {o:?}");
            return;
        }
        // Faults that break a body after its 200: binary bodies are cut and truncated per
        // chunk; event streams also cut before their last event; JSON answers ignore them.
        let broken = match r.ask {
            Ask::Speech => matches!(r.fault, Some("cut=2" | "truncate=40")),
            Ask::ImageStream | Ask::SpeechEvents => {
                matches!(
                    r.fault,
                    Some("cut=2" | "truncate=40" | "cut-before-completed")
                )
            }
            Ask::Image | Ask::Moderation => false,
        };
        let clean = !broken && r.fault != Some("malformed");
        match r.ask {
            Ask::Speech => {
                assert_eq!(o.content_type, "audio/wav", "{r:?}");
                assert_eq!(o.broken, broken, "{r:?}: a cut body is not a clean end");
            }
            Ask::ImageStream | Ask::SpeechEvents => {
                let last = last_event(&o.body);
                let terminal = last["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(".completed") || t.ends_with(".done"));
                if clean {
                    assert!(terminal, "{r:?}: {last}");
                } else if broken {
                    assert!(last["error"]["message"].is_string(), "{r:?}: {last}");
                }
            }
            Ask::Image | Ask::Moderation => {
                let v: Value = serde_json::from_slice(&o.body).unwrap();
                assert!(
                    v["data"].is_array() || v["results"].is_array(),
                    "{r:?}: {v}"
                );
            }
        }
    }

    async fn case(steps: Vec<Vec<Req>>) {
        let h = leak::harness(|c, _| {
            c.timeouts.stream_idle = Duration::from_millis(300);
            c.timeouts.keepalive = Duration::from_millis(100);
            c.timeouts.total = Duration::from_secs(5);
        })
        .await;
        for ask in [Ask::Image, Ask::ImageStream, Ask::Speech, Ask::Moderation] {
            let out = run(
                &h,
                &Req {
                    ask,
                    fault: None,
                    leave_at: None,
                },
            )
            .await
            .unwrap();
            assert_eq!(out.status, 200, "warm-up {ask:?}");
        }
        let base = Baseline::take(&h).await;
        let mut sent = 0u64;
        for step in &steps {
            sent += step.len() as u64;
            let outs = join_all(step.iter().map(|r| run(&h, r))).await;
            for (r, out) in step.iter().zip(outs) {
                if let Some(out) = out {
                    check(r, &out);
                }
            }
        }
        base.assert_returns(&h, Duration::from_secs(3)).await;
        assert_eq!(
            base.requests_since(&h),
            sent,
            "each request accounted exactly once"
        );
        h.shutdown().await;
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn random_media_traffic_leaves_nothing_and_every_request_is_answered_once(
            steps in vec(vec(req(), 1..=4), 1..=5)
        ) {
            leak::run(|| case(steps));
        }
    }
}

/// Video tasks, as random lifecycles: random providers, task faults, run times and client
/// actions (deleting a pending task, asking for refreshes).
mod video {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;
    use serde_json::{json, Value};
    use sluice::store::usage::query::UsageFilter;
    use sluice::store::TokenSpec;
    use sluice::tasks::billing::settlement_id;
    use sluice_test_support::db::TestSqlite;
    use sluice_test_support::leak::{self, Baseline};
    use std::time::Duration;

    const MODELS: [&str; 9] = [
        "sora-2",
        "kling-v1",
        "gen4_turbo",
        "ray-2",
        "cogvideox-3",
        "wan2.2-t2v-plus",
        "viggle-v4",
        "veo-3.0-generate-001",
        "veo-3.0-generate-001-vertex",
    ];

    /// What the simulator does with a task (a prompt marker).
    const FAULTS: [&str; 5] = [
        "",
        "[sim:task-fail]",
        "[sim:task-stuck]",
        "[sim:poll-malformed]",
        "[sim:task-fail, run=50ms]",
    ];

    #[derive(Clone, Debug)]
    struct Life {
        model: usize,
        fault: usize,
        run_ms: u64,
        /// Delete it this long after creating it.
        delete_after_ms: Option<u64>,
        refreshes: u8,
    }

    fn life() -> impl Strategy<Value = Life> {
        (
            0..MODELS.len(),
            prop_oneof![3 => Just(0usize), 2 => 1..FAULTS.len()],
            100u64..1500,
            prop::option::weighted(0.25, 0u64..1500),
            0u8..3,
        )
            .prop_map(|(model, fault, run_ms, delete_after_ms, refreshes)| Life {
                model,
                fault,
                run_ms,
                delete_after_ms,
                refreshes,
            })
    }

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_VIDEO_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        ProptestConfig {
            cases,
            max_shrink_iters: 16,
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
                "proptest-regressions",
            ))),
            ..ProptestConfig::default()
        }
    }

    async fn case(lives: Vec<Life>) {
        let db = TestSqlite::new();
        let store_config = db.config();
        let h = leak::harness(move |c, _| {
            c.store = Some(store_config);
            c.video.task_deadline = Duration::from_secs(4);
            c.video.refresh_interval = Duration::from_millis(200);
            c.video.max_poll_interval = Duration::from_millis(300);
            for kind in sluice::config::ProviderKind::ALL {
                c.video
                    .poll_intervals
                    .insert(kind.as_str().to_owned(), Duration::from_millis(100).into());
            }
            c.prices = toml::from_str("[[models]]\nmatch = [\"*\"]\nvideo_second = 0.1\n").unwrap();
        })
        .await;
        let store = h.state.metered.as_ref().unwrap().store.clone();
        let token = store
            .create_token(TokenSpec {
                name: "lives".to_owned(),
                ..TokenSpec::default()
            })
            .await
            .unwrap();
        let key = token.key.expose().to_owned();
        // The store's read pool opens its connections (each with its files) as reads overlap:
        // all of them before the baseline.
        let lists = (0..16).map(|_| h.client.get(h.url("/v1/videos")).bearer_auth(&key).send());
        for r in futures_util::future::join_all(lists).await {
            assert_eq!(r.unwrap().status(), 200);
        }
        let base = Baseline::take(&h).await;
        let runs = lives.iter().map(|l| {
            let h = &h;
            let key = key.clone();
            async move {
                let prompt = format!("a life {} [sim:run={}ms]", FAULTS[l.fault], l.run_ms);
                let resp = h
                    .client
                    .post(h.url("/v1/videos"))
                    .bearer_auth(&key)
                    .json(&json!({"model": MODELS[l.model], "prompt": prompt, "seconds": "4"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{l:?}");
                let v: Value = resp.json().await.unwrap();
                let id = v["id"].as_str().unwrap().to_owned();
                for _ in 0..l.refreshes {
                    let r = h
                        .client
                        .get(h.url(&format!("/v1/videos/{id}?refresh=true")))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                }
                if let Some(ms) = l.delete_after_ms {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let r = h
                        .client
                        .delete(h.url(&format!("/v1/videos/{id}")))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "{l:?}");
                }
                id
            }
        });
        let ids = futures_util::future::join_all(runs).await;
        // Every task ends in exactly one terminal state (deleted ones included: the store
        // keeps them).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut ended = Vec::new();
        for (id, l) in ids.iter().zip(&lives) {
            loop {
                let t = store.get_task(id).await.unwrap().unwrap();
                if t.state.is_terminal() {
                    ended.push(t);
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{l:?}: {t:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Billed exactly once: the create's row, at most one settlement, and what is spent is
        // the charge for a completed task and nothing for any other.
        let filter = UsageFilter {
            token_id: Some(token.token.id),
            ..UsageFilter::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let rows = store.usage_events(&filter, None, 10_000).await.unwrap();
            let mut settled_all = true;
            for t in &ended {
                let mine: Vec<_> = rows
                    .iter()
                    .filter(|r| r.request_id == t.request_id)
                    .collect();
                let settlements = mine
                    .iter()
                    .filter(|r| r.usage_id == settlement_id(&t.id))
                    .count();
                assert!(settlements <= 1, "{}: {settlements} settlements", t.id);
                assert!(mine.len() <= 2, "{}: {} rows", t.id, mine.len());
                let spent: i64 = mine.iter().map(|r| r.cost_units).sum();
                let want_refund = t.state.refunds();
                if mine.is_empty() || (want_refund && spent != 0) {
                    settled_all = false;
                    continue;
                }
                if !want_refund {
                    assert!(spent > 0, "{} completed and spent {spent}", t.id);
                    assert_eq!(settlements == 1, spent != t.charged_units, "{}", t.id);
                }
            }
            if settled_all {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not every refund was written: {ended:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        base.assert_returns(&h, Duration::from_secs(3)).await;
        h.shutdown().await;
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn every_video_task_ends_once_and_is_billed_once(lives in vec(life(), 1..12)) {
            leak::run(|| case(lives));
        }
    }
}
