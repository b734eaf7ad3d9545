//! Video tasks as each provider's clients see them: create, poll until terminal, download
//! the result, in every provider's own paths, auth, status words and shapes; Sora's whole
//! surface (multipart, validation, list, remix, delete, variants, Range); Kling's JWT codes;
//! Runway's version header and cancel; DashScope's async header; Veo on both Google APIs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::media::{httpx_form, png_file, Part};
use common::video::*;
use common::*;
use serde_json::{json, Value};
use sluice_sim::Provider;

/// Downloads a finished task's video and checks it is an MP4 of `seconds`.
async fn check_download(v: &Video<'_>, id: &str, body: &Value, seconds: u32) -> Vec<u8> {
    let r = v
        .download_req(id, body)
        .expect("a result URL")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", v.provider);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(mp4_seconds(&bytes), seconds, "{}", v.provider);
    bytes
}

#[tokio::test]
async fn every_provider_creates_polls_and_serves_a_valid_mp4() {
    let sim = video_sim().await;
    let seconds = |p: Provider| match p {
        Provider::OpenAi => 4,
        Provider::Gemini => 6,
        _ => 5,
    };
    for provider in VIDEO_PROVIDERS {
        let v = Video::new(&sim, provider).await;
        let id = v.create("a cat surfing", None).await;
        let done = v.until_terminal(&id).await;
        assert_eq!(v.seen(&done), Seen::Done, "{provider}: {done}");
        check_download(&v, &id, &done, seconds(provider)).await;
        let s = sim.stats().video_of(provider);
        assert_eq!((s.tasks_created, s.content_downloads), (1, 1), "{provider}");
        assert!(s.polls >= 1);
    }
    let v = Video::new(&sim, Provider::Vertex).await;
    let name = v.create("a cat", None).await;
    assert!(name.starts_with(
        "projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/"
    ));
    let done = v.until_terminal(&name).await;
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
    );
    let video = &done["response"]["videos"][0];
    assert_eq!(video["mimeType"], "video/mp4");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(video["bytesBase64Encoded"].as_str().unwrap())
        .unwrap();
    assert_eq!(mp4_seconds(&bytes), 6);
}

