//! OpenAI's JSON-bodied media endpoints (image generations, speech, moderations): error bodies,
//! answers cut or stalled mid-body, clients that leave mid-download and clients that read
//! slowly leave no task, connection, stream or fd behind, and a binary answer is never read
//! ahead of its client.

use super::{warm, REQUEST, SETTLE};
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{eventually, Harness, TOKEN};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const GENERATIONS: &str = "/v1/images/generations";
const SPEECH: &str = "/v1/audio/speech";

/// A 20 s WAV (the simulator's longest speech: about 960 KB, 118 chunks of 8 KiB).
fn long_speech(fault: &str) -> Value {
    json!({"model": "tts-1", "voice": "alloy", "response_format": "wav",
        "input": format!("{} <<sim:{fault}>>", "a long sentence ".repeat(40))})
}

fn image(fault: &str, stream: bool) -> Value {
    if stream {
        json!({"model": "gpt-image-1", "prompt": format!("a kite <<sim:{fault}>>"),
            "stream": true, "partial_images": 2})
    } else {
        json!({"model": "dall-e-2", "prompt": format!("a kite <<sim:{fault}>>"),
            "size": "256x256", "response_format": "b64_json"})
    }
}

/// How one media answer ended for its client.
#[derive(Debug)]
struct Ended {
    status: u16,
    body: Vec<u8>,
    /// The body broke off (a cut connection, not a clean end).
    broken: bool,
}

impl Ended {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// The data of the last event of an event stream.
    fn last_event(&self) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .next_back()
            .unwrap_or_default();
        serde_json::from_str(data.trim()).unwrap_or_default()
    }
}

/// Sends `body` to `path` and reads the answer to its end (or its break), within [`REQUEST`].
async fn send(h: &Harness, path: &str, body: &Value) -> Ended {
    let run = async {
        let resp = h.post(path, body).await;
        let status = resp.status().as_u16();
        let mut stream = resp.bytes_stream();
        let mut out = Vec::new();
        let mut broken = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => out.extend_from_slice(&c),
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        Ended {
            status,
            body: out,
            broken,
        }
    };
    tokio::time::timeout(REQUEST, run)
        .await
        .expect("every media request ended within its deadline")
}

/// `n` requests at once.
async fn burst(h: &Harness, path: &str, n: usize, body: impl Fn(usize) -> Value) -> Vec<Ended> {
    join_all((0..n).map(|i| {
        let b = body(i);
        async move { send(h, path, &b).await }
    }))
    .await
}

