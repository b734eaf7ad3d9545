//! End to end through the simulator: OpenAI's multipart uploads (`/v1/images/edits`,
//! `/variations`, `/v1/audio/transcriptions`, `/translations`) streamed through the relay as
//! the SDKs send them, their refusals (content type, model, size) and the client's faults
//! (a stall, a hang-up) before and after the `model` part.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::Value;
use sluice_sim::Provider;
use sluice_test_support::multipart::{png, wav, Form, RawUpload};
use sluice_test_support::{eventually, openai_channel, read_sse, Harness, ROUTED_MODEL, TOKEN};
use std::time::Duration;

const TRANSCRIBE: &str = "/v1/audio/transcriptions";
const EDITS: &str = "/v1/images/edits";
/// OpenAI's audio limit, the transcriptions family's default `max_body`.
const AUDIO_LIMIT: usize = 26_214_400;

async fn upload(h: &Harness, path: &str, form: &Form) -> reqwest::Response {
    h.client
        .post(h.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", form.content_type())
        .body(form.bytes())
        .send()
        .await
        .expect("relay unreachable")
}

/// The same upload with no `content-length`: its body in chunks of 8 KiB.
async fn upload_chunked(h: &Harness, path: &str, form: &Form) -> reqwest::Response {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        form.bytes().chunks(8192).map(|c| Ok(c.to_vec())).collect();
    h.client
        .post(h.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", form.content_type())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("relay unreachable")
}

fn audio(model: &str, format: &str) -> Form {
    // The Python SDK's order: text fields, then the file.
    Form::new()
        .text("model", model)
        .text("response_format", format)
        .file("file", "speech.wav", "audio/wav", &wav(4.0))
}

#[tokio::test]
async fn images_edit_with_one_image_several_and_a_mask_streamed_or_not() {
    let h = Harness::start().await;
    let one = Form::new()
        .text("prompt", "a lighthouse at dusk")
        .text("model", "gpt-image-1")
        .file("image", "a.png", "image/png", &png(64, 64, 5000));
    let resp = upload(&h, EDITS, &one).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["data"][0]["b64_json"].is_string(), "{v}");

    for stream in [false, true] {
        let form = Form::new()
            .text("prompt", "two lighthouses")
            .text("model", "gpt-image-1")
            .text("n", "1")
            .text("stream", if stream { "true" } else { "false" })
            .file("image[]", "a.png", "image/png", &png(64, 64, 3000))
            .file("image[]", "b.png", "image/png", &png(64, 64, 3000))
            .file("mask", "m.png", "image/png", &png(64, 64, 100));
        let resp = upload(&h, EDITS, &form).await;
        assert_eq!(resp.status(), 200, "stream {stream}");
        if stream {
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            let (events, _) = read_sse(resp).await;
            let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
            assert_eq!(last["type"], "image_edit.completed", "{last}");
        } else {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
            assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
        }
    }
    // A mask of another size is the simulator's 400, passed through: the parts arrived.
    let bad_mask = Form::new()
        .text("prompt", "p")
        .text("model", "gpt-image-1")
        .file("image", "a.png", "image/png", &png(64, 64, 10))
        .file("mask", "m.png", "image/png", &png(32, 32, 10));
    let resp = upload(&h, EDITS, &bad_mask).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("mask"),
        "{v}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn image_variations_of_a_square_png() {
    let h = Harness::start().await;
    let form = Form::new()
        .text("model", "dall-e-2")
        .text("n", "2")
        .text("size", "256x256")
        .file("image", "a.png", "image/png", &png(256, 256, 20_000));
    let resp = upload(&h, "/v1/images/variations", &form).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn transcriptions_in_every_response_format_and_streamed() {
    let h = Harness::start().await;
    for format in ["json", "text", "srt", "vtt", "verbose_json"] {
        let resp = upload(&h, TRANSCRIBE, &audio("whisper-1", format)).await;
        assert_eq!(resp.status(), 200, "{format}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        let body = resp.text().await.unwrap();
        match format {
            "json" => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert!(!v["text"].as_str().unwrap().is_empty(), "{v}");
            }
            "verbose_json" => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["task"], "transcribe", "{v}");
                assert!((v["duration"].as_f64().unwrap() - 4.0).abs() < 0.01, "{v}");
            }
            "vtt" => assert!(body.starts_with("WEBVTT"), "{body}"),
            "srt" => assert!(body.starts_with("1\n00:00:00,000 --> "), "{body}"),
            _ => assert!(
                ct.starts_with("text/plain") && !body.is_empty(),
                "{ct} {body}"
            ),
        }
    }
    let form = audio("gpt-4o-transcribe", "json").text("stream", "true");
    let resp = upload(&h, TRANSCRIBE, &form).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (events, _) = read_sse(resp).await;
    let done: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert_eq!(done["type"], "transcript.text.done", "{done}");
    h.shutdown().await;
}

