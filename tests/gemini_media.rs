//! End to end through the simulator: OpenAI's media endpoints served by Google's channels.
//! Images from a Gemini image model (`generateContent`) and from Imagen (Vertex AI's
//! `:predict`), speech from a Gemini TTS model as PCM or WAV, the formats and endpoints Google
//! lacks refused as 400s naming the limitation, an upstream error in OpenAI's shape, and the
//! usage recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sluice_test_support::{access_log, request_id, with_fault, Harness, TOKEN};

const IMAGE_MODEL: &str = "gemini-2.5-flash-image";
const TTS_MODEL: &str = "gemini-2.5-flash-preview-tts";
const IMAGEN: &str = "imagen-4.0-generate-001";
/// Imagen asked of the Gemini API channel (which has no `:predict`).
const IMAGEN_ON_GEMINI: &str = "imagen-on-the-gemini-api";
/// A Gemini image model on a channel whose every request the simulator answers 429.
const LIMITED: &str = "gemini-image-rate-limited";

/// The demo channels, Vertex AI's token endpoint knowing the demo account, and two more
/// Gemini API channels: one offering an Imagen model, one always rate limited.
async fn harness() -> Harness {
    Harness::builder()
        .sim(|s| {
            let sa = sluice_sim::TestServiceAccount::load();
            s.google_oauth.service_accounts = vec![sa.key().unwrap()];
        })
        .config(|c, _| {
            let gemini = c
                .channels
                .iter()
                .find(|ch| ch.name == "demo-gemini")
                .cloned()
                .unwrap();
            let mut imagen = gemini.clone();
            imagen.name = "gemini-with-imagen".into();
            imagen.models = vec![IMAGEN_ON_GEMINI.into()];
            imagen.model_mapping = [(IMAGEN_ON_GEMINI.into(), IMAGEN.into())].into();
            let mut limited = gemini;
            limited.name = "gemini-limited".into();
            limited.models = vec![LIMITED.into()];
            limited.model_mapping = [(LIMITED.into(), IMAGE_MODEL.into())].into();
            c.channels.push(imagen);
            c.channels.push(with_fault(limited, "status=429"));
        })
        .start()
        .await
}

/// The width and height of a PNG file (its `IHDR`), `None` when it is not one.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((be(16), be(20)))
}

/// The decoded images of an OpenAI images answer.
fn images(v: &Value) -> Vec<Vec<u8>> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| STANDARD.decode(d["b64_json"].as_str().unwrap()).unwrap())
        .collect()
}

