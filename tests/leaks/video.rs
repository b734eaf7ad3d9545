//! Video tasks: the poller's error paths (status errors with bodies, truncated and malformed
//! poll bodies, polls that never answer), tasks stuck until their deadline, and result
//! downloads cut or abandoned leave no task, connection, stream or fd behind, on every video
//! provider. The leak class the relay this project replaces had on its task-query paths.

use super::{warm, SETTLE};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_sim::Scenario;
use sluice_test_support::db::TestSqlite;
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{Harness, TOKEN};
use std::time::Duration;

/// One model per video provider in demo mode, and the route its tasks are polled on (the
/// simulator's label of it).
const POLLED: [(&str, &str, &str); 9] = [
    ("sora-2", "openai", "/v1/videos/{id}"),
    ("kling-v1", "kling", "/v1/videos/text2video/{id}"),
    ("gen4_turbo", "runway", "/v1/tasks/{id}"),
    ("ray-2", "luma", "/dream-machine/v1/generations/{id}"),
    ("cogvideox-3", "zhipu", "/api/paas/v4/async-result/{id}"),
    ("wan2.2-t2v-plus", "dashscope", "/api/v1/tasks/{id}"),
    ("viggle-v4", "viggle", "/api/render/{id}"),
    ("veo-3.0-generate-001", "gemini", "/v1beta/models/{model}/operations/{operation}"),
    (
        "veo-3.0-generate-001-vertex",
        "vertex",
        "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:fetchPredictOperation",
    ),
];

/// A task takes this long at most, faults and backoff included.
const TASK: Duration = Duration::from_secs(30);

