//! Faults on the media endpoints: status errors on uploads, truncated, cut, dripped and
//! stalled binary bodies, uploads that stop being read, image and transcript streams cut
//! before their final event or broken, content-policy refusals; all counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::media::*;
use common::*;
use serde_json::json;
use sluice_sim::{Provider, SimConfig};

const P: Provider = Provider::OpenAi;

fn speech() -> serde_json::Value {
    // 1000 characters: 20 s of pcm = 960000 bytes.
    json!({"model": "gpt-4o-mini-tts", "input": "x".repeat(1000), "voice": "alloy", "response_format": "pcm"})
}

fn transcription(sim: &sluice_sim::SimHandle, extra: &[Part<'_>]) -> reqwest::RequestBuilder {
    let clip = wav(2.0);
    let mut parts = vec![Part::Text("model", "gpt-4o-transcribe")];
    parts.extend(extra.iter().map(|p| match p {
        Part::Text(n, v) => Part::Text(n, v),
        Part::File(n, f, c, d) => Part::File(n, f, c, d),
    }));
    parts.push(Part::File("file", "a.wav", "audio/wav", &clip));
    let (ct, body) = httpx_form(&parts);
    post(sim, P, "/audio/transcriptions")
        .header("content-type", ct)
        .body(body)
}

#[tokio::test]
async fn status_faults_on_uploads_and_binary_answers() {
    let sim = sim().await;
    for code in [429, 500, 503, 504] {
        let v = expect(
            with_fault(transcription(&sim, &[]), &format!("status={code}")),
            code,
        )
        .await;
        assert!(v["error"]["message"].is_string());
        let v = expect(
            with_fault(
                post(&sim, P, "/audio/speech").json(&speech()),
                &format!("status={code}"),
            ),
            code,
        )
        .await;
        assert!(v["error"]["type"].is_string());
    }
    let s = sim.stats();
    assert_eq!(s.faults_of("status=429"), 2);
    assert_eq!(s.uploads_to(P, "/v1/audio/transcriptions"), 4);
}

#[tokio::test]
async fn binary_bodies_truncate_cut_drip_and_no_done() {
    let sim = sim().await;
    let run = |fault: &'static str| {
        let sim = &sim;
        async move {
            let r = with_fault(post(sim, P, "/audio/speech").json(&speech()), fault)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            read_all(r).await
        }
    };
    let (whole, failed) = run("none").await;
    assert_eq!((whole.len(), failed), (960_000, false));
    let (b, failed) = run("truncate=1000").await;
    assert_eq!((b.len(), failed), (1000, true));
    let (b, failed) = run("cut=3").await;
    assert_eq!((b.len(), failed), (3 * 8192, true));
    assert_eq!(b, whole[..3 * 8192]);
    let (b, failed) = run("no-done").await;
    assert_eq!((b.len(), failed), (whole.len() - whole.len() % 8192, false));
    let (b, failed) = run("drip=0ms..1ms, malformed, oversize=2MiB").await;
    assert_eq!(
        (b, failed),
        (whole.clone(), false),
        "content faults leave binary alone"
    );
    let s = sim.stats();
    assert_eq!(
        (
            s.faults_of("truncate"),
            s.faults_of("cut"),
            s.faults_of("drip")
        ),
        (1, 1, 1)
    );
    assert_eq!(s.faults_of("malformed"), 0);

    // An image file from a URL answer, cut.
    let v = expect(
        post(&sim, P, "/images/generations").json(&json!({"prompt": "a fox"})),
        200,
    )
    .await;
    let url = v["data"][0]["url"].as_str().unwrap();
    let r = with_fault(client().get(url), "truncate=20")
        .send()
        .await
        .unwrap();
    let promised: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(promised > 20, "the whole file's length is promised");
    let (b, failed) = read_all(r).await;
    assert_eq!((b.len(), failed), (20, true));
}

#[tokio::test]
async fn stall_download_sends_part_then_nothing() {
    let sim = sim().await;
    let r = with_fault(
        post(&sim, P, "/audio/speech").json(&speech()),
        "stall-download=10000",
    )
    .send()
    .await
    .unwrap();
    let mut r = r;
    let mut got = 0;
    loop {
        match tokio::time::timeout(Duration::from_millis(300), r.chunk()).await {
            Ok(Ok(Some(c))) => got += c.len(),
            Ok(other) => panic!("the body ended: {other:?}"),
            Err(_) => break,
        }
    }
    assert_eq!(got, 10_000);
    drop(r);
    assert_eq!(sim.stats().faults_of("stall-download"), 1);
    assert!(eventually(Duration::from_secs(2), || sim.stats().connections_open == 0).await);
}