/// A relay warmed up on the main routes and on each media endpoint (whole, streamed, binary),
/// with the baseline taken after.
async fn warm_media(
    tweak: impl FnOnce(&mut sluice::Config, &sluice_sim::SimHandle) + 'static,
) -> (Harness, Baseline) {
    let (h, _) = warm(tweak).await;
    for (path, body) in [
        (GENERATIONS, image("none", false)),
        (GENERATIONS, image("none", true)),
        (SPEECH, long_speech("none")),
        (
            "/v1/moderations",
            json!({"model": "omni-moderation-latest", "input": "hi"}),
        ),
    ] {
        let out = send(&h, path, &body).await;
        assert_eq!((out.status, out.broken), (200, false), "warm-up {path}");
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

fn served(h: &Harness, kind: &str, n: u64) {
    super::served(h, kind, n);
}

#[test]
fn image_generation_error_bodies_do_not_leak_connections() {
    // 10 generations at once per status (half of them streams), each answered with the status
    // and its error body: read bounded, the connection reused or closed, never kept.
    leak::run(|| async {
        let (h, base) = warm_media(|_, _| {}).await;
        for status in [429u16, 500, 503, 504] {
            let fault = format!("status={status}, retry-after=0");
            let outs = burst(&h, GENERATIONS, 10, |i| image(&fault, i % 2 == 1)).await;
            for o in &outs {
                assert_eq!(o.status, status, "{o:?}");
                assert!(o.json()["error"]["message"].is_string(), "{o:?}");
            }
            served(&h, &format!("status={status}"), 10);
        }
        assert_eq!(base.requests_since(&h), 40, "each request counted once");
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn truncated_image_generation_bodies_do_not_leak_connections() {
    // An error body and a 200's JSON that promise their length and break off after 20 bytes.
    leak::run(|| async {
        let (h, base) = warm_media(|_, _| {}).await;
        let outs = burst(&h, GENERATIONS, 10, |i| {
            let fault = if i % 2 == 0 {
                "status=503, retry-after=0, truncate=20"
            } else {
                "truncate=20"
            };
            image(fault, false)
        })
        .await;
        for o in &outs {
            assert!(matches!(o.status, 502 | 503), "{o:?}");
            assert!(o.json()["error"]["message"].is_string(), "{o:?}");
        }
        served(&h, "truncate", 10);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn image_event_streams_cut_mid_stream_do_not_leak_connections() {
    // Streams aborted before their `completed` event, after their first event, or stalled after
    // it (the idle deadline ends those): each client's stream ends with an error event.
    leak::run(|| async {
        let (h, base) = warm_media(|c, _| {
            c.timeouts.stream_idle = Duration::from_millis(300);
            c.timeouts.keepalive = Duration::from_millis(100);
        })
        .await;
        for (fault, kind) in [
            ("cut-before-completed", "cut-before-completed"),
            ("cut=1", "cut"),
            ("stall-after=1", "stall-after"),
        ] {
            let outs = burst(&h, GENERATIONS, 8, |_| image(fault, true)).await;
            for o in &outs {
                assert_eq!(o.status, 200, "{fault}: {o:?}");
                let last = o.last_event();
                assert!(last["error"]["message"].is_string(), "{fault}: {last}");
            }
            served(&h, kind, 8);
        }
        assert_eq!(base.requests_since(&h), 24, "each request counted once");
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn speech_streams_cut_mid_download_do_not_leak_connections() {
    // Audio whose connection is aborted after 3 chunks, or whose upstream stops sending
    // halfway and stays open (the idle deadline ends those): the client's body breaks off
    // (its promised length unmet), and the upstream connection is closed, not pooled.
    leak::run(|| async {
        let (h, base) =
            warm_media(|c, _| c.timeouts.stream_idle = Duration::from_millis(300)).await;
        for (fault, kind) in [("cut=3", "cut"), ("stall-download", "stall-download")] {
            let outs = burst(&h, SPEECH, 8, |_| long_speech(fault)).await;
            for o in &outs {
                assert_eq!(o.status, 200, "{fault}: {o:?}");
                assert!(o.broken, "{fault}: a cut body is not a clean end");
            }
            served(&h, kind, 8);
        }
        assert_eq!(base.requests_since(&h), 16, "each request counted once");
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn speech_downloads_abandoned_mid_body_release_the_upstream_at_once() {
    // 10 speech downloads dripping a chunk every 50 ms (about 6 s each), read to their first
    // chunk, then dropped by their clients. The upstream must go at once, not when its audio
    // would have ended: a relay that read on for a client that left holds it for seconds.
    leak::run(|| async {
        let (h, base) = warm_media(|_, _| {}).await;
        let opens = (0..10).map(|_| {
            let h = &h;
            async move {
                let resp = h.post(SPEECH, &long_speech("drip=50ms")).await;
                assert_eq!(resp.status(), 200);
                let mut body = resp.bytes_stream();
                let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
                assert!(matches!(first, Ok(Some(Ok(_)))), "first chunk");
                body
            }
        });
        let held = join_all(opens).await;
        assert_eq!(h.state.monitor.ledger().counts().open_streams, 10);
        assert!(h.sim.stats().connections_open >= 10);
        drop(held);
        eventually(
            Duration::from_secs(1),
            "upstream connections closed once their clients left",
            || {
                let open = h.sim.stats().connections_open;
                async move { open == 0 }
            },
        )
        .await;
        base.assert_returns(&h, SETTLE).await;
        assert_eq!(base.requests_since(&h), 10, "each request counted once");
        h.shutdown().await;
    });
}

#[test]
fn slow_speech_readers_hold_the_upstream_back_and_release_it_at_the_end() {
    // Two clients with a 4 KiB receive buffer take a 3.84 MB WAV a byte every 5 ms for 1.5 s:
    // the relay must not read the audio ahead of them (its upstream connection stays busy
    // under backpressure; a relay that buffered the body would have read it to the end and
    // pooled its connection, closed 200 ms later). Then they read the rest: every byte
    // arrives and everything is released.
    leak::run(|| async {
        let (h, base) = warm_media(|_, _| {}).await;
        // At a quarter of the speed: 80 s, a 3.84 MB WAV, more than the kernel's socket buffers
        // between the relay and its client take (4 MiB send buffer at most, the client's
        // receive buffer pinned at 4 KiB).
        let mut body = long_speech("none");
        body["speed"] = json!(0.25);
        let body = body.to_string();
        let mut readers = Vec::new();
        for _ in 0..2 {
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            let mut tcp = socket.connect(h.addr()).await.unwrap();
            let head = format!(
                "POST {SPEECH} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {TOKEN}\r\n\
                 content-type: application/json\r\nconnection: close\r\n\
                 content-length: {}\r\n\r\n",
                h.addr(),
                body.len()
            );
            tcp.write_all(head.as_bytes()).await.unwrap();
            tcp.write_all(body.as_bytes()).await.unwrap();
            readers.push(tcp);
        }
        let mut got = vec![Vec::new(); readers.len()];
        for _ in 0..300 {
            for (tcp, got) in readers.iter_mut().zip(&mut got) {
                let mut byte = [0u8; 1];
                let n = tokio::time::timeout(REQUEST, tcp.read(&mut byte))
                    .await
                    .unwrap()
                    .unwrap();
                got.extend_from_slice(&byte[..n]);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(h.state.monitor.ledger().counts().open_streams, 2);
        assert_eq!(
            h.sim.stats().connections_open,
            2,
            "each upstream held back by its slow client, not read ahead"
        );
        for (tcp, got) in readers.iter_mut().zip(&mut got) {
            tokio::time::timeout(REQUEST, tcp.read_to_end(got))
                .await
                .unwrap()
                .unwrap();
            let at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let head = String::from_utf8_lossy(&got[..at]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(head.contains("content-type: audio/wav"), "{head}");
            let audio = unchunk(&got[at..]);
            assert!(audio.starts_with(b"RIFF"), "a WAV");
            let riff = u32::from_le_bytes(audio[4..8].try_into().unwrap()) as usize;
            assert_eq!(audio.len(), riff + 8, "every byte of the audio arrived");
        }
        drop(readers);
        base.assert_returns(&h, SETTLE).await;
        assert_eq!(base.requests_since(&h), 2, "each request counted once");
        h.shutdown().await;
    });
}

/// The body of a chunked HTTP/1.1 answer, which must end with its last chunk.
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&raw[..line]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        raw = &raw[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