/// A leak harness with a store and a fast poller (every provider polled every 100 ms, failed
/// polls backing off to at most 300 ms), warmed up on the text routes and one video per
/// provider, with the baseline taken after.
async fn warm_video(
    db: &TestSqlite,
    tweak: impl FnOnce(&mut sluice::Config) + 'static,
) -> (Harness, Baseline) {
    let store = db.config();
    let (h, _) = warm(move |c, _| {
        c.store = Some(store);
        c.video.poll_interval = Duration::from_millis(100);
        c.video.max_poll_interval = Duration::from_millis(300);
        for kind in sluice::config::ProviderKind::ALL {
            c.video
                .poll_intervals
                .insert(kind.as_str().to_owned(), Duration::from_millis(100).into());
        }
        tweak(c);
    })
    .await;
    let ids = create_all(&h, "warm-up").await;
    for (id, model) in &ids {
        let v = finished(&h, id).await;
        assert_eq!(v["status"], "completed", "warm-up {model}: {v}");
        let bytes = h
            .client
            .get(h.url(&format!("/v1/videos/{id}/content")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(bytes.len() > 16, "warm-up {model}");
    }
    // The store's read pool opens its connections (each with its files) as reads overlap:
    // all of them before the baseline.
    let lists = (0..16).map(|_| h.client.get(h.url("/v1/videos")).bearer_auth(TOKEN).send());
    for r in futures_util::future::join_all(lists).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

/// One task on each provider with `prompt`; (id, model) of each.
async fn create_all(h: &Harness, prompt: &str) -> Vec<(String, &'static str)> {
    let mut ids = Vec::new();
    for (model, _, _) in POLLED {
        let resp = h
            .post("/v1/videos", &json!({"model": model, "prompt": prompt}))
            .await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.unwrap();
        ids.push((v["id"].as_str().unwrap().to_owned(), model));
    }
    ids
}

/// The video once it has ended (read from the store through the relay).
async fn finished(h: &Harness, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + TASK;
    loop {
        let v: Value = h
            .client
            .get(h.url(&format!("/v1/videos/{id}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] != "queued" && v["status"] != "in_progress" {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} did not end: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rules giving each provider's poll route `fault` for its first `n` polls.
fn poll_faults(fault: &str, n: u32) -> Scenario {
    let mut text = String::new();
    for (_, provider, path) in POLLED {
        text.push_str(&format!(
            "[[rule]]\nprovider = \"{provider}\"\npath = \"{path}\"\nrequests = \"1..={n}\"\nfault = \"{fault}\"\n"
        ));
    }
    Scenario::parse(&text).unwrap()
}

async fn all_complete(h: &Harness, ids: &[(String, &str)]) {
    for (id, model) in ids {
        let v = finished(h, id).await;
        assert_eq!(v["status"], "completed", "{model}: {v}");
    }
}

#[test]
fn video_poll_error_bodies_do_not_leak_connections() {
    // Each provider's first three polls answer 429, 503 or 500 with the provider's error body:
    // read bounded, the connection reused or closed; the tasks complete once polls succeed.
    leak::run(|| async {
        let db = TestSqlite::new();
        let (h, base) = warm_video(&db, |_| {}).await;
        for status in [429u16, 503, 500] {
            h.sim.set_scenario(Some(poll_faults(
                &format!("status={status}, retry-after=0"),
                3,
            )));
            let ids = create_all(&h, "polled through errors").await;
            all_complete(&h, &ids).await;
            super::served(&h, &format!("status={status}"), 3 * POLLED.len() as u64);
        }
        h.sim.set_scenario(None);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn truncated_video_poll_bodies_do_not_leak_connections() {
    // Poll answers that promise their length and break off after 12 bytes, twice per provider.
    leak::run(|| async {
        let db = TestSqlite::new();
        let (h, base) = warm_video(&db, |_| {}).await;
        h.sim.set_scenario(Some(poll_faults("truncate=12", 2)));
        let ids = create_all(&h, "polled through cut bodies").await;
        all_complete(&h, &ids).await;
        super::served(&h, "truncate", 2 * POLLED.len() as u64);
        h.sim.set_scenario(None);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn video_polls_that_never_answer_end_at_their_deadline() {
    // Polls whose answer never comes: each ends at `video.poll_timeout`, its connection dropped.
    leak::run(|| async {
        let db = TestSqlite::new();
        let (h, base) =
            warm_video(&db, |c| c.video.poll_timeout = Duration::from_millis(300)).await;
        h.sim.set_scenario(Some(poll_faults("stall-headers", 2)));
        let ids = create_all(&h, "polled through stalls").await;
        all_complete(&h, &ids).await;
        super::served(&h, "stall-headers", 2 * POLLED.len() as u64);
        h.sim.set_scenario(None);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn malformed_polls_and_stuck_tasks_expire_without_leaking() {
    // Tasks whose polls answer non-JSON bodies, and tasks that never leave in_progress: polled
    // (backing off) until their deadline, then expired once, and nothing is left polling.
    leak::run(|| async {
        let db = TestSqlite::new();
        let (h, base) = warm_video(&db, |c| c.video.task_deadline = Duration::from_secs(6)).await;
        let mut ids = create_all(&h, "never readable [sim:poll-malformed]").await;
        ids.extend(create_all(&h, "never done [sim:task-stuck]").await);
        for (id, model) in &ids {
            let v = finished(&h, id).await;
            assert_eq!(v["status"], "failed", "{model}: {v}");
            assert_eq!(v["error"]["code"], "expired", "{model}: {v}");
        }
        let polls_then = h.sim.stats().requests_total;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            h.sim.stats().requests_total,
            polls_then,
            "expired tasks are not polled again"
        );
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn video_downloads_cut_or_abandoned_do_not_leak() {
    // Results whose download breaks off after 100 bytes (every provider with a download), and
    // clients that leave after the first chunk: the upstream body is dropped with the client's.
    leak::run(|| async {
        let db = TestSqlite::new();
        let (h, base) = warm_video(&db, |_| {}).await;
        let cut = create_all(&h, "cut download [sim:content-cut=100]").await;
        let whole = create_all(&h, "abandoned download").await;
        all_complete(&h, &cut).await;
        all_complete(&h, &whole).await;
        // Veo on Vertex AI has no download to cut: its bytes come inline in the operation.
        for (id, model) in cut.iter().filter(|(_, m)| !m.ends_with("-vertex")) {
            let resp = h
                .client
                .get(h.url(&format!("/v1/videos/{id}/content")))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            // Either the status says so, or the body breaks off: never a whole file.
            if resp.status() == 200 {
                let mut body = resp.bytes_stream();
                let mut got = 0;
                let mut broke = false;
                while let Some(c) = body.next().await {
                    match c {
                        Ok(c) => got += c.len(),
                        Err(_) => {
                            broke = true;
                            break;
                        }
                    }
                }
                assert!(broke || got <= 100, "{model}: {got} bytes, unbroken");
            }
        }
        for (id, _) in &whole {
            let resp = h
                .client
                .get(h.url(&format!("/v1/videos/{id}/content")))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let mut body = resp.bytes_stream();
            let _ = body.next().await;
            drop(body);
        }
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}
