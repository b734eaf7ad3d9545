//! Video tasks end to end through the simulator: OpenAI's video API in front of every video
//! provider (create, poll from the store, content streamed with `Range`), the one-api family's
//! routes, native Kling and Runway routes, ownership, deletes, deadlines, and billing (charged
//! at create, refunded exactly once when a task fails, expires or is cancelled).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::{json, Value};
use sluice::config::PricesConfig;
use sluice::store::usage::query::UsageFilter;
use sluice::store::{Store, TokenSpec};
use sluice_test_support::db::TestSqlite;
use sluice_test_support::{Harness, TOKEN};
use std::time::Duration;

/// How long a test waits for a task to end (the simulator's take about a second).
const WITHIN: Duration = Duration::from_secs(30);

/// One model of each video provider in demo mode, and its provider.
const MODELS: [(&str, &str); 9] = [
    ("sora-2", "openai"),
    ("kling-v1", "kling"),
    ("gen4_turbo", "runway"),
    ("ray-2", "luma"),
    ("cogvideox-3", "zhipu"),
    ("wan2.2-t2v-plus", "dashscope"),
    ("viggle-v4", "viggle"),
    ("veo-3.0-generate-001", "gemini"),
    ("veo-3.0-generate-001-vertex", "vertex"),
];

async fn relay(db: &TestSqlite, tweak: impl FnOnce(&mut sluice::Config) + 'static) -> Harness {
    let store = db.config();
    Harness::builder()
        .config(move |c, _| {
            c.store = Some(store);
            c.routing.max_attempts = 1;
            c.video.poll_interval = Duration::from_millis(100);
            for kind in sluice::config::ProviderKind::ALL {
                c.video
                    .poll_intervals
                    .insert(kind.as_str().to_owned(), Duration::from_millis(100).into());
            }
            tweak(c);
        })
        .start()
        .await
}

