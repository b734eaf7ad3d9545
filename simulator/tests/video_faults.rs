//! Video task faults in every provider's shape: tasks that fail, stick, expire, answer
//! malformed polls, results cut mid-download (task fault and the layer's `truncate`), status
//! faults and a full task book in the provider's envelope, faults chosen by marker, header
//! and scenario; callbacks (sent on each change, duplicated, delayed, never, failed); and
//! determinism (same seed: same ids, timings and bytes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::video::*;
use common::*;
use serde_json::{json, Value};
use sluice_sim::{Provider, Scenario, SimConfig, VideoConfig};

#[tokio::test]
async fn task_fail_ends_failed_in_each_providers_shape() {
    let sim = video_sim().await;
    for provider in VIDEO_PROVIDERS.into_iter().chain([Provider::Vertex]) {
        let v = Video::new(&sim, provider).await;
        let id = v.create("a cat [sim:task-fail]", None).await;
        let done = v.until_terminal(&id).await;
        assert_eq!(v.seen(&done), Seen::Failed, "{provider}: {done}");
        let reason = match provider {
            Provider::OpenAi => &done["error"]["message"],
            Provider::Kling => &done["data"]["task_status_msg"],
            Provider::Runway => &done["failureCode"],
            Provider::Luma => &done["failure_reason"],
            Provider::Zhipu => &done["task_status"],
            Provider::Dashscope => &done["output"]["code"],
            Provider::Viggle => &done["error_code"],
            Provider::Gemini => {
                &done["response"]["generateVideoResponse"]["raiMediaFilteredReasons"][0]
            }
            _ => &done["response"]["raiMediaFilteredReasons"][0],
        };
        assert!(
            reason.as_str().is_some_and(|r| !r.is_empty()),
            "{provider}: {done}"
        );
        if provider != Provider::Vertex {
            let r = v.download_req(&id, &done);
            assert!(r.is_none() || r.unwrap().send().await.unwrap().status().is_client_error());
        }
    }
    assert!(sim.stats().faults_of("task-fail") >= 9);
}

#[tokio::test]
async fn a_stuck_task_never_leaves_its_running_state() {
    let sim = video_sim().await;
    let mut tasks = Vec::new();
    for provider in [Provider::Kling, Provider::Runway, Provider::Gemini] {
        let v = Video::new(&sim, provider).await;
        let id = v.create("x [sim:task-stuck]", None).await;
        tasks.push((v, id));
    }
    // Ten times the tasks' whole queue and run time later, still not ended.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (v, id) in &tasks {
        let provider = v.provider;
        let p = v.poll(id).await;
        assert_eq!(v.seen(&p), Seen::Pending, "{provider}: {p}");
        match provider {
            Provider::Kling => assert_eq!(p["data"]["task_status"], "processing"),
            Provider::Runway => assert_eq!(p["status"], "RUNNING"),
            _ => assert_eq!(p["done"], false),
        }
    }
}