#[tokio::test]
async fn translations_of_a_wav() {
    let h = Harness::start().await;
    let resp = upload(
        &h,
        "/v1/audio/translations",
        &audio("whisper-1", "verbose_json"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["task"], "translate", "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_mapped_model_reaches_the_upstream_by_its_upstream_name() {
    // The channel serves `m` as `whisper-1`: the simulator knows only the latter (an unknown
    // model is its 404), so a 200 says the model part was rewritten, in either part order.
    let h = Harness::builder()
        .config(|c, sim| c.channels.push(openai_channel(sim, "mapped", "whisper-1")))
        .start()
        .await;
    let text_first = audio(ROUTED_MODEL, "verbose_json");
    let file_first = Form::new()
        .file("file", "speech.wav", "audio/wav", &wav(2.0))
        .text("model", ROUTED_MODEL)
        .text("response_format", "verbose_json");
    for form in [text_first, file_first] {
        let resp = upload(&h, TRANSCRIBE, &form).await;
        let id = sluice_test_support::request_id(&resp);
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["task"], "transcribe", "{v}");
        assert_eq!(h.served_model(&id, ROUTED_MODEL).await, "whisper-1");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_file_before_the_model_is_spooled_and_its_spool_removed() {
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().to_owned();
    let h = Harness::builder()
        .config(move |c, _| {
            c.media.spool_dir = Some(dir);
            c.media.upload_memory = 64 * 1024;
        })
        .start()
        .await;
    // The Node SDK's order: the file, then the model. The client pauses after the file: by
    // then the relay holds it in a spool.
    let form = Form::new()
        .file("file", "speech.wav", "audio/wav", &wav(10.0))
        .text("model", "whisper-1")
        .text("response_format", "verbose_json");
    let body = form.bytes();
    let cut = body.len() - 300;
    let mut up = RawUpload::partial(h.addr(), TRANSCRIBE, TOKEN, &form, cut).await;
    let path = spool.path().to_owned();
    eventually(Duration::from_secs(5), "a spool file appears", || {
        let n = std::fs::read_dir(&path).unwrap().count();
        async move { n == 1 }
    })
    .await;
    up.send(&body[cut..]).await;
    let (status, answer) = up.response(Duration::from_secs(10)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"duration\":10"), "{answer}");
    eventually(Duration::from_secs(5), "the spool is removed", || {
        let n = std::fs::read_dir(&path).unwrap().count();
        async move { n == 0 }
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_chunked_upload_without_content_length_streams_through() {
    let h = Harness::start().await;
    let resp = upload_chunked(&h, TRANSCRIBE, &audio("whisper-1", "verbose_json")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!((v["duration"].as_f64().unwrap() - 4.0).abs() < 0.01, "{v}");
    let up = h.sim.stats().upload_bytes_to(Provider::OpenAi, TRANSCRIBE);
    assert_eq!(up, audio("whisper-1", "verbose_json").bytes().len() as u64);
    h.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_multipart_or_names_no_model_is_a_400() {
    let h = Harness::start().await;
    let resp = h
        .post(TRANSCRIBE, &serde_json::json!({"model": "whisper-1"}))
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected multipart/form-data"),
        "{v}"
    );
    let no_model = Form::new().file("file", "a.wav", "audio/wav", &wav(1.0));
    let resp = upload(&h, TRANSCRIBE, &no_model).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "you must provide a model parameter");
    assert_eq!(h.sim.stats().uploads_to(Provider::OpenAi, TRANSCRIBE), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_a_413_in_openai_words_announced_or_chunked() {
    let h = Harness::start().await;
    // 25 MiB of audio and its form: over 26214400 bytes.
    let form = Form::new().text("model", "whisper-1").file(
        "file",
        "long.wav",
        "audio/wav",
        &wav(AUDIO_LIMIT as f64 / 32_000.0),
    );
    let len = form.bytes().len();
    assert!(len > AUDIO_LIMIT);
    // Announced: refused before a byte is read.
    let up = RawUpload::start(h.addr(), TRANSCRIBE, TOKEN, &form.content_type(), Some(len)).await;
    let (status, body) = up.response(Duration::from_secs(10)).await;
    assert_eq!(status, 413);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {
            "message": format!("Maximum content size limit ({AUDIO_LIMIT}) exceeded ({len} bytes read)"),
            "type": "server_error", "param": null, "code": null}})
    );
    // Chunked: refused once the bytes read pass the limit (the file streams live by then).
    let resp = upload_chunked(&h, TRANSCRIBE, &form).await;
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    let read: usize = msg
        .strip_prefix(&format!(
            "Maximum content size limit ({AUDIO_LIMIT}) exceeded ("
        ))
        .and_then(|m| m.strip_suffix(" bytes read)"))
        .unwrap_or_else(|| panic!("{msg}"))
        .parse()
        .unwrap();
    assert!(read > AUDIO_LIMIT && read <= AUDIO_LIMIT + 8192, "{msg}");
    assert_eq!(v["error"]["type"], "server_error");
    // What reached the simulator stopped short of the limit: the upstream request was cut.
    let sent = h.sim.stats().upload_bytes_to(Provider::OpenAi, TRANSCRIBE);
    assert!(sent <= AUDIO_LIMIT as u64, "{sent}");
    h.shutdown().await;
}

/// A relay whose client body deadlines are short: 300 ms between chunks.
async fn impatient() -> Harness {
    Harness::builder()
        .config(|c, _| {
            c.timeouts.client_body = Duration::from_millis(300);
            c.timeouts.client_body_total = Duration::from_secs(20);
        })
        .start()
        .await
}

#[tokio::test]
async fn a_client_stalling_before_the_model_part_is_a_408() {
    let h = impatient().await;
    let form = Form::new()
        .file("file", "a.wav", "audio/wav", &wav(1.0))
        .text("model", "whisper-1");
    let up = RawUpload::partial(h.addr(), TRANSCRIBE, TOKEN, &form, 20_000).await;
    let (status, answer) = up.response(Duration::from_secs(5)).await;
    assert_eq!(status, 408, "{answer}");
    assert!(answer.contains("stalled"), "{answer}");
    assert_eq!(h.sim.stats().uploads_to(Provider::OpenAi, TRANSCRIBE), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn a_client_stalling_after_the_model_part_releases_the_upstream() {
    let h = impatient().await;
    let form = audio("whisper-1", "json");
    let up = RawUpload::partial(h.addr(), TRANSCRIBE, TOKEN, &form, 40_000).await;
    eventually(
        Duration::from_secs(5),
        "the upload reached the simulator",
        || {
            let n = h.sim.stats().upload_bytes_to(Provider::OpenAi, TRANSCRIBE);
            async move { n > 0 }
        },
    )
    .await;
    // The client says nothing more: the relay's idle deadline ends the upstream request.
    let (status, answer) = up.response(Duration::from_secs(5)).await;
    assert_eq!(status, 408, "{answer}");
    eventually(
        Duration::from_secs(2),
        "the upstream connection closed",
        || {
            let open = h.sim.stats().connections_open;
            async move { open == 0 }
        },
    )
    .await;
    assert!(h.sim.stats().upload_bytes_to(Provider::OpenAi, TRANSCRIBE) <= 40_000);
    h.shutdown().await;
}

#[tokio::test]
async fn a_client_hanging_up_mid_upload_releases_the_upstream_at_once() {
    let h = Harness::start().await;
    let edit = Form::new()
        .text("prompt", "p")
        .text("model", "gpt-image-1")
        .file("image", "a.png", "image/png", &png(64, 64, 200_000));
    for (path, form) in [(TRANSCRIBE, audio("whisper-1", "json")), (EDITS, edit)] {
        let half = form.bytes().len() / 2;
        let up = RawUpload::partial(h.addr(), path, TOKEN, &form, half).await;
        eventually(
            Duration::from_secs(5),
            "the upload reached the simulator",
            || {
                let n = h.sim.stats().upload_bytes_to(Provider::OpenAi, path);
                async move { n > 0 }
            },
        )
        .await;
        drop(up);
        // Well under the 5 s idle deadline: the hang-up itself ended the upstream request.
        eventually(
            Duration::from_secs(2),
            "the upstream connection closed",
            || {
                let open = h.sim.stats().connections_open;
                async move { open == 0 }
            },
        )
        .await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn an_upstream_that_stops_reading_the_upload_is_the_upstreams_fault() {
    // `stall-upload`: the simulator reads 20 KB, then nothing more: the relay's first-byte
    // deadline ends the attempt (504), and the client is not blamed.
    let h = Harness::builder()
        .config(|c, sim| {
            c.media.transcriptions.first_byte = Some(Duration::from_millis(500));
            let ch = openai_channel(sim, "stalling", "whisper-1");
            c.channels
                .push(sluice_test_support::with_fault(ch, "stall-upload=20000"));
        })
        .start()
        .await;
    let form =
        Form::new()
            .text("model", ROUTED_MODEL)
            .file("file", "a.wav", "audio/wav", &wav(30.0));
    let resp = upload(&h, TRANSCRIBE, &form).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(h.sim.stats().faults_of("stall-upload"), 1);
    let read = h.sim.stats().upload_bytes_to(Provider::OpenAi, TRANSCRIBE);
    assert!(read < form.bytes().len() as u64, "{read}");
    // The relay closed its connection (the frozen simulator notices only once the kernel
    // gives up on the unsent bytes, so the relay's own count is the one to read).
    eventually(
        Duration::from_secs(2),
        "the relay closed its upstream connection",
        || {
            let open = h.state.upstream.open_connections();
            async move { open == 0 }
        },
    )
    .await;
    h.shutdown().await;
}
