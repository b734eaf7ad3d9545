//! OpenAI's (and xAI's) media endpoints end to end, read back as the SDKs read them: PNGs and
//! WAVs decoded, multipart bodies built as httpx builds them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::media::*;
use common::*;
use serde_json::{json, Value};
use sluice_sim::Provider;

const P: Provider = Provider::OpenAi;

fn upload(sim: &sluice_sim::SimHandle, path: &str, parts: &[Part<'_>]) -> reqwest::RequestBuilder {
    let (ct, body) = httpx_form(parts);
    post(sim, P, path).header("content-type", ct).body(body)
}

#[tokio::test]
async fn generations_url_and_b64_are_real_pngs() {
    let sim = sim().await;
    let v = expect(
        post(&sim, P, "/images/generations").json(&json!({"prompt": "a red fox", "n": 2})),
        200,
    )
    .await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(v.get("usage").is_none());
    let url = data[0]["url"].as_str().unwrap();
    assert!(url.contains("/openai/sim-files/img-"), "{url}");
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(png_dims(&bytes), (32, 32));

    let body = json!({"model": "dall-e-3", "prompt": "a red fox", "size": "1792x1024", "response_format": "b64_json"});
    let v = expect(post(&sim, P, "/images/generations").json(&body), 200).await;
    assert_eq!(
        png_dims(&b64(v["data"][0]["b64_json"].as_str().unwrap())),
        (32, 18)
    );
    assert!(v["data"][0]["revised_prompt"].is_string());

    let body = json!({"model": "gpt-image-1", "prompt": "a red fox", "quality": "high", "size": "1024x1536"});
    let v = expect(post(&sim, P, "/images/generations").json(&body), 200).await;
    assert_eq!(
        png_dims(&b64(v["data"][0]["b64_json"].as_str().unwrap())),
        (21, 32)
    );
    assert_eq!(v["usage"]["output_tokens"], 4160);
    assert_eq!(v["usage"]["input_tokens_details"]["text_tokens"], 3);
    assert_eq!(
        (v["quality"].clone(), v["size"].clone()),
        (json!("high"), json!("1024x1536"))
    );
    // Same request, same picture.
    let again = expect(post(&sim, P, "/images/generations").json(&body), 200).await;
    assert_eq!(again["data"], v["data"]);
}

#[tokio::test]
async fn generation_errors_as_quoted() {
    let sim = sim().await;
    let v = expect(
        post(&sim, P, "/images/generations")
            .json(&json!({"model": "gpt-image-1", "prompt": "x", "response_format": "url"})),
        400,
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Unknown parameter: 'response_format'."
    );
    assert_eq!(v["error"]["param"], "response_format");
    let v = expect(
        post(&sim, P, "/images/generations")
            .json(&json!({"model": "gpt-image-1", "prompt": "x", "size": "512x512"})),
        400,
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Invalid value: '512x512'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'."
    );
    assert_eq!(v["error"]["code"], "invalid_value");
    expect(
        post(&sim, P, "/images/generations")
            .json(&json!({"model": "dall-e-2", "prompt": "x", "stream": true})),
        400,
    )
    .await;
}

#[tokio::test]
async fn generation_stream_partials_then_completed() {
    let sim = sim().await;
    let body =
        json!({"model": "gpt-image-1", "prompt": "a fox", "stream": true, "partial_images": 2});
    let events = sse(post(&sim, P, "/images/generations")
        .json(&body)
        .send()
        .await
        .unwrap())
    .await;
    let names: Vec<_> = events.iter().map(|e| e.name.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed"
        ]
    );
    for (i, e) in events.iter().enumerate() {
        let v = e.json();
        assert_eq!(v["type"], names[i]);
        png_dims(&b64(v["b64_json"].as_str().unwrap()));
    }
    assert_eq!(events[1].json()["partial_image_index"], 1);
    assert!(events[2].json()["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn edits_take_image_arrays_and_a_mask_as_httpx_sends_them() {
    let sim = sim().await;
    let img = png_file(8, 8);
    let mask = png_file(8, 8);
    let v = expect(
        upload(
            &sim,
            "/images/edits",
            &[
                Part::Text("prompt", "add a hat"),
                Part::Text("model", "gpt-image-1"),
                Part::Text("n", "2"),
                Part::File("image[]", "a.png", "image/png", &img),
                Part::File("image[]", "b.png", "image/png", &img),
                Part::File("mask", "mask.png", "image/png", &mask),
            ],
        ),
        200,
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["usage"]["input_tokens_details"]["image_tokens"], 170);
    png_dims(&b64(v["data"][1]["b64_json"].as_str().unwrap()));
    let s = sim.stats();
    assert_eq!(s.uploads_to(P, "/v1/images/edits"), 1);

    // One `image`, dall-e-2, URL answer; a part typed octet-stream is sniffed, not trusted.
    let v = expect(
        upload(
            &sim,
            "/images/edits",
            &[
                Part::Text("prompt", "add a hat"),
                Part::Text("model", "dall-e-2"),
                Part::File("image", "upload", "application/octet-stream", &img),
            ],
        ),
        200,
    )
    .await;
    assert!(v["data"][0]["url"].is_string());

    let v = expect(
        upload(
            &sim,
            "/images/edits",
            &[
                Part::Text("prompt", "add a hat"),
                Part::File("image", "a.png", "image/png", b"not an image"),
            ],
        ),
        400,
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Invalid image file or mode for image 1, please check your image file."
    );
    let v = expect(
        upload(&sim, "/images/edits", &[Part::Text("prompt", "x")]),
        400,
    )
    .await;
    assert_eq!(v["error"]["param"], "image");

    let events = sse(upload(
        &sim,
        "/images/edits",
        &[
            Part::Text("prompt", "add a hat"),
            Part::Text("stream", "true"),
            Part::Text("partial_images", "1"),
            Part::File("image", "a.png", "image/png", &img),
        ],
    )
    .send()
    .await
    .unwrap())
    .await;
    let names: Vec<_> = events.iter().map(|e| e.name.clone().unwrap()).collect();
    assert_eq!(names, ["image_edit.partial_image", "image_edit.completed"]);
}

#[tokio::test]
async fn variations_are_dall_e_2_only() {
    let sim = sim().await;
    let img = png_file(16, 16);
    let v = expect(
        upload(
            &sim,
            "/images/variations",
            &[
                Part::Text("n", "3"),
                Part::Text("response_format", "b64_json"),
                Part::Text("size", "256x256"),
                Part::File("image", "a.png", "image/png", &img),
            ],
        ),
        200,
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    png_dims(&b64(v["data"][0]["b64_json"].as_str().unwrap()));
    let wide = png_file(16, 8);
    expect(
        upload(
            &sim,
            "/images/variations",
            &[Part::File("image", "a.png", "image/png", &wide)],
        ),
        400,
    )
    .await;
    expect(
        upload(
            &sim,
            "/images/variations",
            &[
                Part::Text("model", "gpt-image-1"),
                Part::File("image", "a.png", "image/png", &img),
            ],
        ),
        400,
    )
    .await;
}

#[tokio::test]
async fn speech_in_every_format_chunked() {
    let sim = sim().await;
    for (format, ct) in [
        ("mp3", "audio/mpeg"),
        ("opus", "audio/opus"),
        ("aac", "audio/aac"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
        ("pcm", "audio/pcm"),
    ] {
        let body = json!({"model": "gpt-4o-mini-tts", "input": "Hello there, world!", "voice": "alloy", "response_format": format});
        let r = post(&sim, P, "/audio/speech")
            .header("accept", "application/octet-stream")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], ct);
        assert!(
            r.headers().get("content-length").is_none(),
            "{format} is chunked"
        );
        let bytes = r.bytes().await.unwrap();
        match format {
            "wav" => {
                let w = hound::WavReader::new(std::io::Cursor::new(&bytes)).unwrap();
                assert_eq!(w.spec().sample_rate, 24_000);
                assert_eq!(w.duration(), 24 * 1140);
            }
            "pcm" => assert_eq!(bytes.len(), 48 * 1140),
            "mp3" => assert_eq!(&bytes[..2], &[0xff, 0xfb]),
            "flac" => assert_eq!(&bytes[..4], b"fLaC"),
            _ => assert!(!bytes.is_empty()),
        }
    }
    let v = expect(
        post(&sim, P, "/audio/speech")
            .json(&json!({"model": "tts-1", "input": "hi", "voice": "nobody"})),
        400,
    )
    .await;
    assert_eq!(v["error"]["param"], "voice");
}

#[tokio::test]
async fn speech_sse_deltas_rebuild_the_audio() {
    let sim = sim().await;
    let body = json!({"model": "gpt-4o-mini-tts", "input": "a longer sentence to speak aloud", "voice": "nova",
        "response_format": "pcm", "stream_format": "sse"});
    let events = sse(post(&sim, P, "/audio/speech")
        .json(&body)
        .send()
        .await
        .unwrap())
    .await;
    let (last, deltas) = events.split_last().unwrap();
    assert!(deltas.len() > 1);
    let audio: Vec<u8> = deltas
        .iter()
        .flat_map(|e| {
            let v = e.json();
            assert_eq!(v["type"], "speech.audio.delta");
            assert!(e.name.is_none());
            b64(v["audio"].as_str().unwrap())
        })
        .collect();
    assert_eq!(audio.len(), 48 * 32 * 60);
    let done = last.json();
    assert_eq!(done["type"], "speech.audio.done");
    assert_eq!(done["usage"]["input_tokens"], 6);
    expect(
        post(&sim, P, "/audio/speech").json(
            &json!({"model": "tts-1", "input": "hi", "voice": "nova", "stream_format": "sse"}),
        ),
        400,
    )
    .await;
}

#[tokio::test]
async fn transcriptions_in_every_format_from_a_real_wav() {
    let sim = sim().await;
    let clip = wav(4.0);
    let send = |format: &'static str, model: &'static str| {
        let (ct, body) = httpx_form(&[
            Part::Text("model", model),
            Part::Text("response_format", format),
            Part::File("file", "speech.wav", "audio/x-wav", &clip),
        ]);
        post(&sim, P, "/audio/transcriptions")
            .header("content-type", ct)
            .body(body)
    };
    let v = expect(send("json", "whisper-1"), 200).await;
    let text = v["text"].as_str().unwrap().to_owned();
    assert_eq!(text.split(' ').count(), 10, "4 s at 2.5 words/s");
    assert_eq!(v["usage"], json!({"type": "duration", "seconds": 4}));
    let v = expect(send("verbose_json", "whisper-1"), 200).await;
    assert_eq!(v["duration"], 4.0);
    assert_eq!(v["text"], text.as_str());
    assert_eq!(v["segments"].as_array().unwrap().len(), 2);
    let r = send("text", "whisper-1").send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), format!("{text}\n"));
    let srt = send("srt", "whisper-1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        srt.starts_with("1\n00:00:00,000 --> 00:00:03,200\n"),
        "{srt}"
    );
    let vtt = send("vtt", "whisper-1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:03.200\n"),
        "{vtt}"
    );
    let v = expect(send("json", "gpt-4o-transcribe"), 200).await;
    assert_eq!(v["text"], text.as_str());
    assert_eq!(v["usage"]["type"], "tokens");
    assert_eq!(v["usage"]["input_token_details"]["audio_tokens"], 40);
    expect(send("srt", "gpt-4o-transcribe"), 400).await;

    let s = sim.stats();
    assert_eq!(s.uploads_to(P, "/v1/audio/transcriptions"), 7);
    let sent: u64 = [
        ("json", "whisper-1"),
        ("verbose_json", "whisper-1"),
        ("text", "whisper-1"),
        ("srt", "whisper-1"),
        ("vtt", "whisper-1"),
        ("json", "gpt-4o-transcribe"),
        ("srt", "gpt-4o-transcribe"),
    ]
    .iter()
    .map(|(format, model)| {
        httpx_form(&[
            Part::Text("model", model),
            Part::Text("response_format", format),
            Part::File("file", "speech.wav", "audio/x-wav", &clip),
        ])
        .1
        .len() as u64
    })
    .sum();
    assert_eq!(s.upload_bytes_to(P, "/v1/audio/transcriptions"), sent);
}