#[tokio::test]
async fn poll_malformed_answers_polls_that_are_not_json() {
    let sim = video_sim().await;
    for provider in VIDEO_PROVIDERS.into_iter().chain([Provider::Vertex]) {
        let v = Video::new(&sim, provider).await;
        let id = v.create("x", Some("poll-malformed")).await;
        let r = v.poll_req(&id).send().await.unwrap();
        assert_eq!(r.status(), 200, "{provider}");
        let body = r.bytes().await.unwrap();
        assert!(!body.is_empty());
        assert!(
            serde_json::from_slice::<Value>(&body).is_err(),
            "{provider}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[tokio::test]
async fn expired_results_answer_as_expired_links_do() {
    let sim = video_sim().await;
    for provider in VIDEO_PROVIDERS {
        let v = Video::new(&sim, provider).await;
        let id = v.create("x [sim:task-expire]", None).await;
        let done = v.until_terminal(&id).await;
        assert_eq!(v.seen(&done), Seen::Done, "{provider}");
        let r = v.download_req(&id, &done).unwrap().send().await.unwrap();
        let want = match provider {
            Provider::OpenAi => 404,
            _ => 403,
        };
        assert_eq!(r.status(), want, "{provider}");
        if provider == Provider::OpenAi {
            assert_eq!(done["expires_at"], done["completed_at"]);
        }
    }
}

#[tokio::test]
async fn content_cut_and_truncate_end_a_download_mid_file() {
    let sim = video_sim().await;
    for provider in [Provider::OpenAi, Provider::Kling, Provider::Gemini] {
        let v = Video::new(&sim, provider).await;
        let id = v.create("x [sim:content-cut=300]", None).await;
        let done = v.until_terminal(&id).await;
        let r = v.download_req(&id, &done).unwrap().send().await.unwrap();
        assert_eq!(r.status(), 200);
        let promised: usize = r.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let (bytes, broke) = read_all(r).await;
        assert!(broke, "{provider}: the download ended cleanly");
        assert_eq!(bytes.len(), 300, "{provider}");
        assert!(promised > 300);
        // The layer's own `truncate` applies to result downloads too.
        let id = v.create("x", None).await;
        let done = v.until_terminal(&id).await;
        let r = with_fault(v.download_req(&id, &done).unwrap(), "truncate=100")
            .send()
            .await
            .unwrap();
        let (bytes, broke) = read_all(r).await;
        assert!(
            broke && bytes.len() == 100,
            "{provider}: {} bytes",
            bytes.len()
        );
    }
    // A Range download with a cut: the cut counts from the range's first byte.
    let v = Video::new(&sim, Provider::Luma).await;
    let id = v.create("x [sim:content-cut=10]", None).await;
    let done = v.until_terminal(&id).await;
    let r = v
        .download_req(&id, &done)
        .unwrap()
        .header("range", "bytes=50-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let (bytes, broke) = read_all(r).await;
    assert!(broke && bytes.len() == 10);
}

#[tokio::test]
async fn status_faults_and_a_full_book_answer_in_each_providers_envelope() {
    let sim = video_sim_with(
        0,
        VideoConfig {
            capacity: 1,
            queue: Duration::from_secs(60),
            ..fast()
        },
    )
    .await;
    let check = |provider: Provider, v: &Value| match provider {
        Provider::OpenAi => assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}"),
        Provider::Kling => assert_eq!(v["code"], 1302, "{v}"),
        Provider::Runway => assert!(v["error"].is_string(), "{v}"),
        Provider::Luma => assert!(v["detail"].is_string(), "{v}"),
        Provider::Zhipu => assert_eq!(v["error"]["code"], "1302", "{v}"),
        Provider::Dashscope => assert_eq!(v["code"], "Throttling.RateQuota", "{v}"),
        Provider::Viggle => assert!(v["detail"]["error_code"].is_string(), "{v}"),
        _ => assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED", "{v}"),
    };
    for provider in VIDEO_PROVIDERS {
        let v = Video::new(&sim, provider).await;
        let e = expect(with_fault(v.create_req("x"), "status=429"), 429).await;
        check(provider, &e);
    }
    // The book holds one live task: the next create of any provider is refused with a 429.
    let first = Video::new(&sim, Provider::Kling).await;
    first.create("x", None).await;
    for provider in VIDEO_PROVIDERS {
        let v = Video::new(&sim, provider).await;
        let r = v.create_req("x").send().await.unwrap();
        assert_eq!(r.status(), 429, "{provider}");
        assert!(r.headers().get("retry-after").is_some() || provider == Provider::Gemini);
        check(provider, &r.json().await.unwrap());
    }
}

#[tokio::test]
async fn task_faults_come_from_header_scenario_and_directive_too() {
    let scenario = Scenario::parse(
        "[[rule]]\nprovider = \"kling\"\npath = \"/v1/videos/text2video\"\nfault = \"task-fail\"",
    )
    .unwrap();
    let sim = sluice_sim::start(SimConfig {
        video: fast(),
        scenario: Some(scenario),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let k = Video::new(&sim, Provider::Kling).await;
    let id = k.create("x", None).await;
    assert_eq!(k.seen(&k.until_terminal(&id).await), Seen::Failed);
    let r = Video::new(&sim, Provider::Runway).await;
    let id = r.create("x", Some("task-fail")).await;
    assert_eq!(r.seen(&r.until_terminal(&id).await), Seen::Failed);
    let id = r.create("x <<sim:task-fail>>", None).await;
    assert_eq!(r.seen(&r.until_terminal(&id).await), Seen::Failed);
    let id = r.create("x", None).await;
    assert_eq!(r.seen(&r.until_terminal(&id).await), Seen::Done);
    let e = expect(r.create_req("x [sim:bogus]"), 400).await;
    assert!(e["error"].as_str().unwrap().contains("bogus"), "{e}");
}

#[tokio::test]
async fn the_video_fixture_scenario_spreads_task_faults_over_creates() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/scenarios/video-tasks.toml"
    );
    let scenario = Scenario::from_file(std::path::Path::new(path)).unwrap();
    let sim = sluice_sim::start(SimConfig {
        video: fast(),
        scenario: Some(scenario),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let v = Video::new(&sim, Provider::Zhipu).await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(v.create("x", None).await);
    }
    let faults = sim.stats().faults_total();
    assert!(faults > 0 && faults < 40, "{:?}", sim.stats().faults);
}

#[tokio::test]
async fn kling_and_luma_call_back_on_each_change_of_state() {
    let sim = video_sim().await;
    let rx = Receiver::start().await;
    let k = Video::new(&sim, Provider::Kling).await;
    let body = json!({"model_name": "kling-v1", "prompt": "x", "callback_url": rx.url});
    let c = expect(
        k.auth(client().post(k.url("/v1/videos/text2video")))
            .json(&body),
        200,
    )
    .await;
    let id = c["data"]["task_id"].as_str().unwrap().to_owned();
    let got = rx.wait_for(2).await;
    let states: Vec<&str> = got
        .iter()
        .map(|b| b["task_status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["processing", "succeed"]);
    assert!(got.iter().all(|b| b["task_id"] == id.as_str()));
    assert!(got[1]["task_result"]["videos"][0]["url"].is_string());

    let l = Video::new(&sim, Provider::Luma).await;
    let body = json!({"prompt": "x", "callback_url": rx.url});
    expect(
        l.auth(client().post(l.url("/dream-machine/v1/generations")))
            .json(&body),
        201,
    )
    .await;
    let got = rx.wait_for(4).await;
    let states: Vec<&str> = got[2..]
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["dreaming", "completed"]);
    assert_eq!(got[3]["generation_type"], "video");
    let s = sim.stats();
    assert_eq!(
        s.video_of(Provider::Kling).callbacks_sent + s.video_of(Provider::Luma).callbacks_sent,
        4
    );
}

#[tokio::test]
async fn callback_faults_duplicate_delay_or_withhold_them() {
    let sim = video_sim().await;
    let k = Video::new(&sim, Provider::Kling).await;
    let create = |prompt: &str, url: &str| {
        k.auth(client().post(k.url("/v1/videos/text2video")))
            .json(&json!({"model_name": "kling-v1", "prompt": prompt, "callback_url": url}))
    };
    let dup = Receiver::start().await;
    expect(create("x [sim:callback-dup]", &dup.url), 200).await;
    let got = dup.wait_for(4).await;
    let mut states: Vec<&str> = got
        .iter()
        .map(|b| b["task_status"].as_str().unwrap())
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["processing", "processing", "succeed", "succeed"]);

    let late = Receiver::start().await;
    let c = expect(create("x [sim:callback-delay=400ms]", &late.url), 200).await;
    let id = c["data"]["task_id"].as_str().unwrap().to_owned();
    let first = late.wait_for(1).await;
    // The first callback tells of the running state, but by the time it came the task had
    // already ended (it is sent late).
    assert_eq!(first[0]["task_status"], "processing");
    assert_eq!(k.poll(&id).await["data"]["task_status"], "succeed");

    let never = Receiver::start().await;
    let c = expect(create("x [sim:callback-never]", &never.url), 200).await;
    let id = c["data"]["task_id"].as_str().unwrap().to_owned();
    k.until_terminal(&id).await;
    // The control task, created after, calls back twice; the withheld one never does.
    let control = Receiver::start().await;
    let c = expect(create("x", &control.url), 200).await;
    let cid = c["data"]["task_id"].as_str().unwrap().to_owned();
    k.until_terminal(&cid).await;
    control.wait_for(2).await;
    assert!(never.got().is_empty());
    assert!(sim.stats().faults_of("callback-never") == 1);
}

#[tokio::test]
async fn a_callback_nobody_takes_is_dropped_and_counted() {
    let sim = video_sim().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let l = Video::new(&sim, Provider::Luma).await;
    for url in [
        format!("http://{closed}/cb"),
        "http://example.com/cb".to_owned(),
    ] {
        let body = json!({"prompt": "x", "callback_url": url});
        let g = expect(
            l.auth(client().post(l.url("/dream-machine/v1/generations")))
                .json(&body),
            201,
        )
        .await;
        l.until_terminal(g["id"].as_str().unwrap()).await;
    }
    let failed = eventually(Duration::from_secs(5), || {
        sim.stats().video_of(Provider::Luma).callbacks_failed == 4
    })
    .await;
    assert!(failed, "{:?}", sim.stats().video_of(Provider::Luma));
    assert_eq!(sim.stats().video_of(Provider::Luma).callbacks_sent, 0);
}

#[tokio::test]
async fn same_seed_same_ids_timings_and_bytes() {
    let run = |seed: u64| async move {
        let sim = video_sim_with(seed, fast()).await;
        let mut out = Vec::new();
        for provider in VIDEO_PROVIDERS {
            let v = Video::new(&sim, provider).await;
            let id = v.create("x", None).await;
            let upstream = id.rsplit('/').next().unwrap().to_owned();
            out.push((id, sim.video_timings(&upstream).unwrap()));
        }
        let v = Video::new(&sim, Provider::Kling).await;
        let id = out[1].0.clone();
        let done = v.until_terminal(&id).await;
        let bytes = v
            .download_req(&id, &done)
            .unwrap()
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        (out, bytes)
    };
    let (a, bytes_a) = run(42).await;
    let (b, bytes_b) = run(42).await;
    let (c, _) = run(43).await;
    assert_eq!(a, b);
    assert_eq!(bytes_a, bytes_b);
    assert_ne!(a, c);
    let (queue, run_time) = a[0].1;
    assert!(
        queue >= Duration::from_millis(15) && queue <= Duration::from_millis(25),
        "{queue:?}"
    );
    assert!(run_time >= Duration::from_millis(60) && run_time <= Duration::from_millis(100));
    // `[sim:run=DUR]` sets one task's run time exactly.
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::Runway).await;
    let id = v.create("x [sim:run=1234ms]", None).await;
    assert_eq!(
        sim.video_timings(&id).unwrap().1,
        Duration::from_millis(1234)
    );
}
