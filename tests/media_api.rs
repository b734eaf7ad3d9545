//! End to end through the simulator: OpenAI's JSON-bodied media endpoints relayed as their
//! upstream answers them (image generations, whole and streamed; speech as audio and as
//! events; moderations), their model mapping, their upstream errors in OpenAI's shape, streams
//! and audio cut mid-answer, and the `[media]` first-byte deadline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use base64::Engine;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_sim::{Provider, Scenario};
use sluice_test_support::{
    access_log, direct_url, openai_channel, read_sse, request_id, Harness, ROUTED_MODEL,
};
use std::time::Duration;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn speech(format: &str, input: &str) -> Value {
    json!({"model": "gpt-4o-mini-tts", "input": input, "voice": "alloy",
        "response_format": format})
}

/// A relay whose OpenAI channel `mapped` serves [`ROUTED_MODEL`] as `upstream`, besides the
/// demo channels.
async fn mapped(upstream: &'static str) -> Harness {
    Harness::builder()
        .config(move |c, sim| {
            c.channels
                .insert(0, openai_channel(sim, "mapped", upstream))
        })
        .start()
        .await
}

#[tokio::test]
async fn dall_e_3_answers_a_url_the_client_can_fetch() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "dall-e-3", "prompt": "a red fox in snow", "size": "1024x1024"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    let item = &v["data"][0];
    assert!(item["revised_prompt"].is_string(), "{v}");
    let url = item["url"].as_str().unwrap();
    let png = h
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(png.starts_with(PNG_MAGIC), "{url}");
    h.shutdown().await;
}