async fn create_as(h: &Harness, key: &str, body: &Value) -> reqwest::Response {
    h.client
        .post(h.url("/v1/videos"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_as(h: &Harness, key: &str, path: &str) -> reqwest::Response {
    h.client
        .get(h.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Polls the video until it leaves queued and in_progress.
async fn finished(h: &Harness, key: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let resp = get_as(h, key, &format!("/v1/videos/{id}")).await;
        assert_eq!(resp.status(), 200);
        let pending = resp.headers().get("openai-poll-after-ms").is_some();
        let v: Value = resp.json().await.unwrap();
        let status = v["status"].as_str().unwrap().to_owned();
        if status != "queued" && status != "in_progress" {
            assert!(!pending, "no poll-after header on a finished video: {v}");
            return v;
        }
        assert!(pending, "a pending video's answer says when to poll again");
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_mp4(bytes: &[u8]) -> bool {
    bytes.len() > 16 && &bytes[4..8] == b"ftyp"
}

#[tokio::test]
async fn every_video_provider_serves_the_openai_video_api() {
    let db = TestSqlite::new();
    let h = relay(&db, |_| {}).await;
    for (model, provider) in MODELS {
        let resp = create_as(
            &h,
            TOKEN,
            &json!({"model": model, "prompt": "a paper boat", "seconds": "4"}),
        )
        .await;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{provider}: {v}");
        let id = v["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("video_") && id.len() == 38, "{id}");
        assert_eq!(v["object"], "video");
        assert_eq!(v["model"], model);
        let done = finished(&h, TOKEN, &id).await;
        assert_eq!(done["status"], "completed", "{provider}: {done}");
        assert_eq!(done["progress"], 100, "{provider}");
        let content = get_as(&h, TOKEN, &format!("/v1/videos/{id}/content")).await;
        assert_eq!(content.status(), 200, "{provider}");
        assert_eq!(content.headers()["content-type"], "video/mp4", "{provider}");
        let bytes = content.bytes().await.unwrap();
        assert!(
            is_mp4(&bytes),
            "{provider}: not an MP4 ({} bytes)",
            bytes.len()
        );
        let part = h
            .client
            .get(h.url(&format!("/v1/videos/{id}/content")))
            .bearer_auth(TOKEN)
            .header("range", "bytes=0-7")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206, "{provider}: a range is answered 206");
        assert_eq!(part.bytes().await.unwrap(), bytes.slice(0..8), "{provider}");
    }
    let list: Value = get_as(&h, TOKEN, "/v1/videos?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"].as_array().unwrap().len(), MODELS.len());
    h.shutdown().await;
}

fn store_of(h: &Harness) -> Store {
    h.state.metered.as_ref().expect("a store").store.clone()
}

async fn token(h: &Harness, name: &str) -> (i64, String) {
    let spec = TokenSpec {
        name: name.to_owned(),
        ..TokenSpec::default()
    };
    let new = store_of(h).create_token(spec).await.unwrap();
    (new.token.id, new.key.expose().to_owned())
}

#[tokio::test]
async fn a_task_is_seen_only_by_its_creator() {
    let db = TestSqlite::new();
    let h = relay(&db, |_| {}).await;
    let (_, alice) = token(&h, "alice").await;
    let (_, bob) = token(&h, "bob").await;
    let v: Value = create_as(&h, &alice, &json!({"model": "sora-2", "prompt": "mine"}))
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap();
    assert_eq!(
        get_as(&h, &alice, &format!("/v1/videos/{id}"))
            .await
            .status(),
        200
    );
    for path in [
        format!("/v1/videos/{id}"),
        format!("/v1/videos/{id}/content"),
        format!("/v1/video/generations/{id}"),
    ] {
        let status = get_as(&h, &bob, &path).await.status().as_u16();
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
    let listed: Value = get_as(&h, &bob, "/v1/videos").await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{listed}");
    let gone = h
        .client
        .delete(h.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    h.shutdown().await;
}

/// Prices: sora-2 at 0.10 per second.
fn priced(c: &mut sluice::Config) {
    c.prices = toml::from_str::<PricesConfig>(
        "[[models]]\nmatch = [\"sora-2\", \"kling-v1\"]\nvideo_second = 0.1\n",
    )
    .unwrap();
}

/// The sum of a token's ledger rows' cost, once `rows` rows are written.
async fn spent(store: &Store, token_id: i64, rows: usize) -> i64 {
    let filter = UsageFilter {
        token_id: Some(token_id),
        ..UsageFilter::default()
    };
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let all = store.usage_events(&filter, None, 1000).await.unwrap();
        if all.len() >= rows {
            assert_eq!(all.len(), rows, "{all:?}");
            return all.iter().map(|r| r.cost_units).sum();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {rows} rows",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_video_is_charged_at_create_and_refunded_once_when_it_fails() {
    let db = TestSqlite::new();
    let h = relay(&db, priced).await;
    let (ok_id, ok_key) = token(&h, "ok").await;
    let v: Value = create_as(
        &h,
        &ok_key,
        &json!({"model": "sora-2", "prompt": "fine", "seconds": "8"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        finished(&h, &ok_key, v["id"].as_str().unwrap()).await["status"],
        "completed"
    );
    // 8 s at 0.10: 800,000 units, one row (the create's).
    assert_eq!(spent(&store_of(&h), ok_id, 1).await, 800_000);

    let (bad_id, bad_key) = token(&h, "bad").await;
    let v: Value = create_as(
        &h,
        &bad_key,
        &json!({"model": "sora-2", "prompt": "doomed [sim:task-fail]", "seconds": "4"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let done = finished(&h, &bad_key, v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{done}"
    );
    // The create's charge and its refund: two rows, nothing spent.
    assert_eq!(spent(&store_of(&h), bad_id, 2).await, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(spent(&store_of(&h), bad_id, 2).await, 0, "refunded once");
    h.shutdown().await;
}

#[tokio::test]
async fn a_stuck_task_expires_at_its_deadline_and_is_refunded() {
    let db = TestSqlite::new();
    let h = relay(&db, |c| {
        priced(c);
        c.video.task_deadline = Duration::from_secs(1);
    })
    .await;
    let (id, key) = token(&h, "stuck").await;
    let v: Value = create_as(
        &h,
        &key,
        &json!({"model": "kling-v1", "prompt": "forever [sim:task-stuck]"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let done = finished(&h, &key, v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "expired", "{done}");
    assert_eq!(spent(&store_of(&h), id, 2).await, 0);
    h.shutdown().await;
}

#[tokio::test]
async fn deleting_a_pending_video_cancels_and_refunds_it() {
    let db = TestSqlite::new();
    let h = relay(&db, priced).await;
    let (id, key) = token(&h, "deleter").await;
    let v: Value = create_as(
        &h,
        &key,
        &json!({"model": "sora-2", "prompt": "slow [sim:run=30s]"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let vid = v["id"].as_str().unwrap();
    let resp = h
        .client
        .delete(h.url(&format!("/v1/videos/{vid}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"object": "video.deleted", "deleted": true, "id": vid})
    );
    assert_eq!(
        get_as(&h, &key, &format!("/v1/videos/{vid}"))
            .await
            .status(),
        404
    );
    assert_eq!(spent(&store_of(&h), id, 2).await, 0);
    h.shutdown().await;
}

#[tokio::test]
async fn the_one_api_routes_answer_in_their_shapes() {
    let db = TestSqlite::new();
    let h = relay(&db, |_| {}).await;
    let resp = h
        .post(
            "/v1/video/generations",
            &json!({"model": "kling-v1", "prompt": "a kite", "duration": 5}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["task_id"], id.as_str());
    finished(&h, TOKEN, &id).await;
    let t: Value = get_as(&h, TOKEN, &format!("/v1/video/generations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["code"], "success", "{t}");
    assert_eq!(t["data"]["status"], "SUCCESS", "{t}");
    assert_eq!(t["data"]["progress"], "100%", "{t}");
    assert!(t["data"]["result_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/videos/{id}/content")));
    let r: Value = get_as(
        &h,
        TOKEN,
        &format!("/v1/video/generations/result?taskid={id}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["task_status"], "succeed", "{r}");
    let missing = get_as(&h, TOKEN, "/v1/video/generations/video_nope").await;
    assert_eq!(missing.status(), 400);
    let m: Value = missing.json().await.unwrap();
    assert_eq!(m["code"], "task_not_exist");
    h.shutdown().await;
}

#[tokio::test]
async fn native_kling_and_runway_routes_keep_their_shapes_with_the_relays_ids() {
    let db = TestSqlite::new();
    let h = relay(&db, |_| {}).await;
    let resp = h
        .post(
            "/kling/v1/videos/text2video",
            &json!({"model_name": "kling-v1", "prompt": "a fox", "duration": "5"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 0, "{v}");
    let id = v["data"]["task_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("video_"), "{v}");
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let p: Value = get_as(&h, TOKEN, &format!("/kling/v1/videos/text2video/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if p["data"]["task_status"] == "succeed" {
            let url = p["data"]["task_result"]["videos"][0]["url"]
                .as_str()
                .unwrap();
            assert!(url.ends_with(&format!("/v1/videos/{id}/content")), "{p}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = h
        .post("/runway/v1/text_to_video", &json!({"model": "gen4_turbo", "promptText": "rain", "ratio": "1280:720", "duration": 5}))
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("video_"), "{v}");
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let p: Value = get_as(&h, TOKEN, &format!("/runway/v1/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if p["status"] == "SUCCEEDED" {
            assert!(
                p["output"][0].as_str().unwrap().ends_with("/content"),
                "{p}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn bad_creates_get_openai_words() {
    let db = TestSqlite::new();
    let h = relay(&db, |_| {}).await;
    let cases = [
        (
            json!({"model": "sora-2", "prompt": "x", "seconds": 8}),
            400,
            "got an integer instead",
        ),
        (json!({"model": "sora-2"}), 400, "'prompt'"),
        (json!({"prompt": "x"}), 400, "'model'"),
        (
            json!({"model": "no-such-video-model", "prompt": "x"}),
            404,
            "no-such-video-model",
        ),
        (
            json!({"model": "gpt-4o-mini", "prompt": "x"}),
            400,
            "gpt-4o-mini",
        ),
    ];
    for (body, status, words) in cases {
        let resp = h.post("/v1/videos", &body).await;
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let v: Value = resp.json().await.unwrap();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(words), "{body}: {v}");
    }
    let v: Value = h
        .post("/v1/videos", &json!({"model": "sora-2", "prompt": "ok"}))
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_str().unwrap();
    let early = get_as(&h, TOKEN, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(early.status(), 400, "content before completion");
    let variant = get_as(
        &h,
        TOKEN,
        &format!("/v1/videos/{id}/content?variant=poster"),
    )
    .await;
    assert_eq!(variant.status(), 400);
    h.shutdown().await;
}

/// A free loopback port for the relay to listen on (so its callback URL is known up front).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn kling_and_luma_callbacks_end_tasks_once_and_forged_ones_are_refused() {
    let db = TestSqlite::new();
    let port = free_port();
    let h = relay(&db, move |c| {
        c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        c.video.callback_base_url = Some(format!("http://127.0.0.1:{port}"));
        // Polls too rare to end a task within the test: the callbacks must.
        for kind in ["kling", "luma"] {
            c.video
                .poll_intervals
                .insert(kind.to_owned(), Duration::from_secs(600).into());
        }
        priced(c);
    })
    .await;
    let (tid, key) = token(&h, "called-back").await;
    let mut ids = Vec::new();
    for (model, prompt) in [
        ("kling-v1", "called back twice [sim:callback-dup]"),
        ("ray-2", "called back"),
        ("kling-v1", "fails, called back [sim:task-fail]"),
    ] {
        let v: Value = create_as(&h, &key, &json!({"model": model, "prompt": prompt}))
            .await
            .json()
            .await
            .unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(finished(&h, &key, &ids[0]).await["status"], "completed");
    assert_eq!(finished(&h, &key, &ids[1]).await["status"], "completed");
    assert_eq!(finished(&h, &key, &ids[2]).await["status"], "failed");
    let got = h.state.monitor.video().snapshot().callbacks_total;
    assert!(got >= 5, "callbacks received: {got}");
    // Duplicates or not, each task is settled once: 3 creates, the failed Kling task's refund,
    // and the completed Kling task's correction to the length Kling reports (Luma reports none).
    sluice_test_support::eventually(WITHIN, "every callback sent", || async {
        let v = h.sim.stats().video;
        v.values().map(|s| s.callbacks_sent).sum::<u64>() >= got
    })
    .await;
    let rows = spent(&store_of(&h), tid, 5).await;
    assert!(rows > 0, "the completed ones are charged");
    // A callback whose signature does not verify changes nothing.
    let forged = h
        .client
        .post(h.url(&format!(
            "/v1/video/callbacks/{}/{}",
            ids[0],
            "00".repeat(32)
        )))
        .json(&json!({"task_id": "x", "task_status": "failed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    h.shutdown().await;
}

#[tokio::test]
async fn a_video_is_priced_at_its_size_and_per_video() {
    let db = TestSqlite::new();
    let h = relay(&db, |c| {
        c.prices = toml::from_str::<PricesConfig>(
            "[[models]]\nmatch = [\"sora-2-pro\"]\nvideo_second = 0.3\nvideo_sizes = { \"1792x1024\" = 0.5 }\nvideo = 0.01\n",
        )
        .unwrap();
    })
    .await;
    let (id, key) = token(&h, "sized").await;
    let v: Value = create_as(
        &h,
        &key,
        &json!({"model": "sora-2-pro", "prompt": "wide", "seconds": "4", "size": "1792x1024"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        finished(&h, &key, v["id"].as_str().unwrap()).await["status"],
        "completed"
    );
    // 4 s at 0.50 (its size's price) and 0.01 for the video.
    assert_eq!(spent(&store_of(&h), id, 1).await, 2_010_000);
    h.shutdown().await;
}