#[tokio::test]
async fn sora_video_objects_poll_hints_variants_and_ranges() {
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::OpenAi).await;
    let body =
        json!({"prompt": "a fox", "model": "sora-2-pro", "seconds": "8", "size": "1280x720"});
    let created = expect(v.auth(client().post(v.url("/videos"))).json(&body), 200).await;
    for key in [
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "prompt",
        "size",
        "seconds",
        "remixed_from_video_id",
        "error",
    ] {
        assert!(created.get(key).is_some(), "{key} in {created}");
    }
    assert_eq!(
        (created["object"].as_str(), created["status"].as_str()),
        (Some("video"), Some("queued"))
    );
    assert_eq!(
        (created["progress"].as_u64(), created["seconds"].as_str()),
        (Some(0), Some("8"))
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("video_"));
    let r = v.poll_req(&id).send().await.unwrap();
    let hint: u64 = r.headers()["openai-poll-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(hint >= 20);
    let done = v.until_terminal(&id).await;
    assert_eq!(
        (done["status"].as_str(), done["progress"].as_u64()),
        (Some("completed"), Some(100))
    );
    assert!(done["completed_at"].as_u64().unwrap() >= done["created_at"].as_u64().unwrap());
    assert!(done["expires_at"].as_u64().unwrap() > done["completed_at"].as_u64().unwrap());
    let r = v.poll_req(&id).send().await.unwrap();
    assert!(r.headers().get("openai-poll-after-ms").is_none());

    let content = |q: &str| v.auth(client().get(v.url(&format!("/videos/{id}/content{q}"))));
    let whole = content("").send().await.unwrap().bytes().await.unwrap();
    assert_eq!(mp4_seconds(&whole), 8);
    let r = content("?variant=video")
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{}", whole.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), whole.slice(0..100));
    let r = content("")
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), whole.slice(100..));
    let r = content("")
        .header("range", format!("bytes={}-", whole.len() + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let r = content("?variant=thumbnail").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/webp");
    let b = r.bytes().await.unwrap();
    assert_eq!((&b[..4], &b[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
    let r = content("?variant=spritesheet").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(&r.bytes().await.unwrap()[..2], &[0xff, 0xd8]);
    let e = expect(content("?variant=poster"), 400).await;
    assert_eq!(e["error"]["param"], "variant");
    let e = expect(client().get(v.url(&format!("/videos/{id}/content"))), 401).await;
    assert_eq!(e["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn sora_validates_in_openais_words() {
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::OpenAi).await;
    let create = |body: Value| v.auth(client().post(v.url("/videos"))).json(&body);
    let e = expect(create(json!({"prompt": "x", "seconds": 8})), 400).await;
    assert_eq!(
        e["error"]["message"],
        "Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer instead."
    );
    assert_eq!(e["error"]["param"], "seconds");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let e = expect(create(json!({"prompt": "x", "seconds": "5"})), 400).await;
    assert_eq!(e["error"]["code"], "invalid_value");
    let e = expect(create(json!({"model": "sora-2"})), 400).await;
    assert_eq!(e["error"]["param"], "prompt");
    let e = expect(create(json!({"prompt": "x", "size": "640x480"})), 400).await;
    assert_eq!(e["error"]["param"], "size");
    let e = expect(create(json!({"prompt": "x", "model": "gpt-4o"})), 400).await;
    assert_eq!(e["error"]["param"], "model");
    let e = expect(
        client()
            .post(v.url("/videos"))
            .bearer_auth("nope")
            .json(&json!({"prompt": "x"})),
        401,
    )
    .await;
    assert_eq!(e["error"]["code"], "invalid_api_key");
    // Multipart, as the SDKs send it, with an input reference file.
    let png = png_file(16, 16);
    let (ct, body) = httpx_form(&[
        Part::Text("prompt", "a fox"),
        Part::Text("model", "sora-2"),
        Part::Text("seconds", "12"),
        Part::File("input_reference", "ref.png", "image/png", &png),
    ]);
    let created = expect(
        v.auth(client().post(v.url("/videos")))
            .header("content-type", ct)
            .body(body),
        200,
    )
    .await;
    assert_eq!(created["seconds"], "12");
    assert_eq!(sim.stats().uploads_to(Provider::OpenAi, "/v1/videos"), 1);
}

#[tokio::test]
async fn sora_lists_pages_remixes_and_deletes() {
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::OpenAi).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(v.create(&format!("clip {i}"), None).await);
    }
    let list = |q: &str| expect(v.auth(client().get(v.url(&format!("/videos{q}")))), 200);
    let page = list("?limit=2").await;
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        (page["first_id"].as_str(), page["has_more"].as_bool()),
        (Some(ids[2].as_str()), Some(true))
    );
    let next = list(&format!(
        "?limit=2&after={}",
        page["last_id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(next["data"][0]["id"], ids[0].as_str());
    assert_eq!(next["has_more"], false);
    let asc = list("?order=asc&limit=1").await;
    assert_eq!(asc["data"][0]["id"], ids[0].as_str());
    expect(v.auth(client().get(v.url("/videos?limit=101"))), 400).await;

    let remix = |id: &str| {
        v.auth(client().post(v.url(&format!("/videos/{id}/remix"))))
            .json(&json!({"prompt": "now in the rain"}))
    };
    v.until_terminal(&ids[0]).await;
    let r = expect(remix(&ids[0]), 200).await;
    assert_eq!(r["remixed_from_video_id"], ids[0].as_str());
    assert_eq!(r["prompt"], "now in the rain");
    assert_ne!(r["id"], ids[0].as_str());
    let e = expect(remix("video_missing"), 404).await;
    assert_eq!(e["error"]["code"], "video_not_found");

    let del = expect(
        v.auth(client().delete(v.url(&format!("/videos/{}", ids[1])))),
        200,
    )
    .await;
    assert_eq!(
        del,
        json!({"id": ids[1], "object": "video.deleted", "deleted": true})
    );
    let e = expect(v.poll_req(&ids[1]), 404).await;
    assert_eq!(e["error"]["code"], "video_not_found");
    assert_eq!(sim.stats().video_of(Provider::OpenAi).tasks_created, 4);
}

#[tokio::test]
async fn kling_envelopes_routes_and_jwt_codes() {
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::Kling).await;
    let created = expect(v.create_req("a dog"), 200).await;
    assert_eq!(
        (created["code"].as_u64(), created["message"].as_str()),
        (Some(0), Some("SUCCEED"))
    );
    assert_eq!(created["data"]["task_status"], "submitted");
    let id = created["data"]["task_id"].as_str().unwrap().to_owned();
    assert!(
        id.len() >= 18 && id.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    let done = v.until_terminal(&id).await;
    let d = &done["data"];
    assert_eq!(d["task_status"], "succeed");
    assert!(d["updated_at"].as_u64().unwrap() > d["created_at"].as_u64().unwrap());
    assert_eq!(d["task_result"]["videos"][0]["duration"], "5");
    let url = d["task_result"]["videos"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/kling/sim-files/video-", sim.addr())),
        "{url}"
    );
    // A task is found only under the route that made it.
    let e = expect(
        v.auth(client().get(v.url(&format!("/v1/videos/image2video/{id}")))),
        404,
    )
    .await;
    assert_eq!(e["code"], 1203);
    let e = expect(
        v.auth(client().post(v.url("/v1/videos/image2video")))
            .json(&json!({"model_name": "kling-v1"})),
        400,
    )
    .await;
    assert_eq!(e["code"], 1201);
    let i2v = expect(
        v.auth(client().post(v.url("/v1/videos/image2video")))
            .json(&json!({"model_name": "kling-v2-master", "image": "https://example.com/a.png", "duration": "10"})),
        200,
    )
    .await;
    let i2v_id = i2v["data"]["task_id"].as_str().unwrap();
    expect(
        v.auth(client().get(v.url(&format!("/v1/videos/image2video/{i2v_id}")))),
        200,
    )
    .await;

    let with_jwt = |jwt: String| {
        client()
            .get(v.url(&format!("/v1/videos/text2video/{id}")))
            .bearer_auth(jwt)
    };
    for (jwt, code) in [
        (kling_jwt("ak-sim", "sk-wrong", 1800, -5), 1002),
        (kling_jwt("ak-sim", "sk-sim", -10, -100), 1004),
        (kling_jwt("ak-sim", "sk-sim", 1800, 600), 1003),
        ("not.a.jwt".to_owned(), 1002),
    ] {
        let e = expect(with_jwt(jwt), 401).await;
        assert_eq!(e["code"], code, "{e}");
        assert!(e["request_id"].is_string());
    }
    let e = expect(
        client().get(v.url(&format!("/v1/videos/text2video/{id}"))),
        401,
    )
    .await;
    assert_eq!(e["code"], 1001);
    expect(with_jwt(kling_jwt("ak-other", "sk-other", 1800, -5)), 200).await;
}

#[tokio::test]
async fn runway_needs_its_version_and_cancels_live_tasks() {
    let sim = sluice_sim::start(sluice_sim::SimConfig {
        video: sluice_sim::VideoConfig {
            queue: std::time::Duration::from_secs(30),
            ..fast()
        },
        ..sluice_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let v = Video::new(&sim, Provider::Runway).await;
    let body = json!({"model": "gen4_turbo", "promptText": "x", "promptImage": "https://e/a.png"});
    let e = expect(
        client()
            .post(v.url("/v1/image_to_video"))
            .bearer_auth(RUNWAY_KEY)
            .json(&body),
        400,
    )
    .await;
    assert!(
        e["error"].as_str().unwrap().contains("X-Runway-Version"),
        "{e}"
    );
    let e = expect(
        client()
            .post(v.url("/v1/image_to_video"))
            .bearer_auth(RUNWAY_KEY)
            .header("x-runway-version", "2023-01-01")
            .json(&body),
        400,
    )
    .await;
    assert!(e["error"].is_string());
    let e = expect(
        v.auth(client().post(v.url("/v1/text_to_video")))
            .json(&json!({"model": "gen4_turbo"})),
        400,
    )
    .await;
    assert!(e["error"].as_str().unwrap().contains("promptText"));
    let id = v.create("x", None).await;
    let p = v.poll(&id).await;
    assert_eq!(p["status"], "PENDING");
    assert!(p.get("progress").is_none() && p.get("output").is_none());
    assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));
    let r = v
        .auth(client().delete(v.url(&format!("/v1/tasks/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(v.poll(&id).await["status"], "CANCELLED");
    let r = v
        .auth(client().delete(v.url(&format!("/v1/tasks/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = expect(v.poll_req(&id), 404).await;
    assert!(e["error"].is_string());
}

#[tokio::test]
async fn runway_progress_is_a_fraction_while_running() {
    let sim = video_sim_with(
        0,
        sluice_sim::VideoConfig {
            queue: std::time::Duration::ZERO,
            run: std::time::Duration::from_secs(30),
            jitter: false,
            ..fast()
        },
    )
    .await;
    let v = Video::new(&sim, Provider::Runway).await;
    let id = v.create("x", None).await;
    let p = v.poll(&id).await;
    assert_eq!(p["status"], "RUNNING");
    let progress = p["progress"].as_f64().unwrap();
    assert!(progress > 0.0 && progress < 1.0, "{p}");
}

#[tokio::test]
async fn luma_answers_201_generations_and_deletes() {
    let sim = video_sim().await;
    let v = Video::new(&sim, Provider::Luma).await;
    let g = expect(v.create_req("a boat"), 201).await;
    assert_eq!(
        (g["generation_type"].as_str(), g["state"].as_str()),
        (Some("video"), Some("queued"))
    );
    assert!(g["assets"].is_null());
    assert_eq!(g["request"]["prompt"], "a boat");
    let id = g["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let done = v.until_terminal(&id).await;
    assert_eq!(done["state"], "completed");
    let cover = done["assets"]["image"].as_str().unwrap();
    let r = client().get(cover).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let r = v
        .auth(client().delete(v.url(&format!("/dream-machine/v1/generations/{id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = expect(v.poll_req(&id), 404).await;
    assert!(e["detail"].is_string());
    let e = expect(
        client().get(v.url(&format!("/dream-machine/v1/generations/{id}"))),
        401,
    )
    .await;
    assert!(e["detail"].is_string());
    let e = expect(
        v.auth(client().post(v.url("/dream-machine/v1/generations/video")))
            .json(&json!({"prompt": "x", "duration": "7s"})),
        400,
    )
    .await;
    assert!(e["detail"].as_str().unwrap().contains("duration"));
}

#[tokio::test]
async fn zhipu_dashscope_and_viggle_speak_their_own_words() {
    let sim = video_sim().await;
    // Zhipu: `id.secret` keys, PROCESSING then SUCCESS with a cover image.
    let z = Video::new(&sim, Provider::Zhipu).await;
    let c = expect(z.create_req("x"), 200).await;
    assert_eq!(
        (c["task_status"].as_str(), c["model"].as_str()),
        (Some("PROCESSING"), Some("cogvideox-3"))
    );
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(z.poll(&id).await["task_status"], "PROCESSING");
    let done = z.until_terminal(&id).await;
    assert!(done["video_result"][0]["cover_image_url"]
        .as_str()
        .unwrap()
        .ends_with(".jpg"));
    let e = expect(
        client()
            .get(z.url(&format!("/api/paas/v4/async-result/{id}")))
            .bearer_auth("nodot"),
        401,
    )
    .await;
    assert_eq!(e["error"]["code"], "1002");
    let e = expect(
        z.auth(client().post(z.url("/api/paas/v4/videos/generations")))
            .json(&json!({"model": "glm-4", "prompt": "x"})),
        400,
    )
    .await;
    assert_eq!(e["error"]["code"], "1211");

    // DashScope: the async header, PENDING, usage, UNKNOWN for an unknown id.
    let d = Video::new(&sim, Provider::Dashscope).await;
    let body = json!({"model": "wan2.2-t2v-plus", "input": {"prompt": "x"}});
    let url = d.url("/api/v1/services/aigc/video-generation/video-synthesis");
    let e = expect(
        client().post(&url).bearer_auth(DASHSCOPE_KEY).json(&body),
        403,
    )
    .await;
    assert_eq!(e["code"], "AccessDenied");
    assert_eq!(
        e["message"],
        "current user api does not support synchronous calls"
    );
    assert!(e["request_id"].is_string());
    let e = expect(
        client()
            .post(&url)
            .bearer_auth("bad")
            .header("x-dashscope-async", "enable")
            .json(&body),
        401,
    )
    .await;
    assert_eq!(e["code"], "InvalidApiKey");
    let c = expect(d.create_req("x"), 200).await;
    assert_eq!(c["output"]["task_status"], "PENDING");
    let id = c["output"]["task_id"].as_str().unwrap().to_owned();
    let done = d.until_terminal(&id).await;
    assert_eq!(done["usage"], json!({"duration": 5, "video_count": 1}));
    for key in ["submit_time", "scheduled_time", "end_time", "video_url"] {
        assert!(done["output"][key].is_string(), "{key}: {done}");
    }
    let unknown = d.poll("0000").await;
    assert_eq!(unknown["output"]["task_status"], "UNKNOWN");

    // Viggle: job ids, polls without auth, the model-only shortcut, its error shape.
    let g = Video::new(&sim, Provider::Viggle).await;
    let id = g.create("x", None).await;
    assert!(id.starts_with("job_"));
    let p = expect(client().get(g.url(&format!("/api/render/{id}"))), 200).await;
    assert!(p["progress_pct"].is_u64());
    let done = g.until_terminal(&id).await;
    assert_eq!(
        (done["status"].as_str(), done["progress_pct"].as_u64()),
        (Some("complete"), Some(100))
    );
    assert!(done["completed_at"].is_string());
    let (ct, body) = httpx_form(&[Part::Text("background_mode", "solid")]);
    let e = expect(
        g.auth(client().post(g.url("/api/render")))
            .header("content-type", ct)
            .body(body),
        400,
    )
    .await;
    assert_eq!(e["detail"]["error_code"], "CS-ORIV-001");
    assert!(e["detail"]["action"].is_string());
    let (ct, body) = httpx_form(&[Part::Text("model", "V3_Preview")]);
    expect(
        g.auth(client().post(g.url("/api/render")))
            .header("content-type", ct)
            .body(body),
        200,
    )
    .await;
}

#[tokio::test]
async fn veo_on_the_gemini_api_needs_the_key_for_its_file_and_on_vertex_writes_to_gcs() {
    let sim = video_sim().await;
    let g = Video::new(&sim, Provider::Gemini).await;
    let name = g.create("a cat", None).await;
    assert!(
        name.starts_with("models/veo-3.0-generate-001/operations/"),
        "{name}"
    );
    let first = g.poll(&name).await;
    assert_eq!(first["name"], name.as_str());
    let done = g.until_terminal(&name).await;
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    );
    let uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        .as_str()
        .unwrap();
    assert!(uri.ends_with(":download?alt=media"), "{uri}");
    assert_eq!(client().get(uri).send().await.unwrap().status(), 403);
    let e = expect(
        client()
            .post(g.url("/v1beta/models/gemini-2.5-flash:predictLongRunning"))
            .header("x-goog-api-key", GEMINI_KEY)
            .json(&json!({})),
        404,
    )
    .await;
    assert_eq!(e["error"]["status"], "NOT_FOUND");

    let v = Video::new(&sim, Provider::Vertex).await;
    let body =
        json!({"instances": [{"prompt": "x"}], "parameters": {"storageUri": "gs://bucket/out/"}});
    let url = v.url("/v1/projects/p1/locations/us-central1/publishers/google/models/veo-3.0-generate-001:predictLongRunning");
    let op = expect(v.auth(client().post(&url)).json(&body), 200).await;
    let name = op["name"].as_str().unwrap().to_owned();
    let done = v.until_terminal(&name).await;
    let uri = done["response"]["videos"][0]["gcsUri"].as_str().unwrap();
    let op_id = name.rsplit('/').next().unwrap();
    assert_eq!(uri, format!("gs://bucket/out/{op_id}/sample_0.mp4"));
    assert!(done["response"]["videos"][0]
        .get("bytesBase64Encoded")
        .is_none());
    expect(client().post(&url).json(&body), 401).await;
}