#[tokio::test]
async fn dall_e_2_answers_b64_json_pngs() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "dall-e-2", "prompt": "a lighthouse", "n": 2,
                "size": "256x256", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{v}");
    for item in data {
        assert!(b64(item["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn gpt_image_1_answers_with_its_token_usage_recorded() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "gpt-image-1", "prompt": "a quiet harbour at dawn"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    assert!(b64(v["data"][0]["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    let u = &v["usage"];
    let (input, output) = (
        u["input_tokens"].as_u64().unwrap(),
        u["output_tokens"].as_u64(),
    );
    assert!(input > 0 && output.unwrap() > 0, "{v}");
    let record = access_log::take(&id).await;
    assert_eq!(record.outcome, "ok");
    assert!(record.usage_known, "{record:?}");
    assert_eq!(record.tokens_in, input, "{record:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn image_streams_pass_partial_images_through_to_the_completed_event() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "gpt-image-1", "prompt": "a kite", "stream": true,
                "partial_images": 2}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let id = request_id(&resp);
    let (events, _) = read_sse(resp).await;
    let types: Vec<String> = events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.event.as_deref(), v["type"].as_str(), "event names kept");
            v["type"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed"
        ]
    );
    let last: Value = serde_json::from_str(&events[2].data).unwrap();
    assert!(b64(last["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    assert!(
        last["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{last}"
    );
    let record = access_log::take(&id).await;
    assert_eq!(record.outcome, "ok", "{record:?}");
    assert!(record.usage_known, "{record:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn an_image_stream_cut_before_completed_ends_with_an_error_event() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "gpt-image-1", "prompt": "a kite <<sim:cut-before-completed>>",
                "stream": true, "partial_images": 2}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let (events, _) = read_sse(resp).await;
    assert!(
        !events
            .iter()
            .any(|e| e.data.contains("image_generation.completed")),
        "{events:?}"
    );
    let last = events.last().unwrap();
    let v: Value = serde_json::from_str(&last.data).unwrap();
    assert!(v["error"]["message"].is_string(), "{events:?}");
    assert_eq!(h.sim.stats().faults_of("cut-before-completed"), 1);
    let record = access_log::take(&id).await;
    assert_ne!(record.outcome, "ok", "{record:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn xai_grok_2_image_answers_through_its_channel() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": "grok-2-image", "prompt": "a comet", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    assert!(b64(v["data"][0]["b64_json"].as_str().unwrap()).starts_with(PNG_MAGIC));
    assert_eq!(
        h.sim
            .stats()
            .requests_to(Provider::Xai, "/v1/images/generations"),
        1
    );
    assert_eq!(access_log::take(&id).await.outcome, "ok");
    h.shutdown().await;
}

/// The audio of `body` asked of the simulator directly.
async fn direct_speech(h: &Harness, body: &Value) -> (String, Vec<u8>) {
    let resp = h
        .client
        .post(direct_url(&h.sim, Provider::OpenAi, "/audio/speech"))
        .bearer_auth("sk-direct-test-key")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn speech_in_every_format_is_the_upstreams_audio_byte_for_byte() {
    let h = Harness::start().await;
    let input = "The relay passes audio through as it is spoken, chunk by chunk, untouched.";
    for format in ["mp3", "opus", "aac", "flac", "wav", "pcm"] {
        let body = speech(format, input);
        let resp = h.post("/v1/audio/speech", &body).await;
        assert_eq!(resp.status(), 200, "{format}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        let id = request_id(&resp);
        let relayed = resp.bytes().await.unwrap();
        let (direct_ct, direct) = direct_speech(&h, &body).await;
        assert_eq!(ct, direct_ct, "{format}: content-type passed through");
        assert_eq!(relayed.len(), direct.len(), "{format}");
        assert!(
            relayed == direct,
            "{format}: the same bytes as a direct call"
        );
        match format {
            "wav" => assert!(relayed.starts_with(b"RIFF") && &relayed[8..12] == b"WAVE"),
            "mp3" => assert!(
                relayed.starts_with(b"ID3") || relayed[0] == 0xff,
                "{format}"
            ),
            _ => assert!(!relayed.is_empty()),
        }
        let record = access_log::take(&id).await;
        assert_eq!(record.outcome, "ok", "{format}: {record:?}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn speech_as_events_passes_deltas_to_the_done_event() {
    let h = Harness::start().await;
    let mut body = speech(
        "mp3",
        "Events of speech, each a piece of the audio in base64.",
    );
    body["stream_format"] = json!("sse");
    let resp = h.post("/v1/audio/speech", &body).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let (events, _) = read_sse(resp).await;
    let (last, deltas) = events.split_last().unwrap();
    let mut audio = Vec::new();
    for e in deltas {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(v["type"], "speech.audio.delta", "{v}");
        audio.extend(b64(v["audio"].as_str().unwrap()));
    }
    let done: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(done["type"], "speech.audio.done", "{done}");
    body.as_object_mut().unwrap().remove("stream_format");
    let (_, direct) = direct_speech(&h, &body).await;
    assert!(audio == direct, "the deltas are the audio");
    let record = access_log::take(&id).await;
    assert_eq!(record.outcome, "ok", "{record:?}");
    assert_eq!(
        record.tokens_out,
        done["usage"]["output_tokens"].as_u64().unwrap()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn speech_cut_mid_body_reaches_the_client_incomplete_and_is_recorded_failed() {
    let h = Harness::start().await;
    // A long WAV (over 8 chunks): its length is promised, the connection closes after 20000.
    let input = format!("{} <<sim:truncate=20000>>", "long speech ".repeat(30));
    let resp = h.post("/v1/audio/speech", &speech("wav", &input)).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let mut body = resp.bytes_stream();
    let mut got = 0usize;
    let mut ended = "clean";
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), body.next())
        .await
        .expect("the body ends")
    {
        match chunk {
            Ok(c) => got += c.len(),
            Err(_) => {
                ended = "error";
                break;
            }
        }
    }
    assert_eq!(
        ended, "error",
        "a cut body is not a clean end ({got} bytes)"
    );
    assert!(got <= 20000, "{got}");
    assert_eq!(h.sim.stats().faults_of("truncate"), 1);
    let record = access_log::take(&id).await;
    assert_eq!(record.outcome, "upstream_error", "{record:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn moderations_answer_in_openais_shape() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/moderations",
            &json!({"model": "omni-moderation-latest", "input": ["a kind word", "another"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");
    for r in v["results"].as_array().unwrap() {
        assert!(
            r["flagged"].is_boolean() && r["categories"].is_object(),
            "{r}"
        );
    }
    assert_eq!(access_log::take(&id).await.outcome, "ok");
    h.shutdown().await;
}

/// Installs a scenario that marks every request for `model` with a harmless fault (`delay=1ms`):
/// the simulator counts the requests that named `model`.
fn mark(h: &Harness, model: &str) {
    let rules = format!("[[rule]]\nmodel = \"{model}\"\nfault = \"delay=1ms\"\n");
    h.sim.set_scenario(Some(Scenario::parse(&rules).unwrap()));
}

#[tokio::test]
async fn model_mapping_applies_to_every_media_endpoint() {
    let cases: [(&str, &str, Value); 3] = [
        (
            "dall-e-2",
            "/v1/images/generations",
            json!({"model": ROUTED_MODEL, "prompt": "a boat", "size": "256x256"}),
        ),
        (
            "tts-1",
            "/v1/audio/speech",
            json!({"model": ROUTED_MODEL, "input": "hello", "voice": "nova"}),
        ),
        (
            "omni-moderation-latest",
            "/v1/moderations",
            json!({"model": ROUTED_MODEL, "input": "hello"}),
        ),
    ];
    for (upstream, path, body) in cases {
        let h = mapped(upstream).await;
        mark(&h, upstream);
        let resp = h.post(path, &body).await;
        assert_eq!(resp.status(), 200, "{path}");
        let id = request_id(&resp);
        let _ = resp.bytes().await.unwrap();
        assert_eq!(
            h.sim.stats().faults_of("delay"),
            1,
            "{path}: asked as {upstream}"
        );
        assert_eq!(access_log::take(&id).await.channel, "mapped", "{path}");
        h.shutdown().await;
    }
}

/// The error a client gets for `body` on `path`: its status, headers and JSON.
async fn error_of(h: &Harness, path: &str, body: &Value) -> (u16, http::HeaderMap, Value) {
    let resp = h.post(path, body).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

#[tokio::test]
async fn content_policy_refusals_reach_the_client_as_openais_400() {
    let h = Harness::start().await;
    for (model, kind, code) in [
        (
            "gpt-image-1",
            "image_generation_user_error",
            "moderation_blocked",
        ),
        (
            "dall-e-3",
            "invalid_request_error",
            "content_policy_violation",
        ),
    ] {
        let body = json!({"model": model, "prompt": "<<sim:moderation-blocked>> a picture"});
        let (status, _, v) = error_of(&h, "/v1/images/generations", &body).await;
        assert_eq!(status, 400, "{model}: {v}");
        assert_eq!(v["error"]["code"], code, "{model}: {v}");
        assert_eq!(v["error"]["type"], kind, "{model}: {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    assert_eq!(h.sim.stats().faults_of("moderation-blocked"), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn media_upstream_errors_keep_their_status_and_openais_shape() {
    let h = Harness::builder()
        .config(|c, _| {
            c.routing.max_attempts = 1;
            c.routing.breaker.consecutive_failures = u32::MAX;
            c.routing.breaker.min_requests = u32::MAX;
        })
        .start()
        .await;
    let bodies = |fault: &str| {
        [
            (
                "/v1/images/generations",
                json!({"model": "dall-e-2", "prompt": format!("a cat <<sim:{fault}>>")}),
            ),
            (
                "/v1/audio/speech",
                json!({"model": "tts-1", "voice": "alloy", "input": format!("hi <<sim:{fault}>>")}),
            ),
            (
                "/v1/moderations",
                json!({"model": "omni-moderation-latest", "input": format!("hi <<sim:{fault}>>")}),
            ),
        ]
    };
    for code in [500u16, 503] {
        for (path, body) in bodies(&format!("status={code}, retry-after=0")) {
            let (status, _, v) = error_of(&h, path, &body).await;
            assert_eq!(status, code, "{path}: {v}");
            assert!(v["error"]["message"].is_string(), "{path}: {v}");
        }
    }
    // Last, each on a relay of its own: a 429 rests its channel for the retry-after it names.
    h.shutdown().await;
    for (path, body) in bodies("status=429, retry-after=7") {
        let h = Harness::start().await;
        let (status, headers, v) = error_of(&h, path, &body).await;
        assert_eq!(status, 429, "{path}: {v}");
        assert_eq!(headers["retry-after"], "7", "{path}");
        assert!(v["error"]["message"].is_string(), "{path}: {v}");
        assert_eq!(
            h.sim.stats().faults_of("status=429"),
            1,
            "{path}: the upstream's 429"
        );
        h.shutdown().await;
    }
}

#[tokio::test]
async fn the_media_first_byte_deadline_ends_a_late_answer_with_504() {
    let h = Harness::builder()
        .config(|c, _| {
            c.media.images.first_byte = Some(Duration::from_millis(300));
            c.routing.max_attempts = 1;
        })
        .start()
        .await;
    let body = json!({"model": "dall-e-2", "prompt": "late <<sim:delay=2s>>"});
    let (status, _, v) = error_of(&h, "/v1/images/generations", &body).await;
    assert_eq!(status, 504, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    // The speech family has no first-byte deadline of its own: the same delay is waited out.
    let body = json!({"model": "tts-1", "voice": "alloy", "input": "late <<sim:delay=1s>>"});
    let resp = h.post("/v1/audio/speech", &body).await;
    assert_eq!(resp.status(), 200);
    h.shutdown().await;
}

#[tokio::test]
async fn half_a_json_answer_is_the_channels_502_not_the_clients_200() {
    // The upstream's 200 is an object cut in half (`malformed`): it starts like one, so only
    // reading it whole tells; before the fix it went to the client as a 200.
    let h = Harness::builder()
        .config(|c, _| c.routing.max_attempts = 1)
        .start()
        .await;
    for (path, body) in [
        (
            "/v1/images/generations",
            json!({"model": "dall-e-2", "prompt": "a cat <<sim:malformed>>", "size": "256x256",
                "response_format": "b64_json"}),
        ),
        (
            "/v1/moderations",
            json!({"model": "omni-moderation-latest", "input": "hi <<sim:malformed>>"}),
        ),
    ] {
        let (status, _, v) = error_of(&h, path, &body).await;
        assert_eq!(status, 502, "{path}: {v}");
        assert!(v["error"]["message"].is_string(), "{path}: {v}");
    }
    assert_eq!(h.sim.stats().faults_of("malformed"), 2);
    h.shutdown().await;
}