#[tokio::test]
async fn transcription_stream_and_translations() {
    let sim = sim().await;
    let clip = wav(2.0);
    let (ct, body) = httpx_form(&[
        Part::Text("model", "gpt-4o-mini-transcribe"),
        Part::Text("stream", "true"),
        Part::File("file", "speech.wav", "audio/wav", &clip),
    ]);
    let events = sse(post(&sim, P, "/audio/transcriptions")
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap())
    .await;
    let (done, deltas) = events.split_last().unwrap();
    let joined: String = deltas
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap().to_owned())
        .collect();
    let done = done.json();
    assert_eq!(done["type"], "transcript.text.done");
    assert_eq!(done["text"], joined.as_str());
    assert!(events.iter().all(|e| e.name.is_none()));

    let (ct, body) = httpx_form(&[
        Part::Text("model", "whisper-1"),
        Part::File("file", "speech.wav", "audio/wav", &clip),
    ]);
    let v = expect(
        post(&sim, P, "/audio/translations")
            .header("content-type", ct)
            .body(body),
        200,
    )
    .await;
    assert_eq!(v["text"].as_str().unwrap().split(' ').count(), 5);

    let (ct, body) = httpx_form(&[
        Part::Text("model", "whisper-1"),
        Part::File("file", "notes.txt", "text/plain", b"hello"),
    ]);
    let v = expect(
        post(&sim, P, "/audio/transcriptions")
            .header("content-type", ct)
            .body(body),
        400,
    )
    .await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid file format. Supported formats: ['flac'"));
}