/// An OpenAI error answer: its status and message, checked to be in OpenAI's shape.
async fn openai_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    let e = &v["error"];
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    (status, e["message"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_gemini_image_model_answers_pngs_at_the_sizes_ratio_with_its_usage() {
    let h = harness().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": IMAGE_MODEL, "prompt": "a red fox in snow", "size": "1536x1024",
                "response_format": "b64_json", "quality": "high"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let id = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    let imgs = images(&v);
    assert_eq!(imgs.len(), 1, "{v}");
    // 1536x1024 is 3:2: the simulator draws 32 pixels wide at the ratio asked.
    assert_eq!(png_size(&imgs[0]), Some((32, 21)));
    assert!(v["created"].as_u64().unwrap() > 0);
    assert_eq!(v["output_format"], "png");
    assert!(v["data"][0]["revised_prompt"].is_string(), "{v}");
    let usage = &v["usage"];
    assert_eq!(usage["output_tokens_details"]["image_tokens"], 1290, "{v}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
    let record = access_log::take(&id).await;
    assert_eq!(
        (record.channel.as_str(), record.status),
        ("demo-gemini", 200)
    );
    assert!(record.usage_known);
    assert_eq!(record.tokens_in, usage["input_tokens"].as_u64().unwrap());
    assert_eq!(record.tokens_out, usage["output_tokens"].as_u64().unwrap());
    h.shutdown().await;
}

#[tokio::test]
async fn imagen_on_vertex_answers_n_images_at_the_nearest_ratio() {
    let h = harness().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": IMAGEN, "prompt": "a lighthouse", "n": 3, "size": "1792x1024"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let v: Value = resp.json().await.unwrap();
    let imgs = images(&v);
    assert_eq!(imgs.len(), 3, "{v}");
    for img in &imgs {
        // 1792x1024 is nearest Imagen's 16:9.
        assert_eq!(png_size(img), Some((32, 18)));
    }
    assert_ne!(imgs[0], imgs[1], "each sample is its own image");
    assert!(v.get("usage").is_none(), "Imagen counts no tokens: {v}");
    let record = access_log::take(&id).await;
    assert_eq!(
        (record.channel.as_str(), record.status),
        ("demo-vertex", 200)
    );
    h.shutdown().await;
}

#[tokio::test]
async fn images_withheld_by_googles_filters_are_a_400() {
    let h = harness().await;
    for model in [IMAGEN, IMAGE_MODEL] {
        let resp = h
            .post(
                "/v1/images/generations",
                &json!({"model": model, "prompt": "SIM_BLOCK_PROMPT", "n": 1}),
            )
            .await;
        let id = request_id(&resp);
        assert_eq!(resp.status(), 400, "{model}");
        let v: Value = resp.json().await.unwrap();
        // OpenAI's own code for a refused image, as the SDKs' users check it.
        assert_eq!(
            v["error"]["code"], "content_policy_violation",
            "{model}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("safety filters"), "{model}: {message}");
        // The client's refusal: the channel answered, and is not charged with a fault.
        let channel = access_log::take(&id).await.channel;
        let snapshot = h.state.routes.channel_snapshot(&channel).unwrap();
        assert_eq!((snapshot.attempts, snapshot.faults), (1, 0), "{channel}");
        assert_eq!(snapshot.consecutive_failures, 0, "{channel}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn speech_answers_pcm_and_the_same_samples_in_a_wav() {
    let h = harness().await;
    let ask = |format: &str| {
        json!({"model": TTS_MODEL, "input": "Hello from the relay.", "voice": "alloy",
            "response_format": format})
    };
    let resp = h.post("/v1/audio/speech", &ask("pcm")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/pcm");
    let id = request_id(&resp);
    let pcm = resp.bytes().await.unwrap();
    assert!(!pcm.is_empty() && pcm.len() % 2 == 0, "{} bytes", pcm.len());
    let record = access_log::take(&id).await;
    assert!(record.usage_known && record.tokens_out > 0, "{record:?}");

    let resp = h.post("/v1/audio/speech", &ask("wav")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    let wav = resp.bytes().await.unwrap();
    let le32 = |at: usize| u32::from_le_bytes(wav[at..at + 4].try_into().unwrap());
    let le16 = |at: usize| u16::from_le_bytes(wav[at..at + 2].try_into().unwrap());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(le32(4) as usize, wav.len() - 8);
    assert_eq!((le16(20), le16(22)), (1, 1), "PCM, mono");
    assert_eq!(le32(24), 24_000);
    assert_eq!(le16(34), 16);
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(le32(40) as usize, pcm.len());
    assert_eq!(&wav[44..], &pcm[..], "the same samples");
    h.shutdown().await;
}

#[tokio::test]
async fn what_google_cannot_give_is_a_400_naming_the_limitation() {
    let h = harness().await;
    let cases = [
        (
            "/v1/audio/speech",
            json!({"model": TTS_MODEL, "input": "hi", "voice": "alloy", "response_format": "mp3"}),
            "mp3 is not available",
        ),
        (
            "/v1/audio/speech",
            json!({"model": TTS_MODEL, "input": "hi", "voice": "alloy", "stream_format": "sse"}),
            "stream_format sse is not available",
        ),
        (
            "/v1/images/generations",
            json!({"model": IMAGE_MODEL, "prompt": "a fox", "n": 2}),
            "n > 1 is not available",
        ),
        (
            "/v1/images/generations",
            json!({"model": IMAGE_MODEL, "prompt": "a fox", "response_format": "url"}),
            "no URL to give",
        ),
        (
            "/v1/images/generations",
            json!({"model": IMAGEN, "prompt": "a fox", "stream": true}),
            "stream is not available",
        ),
        (
            "/v1/images/generations",
            json!({"model": IMAGEN, "prompt": "a fox", "output_format": "webp"}),
            "png or jpeg",
        ),
        (
            "/v1/images/generations",
            json!({"model": IMAGEN_ON_GEMINI, "prompt": "a fox"}),
            "Gemini API does not offer",
        ),
        (
            "/v1/moderations",
            json!({"model": "gemini-2.5-flash", "input": "hi"}),
            "is not available on /v1/moderations",
        ),
    ];
    for (path, body, says) in cases {
        let (status, message) = openai_error(h.post(path, &body).await).await;
        assert_eq!(status, 400, "{body}: {message}");
        assert!(message.contains(says), "{body}: {message}");
    }
    h.shutdown().await;
}

/// A multipart body of a `model` part and a small `file` part.
fn multipart(model: &str, file_field: &str) -> Vec<u8> {
    format!(
        "--b0und\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n\
         --b0und\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"a.png\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n0123456789\r\n--b0und--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn uploads_google_does_not_serve_are_400s_in_openais_shape() {
    let h = harness().await;
    for (path, field) in [
        ("/v1/audio/transcriptions", "file"),
        ("/v1/audio/translations", "file"),
        ("/v1/images/edits", "image"),
        ("/v1/images/variations", "image"),
    ] {
        let resp = h
            .client
            .post(h.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "multipart/form-data; boundary=b0und")
            .body(multipart("gemini-2.5-flash", field))
            .send()
            .await
            .unwrap();
        let (status, message) = openai_error(resp).await;
        assert_eq!(status, 400, "{path}: {message}");
        // Routed, the refusal names the model and the endpoint; until the upload reader
        // (`media::upload`) reads up to the `model` part, uploads are refused before routing.
        let routed = message.contains(&format!("`gemini-2.5-flash` is not available on {path}"));
        let unread = message == "multipart uploads are not relayed yet";
        assert!(routed || unread, "{path}: {message}");
    }
    assert!(h.sim.stats().uploads.is_empty(), "nothing went upstream");
    h.shutdown().await;
}

#[tokio::test]
async fn an_upstream_error_reaches_the_client_in_openais_shape() {
    let h = harness().await;
    let resp = h
        .post(
            "/v1/images/generations",
            &json!({"model": LIMITED, "prompt": "a fox"}),
        )
        .await;
    let id = request_id(&resp);
    let (status, message) = openai_error(resp).await;
    assert_eq!(status, 429, "{message}");
    assert!(!message.is_empty());
    let record = access_log::take(&id).await;
    assert_eq!(
        (record.channel.as_str(), record.status),
        ("gemini-limited", 429)
    );
    h.shutdown().await;
}