#[tokio::test]
async fn stall_upload_stops_reading_mid_upload() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = sim().await;
    let big = vec![7u8; 4 << 20];
    let (ct, body) = httpx_form(&[
        Part::Text("model", "whisper-1"),
        Part::File("file", "big.wav", "audio/wav", &big),
    ]);
    let head = format!(
        "POST /openai/v1/audio/transcriptions HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {OPENAI_KEY}\r\n\
         x-sim-fault: stall-upload=64KiB\r\ncontent-type: {ct}\r\ncontent-length: {}\r\n\r\n",
        sim.addr(),
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The upload blocks once the socket buffers are full: the simulator stopped reading.
    let wrote = tokio::time::timeout(Duration::from_millis(500), tcp.write_all(&body)).await;
    assert!(wrote.is_err(), "a 4 MiB upload went through unread buffers");
    let mut answer = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut answer)).await;
    assert!(got.is_err(), "no answer while the upload is stalled");
    let s = sim.stats();
    let read = s.upload_bytes_to(P, "/v1/audio/transcriptions");
    assert!((64 << 10..1 << 20).contains(&read), "read {read} bytes");
    assert_eq!(s.faults_of("stall-upload"), 1);
    // A client that aborts (RST) is noticed at once, though nothing is read any more.
    socket2::SockRef::from(&tcp)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(tcp);
    assert!(eventually(Duration::from_secs(2), || sim.stats().connections_open == 0).await);
}

#[tokio::test]
async fn directive_in_an_upload_prompt_picks_the_fault() {
    let sim = sim().await;
    let img = png_file(8, 8);
    let (ct, body) = httpx_form(&[
        Part::Text("prompt", "a hat <<sim:moderation-blocked>>"),
        Part::Text("model", "gpt-image-1"),
        Part::File("image", "a.png", "image/png", &img),
    ]);
    let v = expect(
        post(&sim, P, "/images/edits")
            .header("content-type", ct)
            .body(body),
        400,
    )
    .await;
    assert_eq!(v["error"]["code"], "moderation_blocked");
    assert_eq!(v["error"]["type"], "image_generation_user_error");
    let v = expect(
        with_fault(
            post(&sim, P, "/images/generations").json(&json!({"model": "dall-e-3", "prompt": "x"})),
            "moderation-blocked",
        ),
        400,
    )
    .await;
    assert_eq!(v["error"]["code"], "content_policy_violation");
    assert_eq!(sim.stats().faults_of("moderation-blocked"), 2);
}

#[tokio::test]
async fn image_and_transcript_streams_cut_before_completed_or_broken() {
    let sim = sim().await;
    let body =
        json!({"model": "gpt-image-1", "prompt": "a fox", "stream": true, "partial_images": 2});
    let r = with_fault(
        post(&sim, P, "/images/generations").json(&body),
        "cut-before-completed",
    )
    .send()
    .await
    .unwrap();
    let (b, failed) = read_all(r).await;
    assert!(failed);
    let events = parse_sse(&String::from_utf8_lossy(&b));
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.name.as_deref() == Some("image_generation.partial_image")));

    let r = with_fault(
        transcription(&sim, &[Part::Text("stream", "true")]),
        "cut-before-completed",
    )
    .send()
    .await
    .unwrap();
    let (b, failed) = read_all(r).await;
    let text = String::from_utf8_lossy(&b);
    assert!(failed && !text.contains("transcript.text.done"), "{text}");

    let r = with_fault(
        transcription(&sim, &[Part::Text("stream", "true")]),
        "malformed",
    )
    .send()
    .await
    .unwrap();
    let (b, _) = read_all(r).await;
    let events = parse_sse(&String::from_utf8_lossy(&b));
    assert!(serde_json::from_str::<serde_json::Value>(&events[1].data).is_err());

    let r = with_fault(
        post(&sim, P, "/images/generations").json(&body),
        "error-event=1",
    )
    .send()
    .await
    .unwrap();
    let events = parse_sse(&r.text().await.unwrap());
    assert_eq!(events.len(), 2);
    assert!(events[1].json()["error"].is_object());
    assert_eq!(sim.stats().faults_of("cut-before-completed"), 2);
}

#[tokio::test]
async fn resets_and_seeded_mix_on_media() {
    let sim = sim().await;
    let r = with_fault(post(&sim, P, "/audio/speech").json(&speech()), "reset")
        .send()
        .await;
    assert!(r.is_err());
    let r = with_fault(transcription(&sim, &[]), "reset").send().await;
    assert!(r.is_err());

    // Same seed, same faults on the same requests.
    let outcome = |seed: u64| async move {
        let sim = sluice_sim::start(SimConfig {
            seed,
            mix: Some(sluice_sim::Mix::parse("status=503:40%, cut=1:30%").unwrap()),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..12 {
            let r = transcription(&sim, &[Part::Text("stream", "true")])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let (_, failed) = read_all(r).await;
            out.push((status, failed));
        }
        out
    };
    let a = outcome(7).await;
    assert_eq!(a, outcome(7).await);
    assert!(a.iter().any(|o| o.0 == 503) && a.iter().any(|o| o.1));
}