#[tokio::test]
async fn audio_uploads_over_25_mib_get_the_413() {
    let sim = sim().await;
    let big = vec![0u8; 26_214_400];
    let (ct, body) = httpx_form(&[
        Part::Text("model", "whisper-1"),
        Part::File("file", "big.wav", "audio/wav", &big),
    ]);
    let v = expect(
        post(&sim, P, "/audio/transcriptions")
            .header("content-type", ct)
            .body(body),
        413,
    )
    .await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Maximum content size limit (26214400) exceeded ("),
        "{message}"
    );
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["code"], Value::Null);
}

#[tokio::test]
async fn moderations_flag_by_words() {
    let sim = sim().await;
    let v = expect(
        post(&sim, P, "/moderations").json(&json!({"input": ["a calm day", "I will kill it"]})),
        200,
    )
    .await;
    assert_eq!(v["model"], "omni-moderation-latest");
    assert!(v["id"].as_str().unwrap().starts_with("modr-"));
    let r = v["results"].as_array().unwrap();
    assert_eq!(
        (r[0]["flagged"].clone(), r[1]["flagged"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(r[1]["categories"]["violence"], true);
    assert!(r[1]["category_scores"]["violence"].as_f64().unwrap() > 0.9);
    assert_eq!(r[0]["categories"].as_object().unwrap().len(), 13);
}

#[tokio::test]
async fn xai_images() {
    let sim = sim().await;
    let x = Provider::Xai;
    let v = expect(
        post(&sim, x, "/images/generations")
            .json(&json!({"model": "grok-2-image", "prompt": "a fox", "size": "1024x1024"})),
        400,
    )
    .await;
    assert_eq!(v["error"], "Argument not supported: size");
    let v = expect(
        post(&sim, x, "/images/generations")
            .json(&json!({"model": "grok-2-image", "prompt": "a fox",
            "response_format": "b64_json", "aspect_ratio": "16:9", "n": 2})),
        200,
    )
    .await;
    assert_eq!(
        png_dims(&b64(v["data"][1]["b64_json"].as_str().unwrap())),
        (32, 18)
    );
    let v = expect(
        post(&sim, x, "/images/generations")
            .json(&json!({"model": "grok-2-image", "prompt": "a fox"})),
        200,
    )
    .await;
    let url = v["data"][0]["url"].as_str().unwrap();
    assert!(url.contains("/xai/sim-files/"), "{url}");
    png_dims(
        &client()
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    expect(
        post(&sim, x, "/images/generations")
            .json(&json!({"model": "grok-2-image", "prompt": "a", "quality": "hd"})),
        422,
    )
    .await;
}

#[tokio::test]
async fn chunked_uploads_with_a_node_boundary() {
    // openai-node 7 streams uploads: chunked, boundary `openai-<base36>` or undici's.
    let sim = sim().await;
    let clip = wav(2.0);
    let boundary = "----formdata-undici-012345678901";
    let mut body = Vec::new();
    for (name, value) in [("model", "whisper-1"), ("response_format", "text")] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(&clip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let total = body.len() as u64;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let r = post(&sim, P, "/audio/transcriptions")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().split(' ').count(), 5);
    assert_eq!(
        sim.stats().upload_bytes_to(P, "/v1/audio/transcriptions"),
        total
    );
}
