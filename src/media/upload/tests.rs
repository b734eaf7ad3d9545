use super::*;
use futures_util::TryStreamExt;
use http::StatusCode;
use std::convert::Infallible;
use tokio::sync::mpsc;

const B: &str = "4f0c2a";

fn part(name: &str, value: &str) -> String {
    format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
}

fn file_part(name: &str, bytes: usize) -> String {
    format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n{}\r\n",
        "w".repeat(bytes)
    )
}

fn end() -> String {
    format!("--{B}--\r\n")
}

fn headers(len: Option<usize>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={B}")).unwrap(),
    );
    if let Some(n) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    h
}

fn limits(dir: &std::path::Path) -> UploadLimits {
    UploadLimits {
        max_body: 1 << 20,
        memory: 1024,
        spool_dir: Some(dir.to_owned()),
        idle: Duration::from_secs(2),
        total: Duration::from_secs(20),
    }
}

/// A body the test writes chunk by chunk (and may stop writing).
fn fed() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (tx, Body::from_stream(stream))
}

fn chunked(body: &str, size: usize) -> Body {
    let chunks: Vec<Result<Bytes, Infallible>> = body
        .as_bytes()
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

async fn collect(body: RequestBody) -> Result<String, String> {
    let RequestBody::Stream(s) = body else {
        panic!("an upload streams")
    };
    let chunks: Vec<Bytes> = s.try_collect().await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8(chunks.concat()).unwrap())
}

#[tokio::test]
async fn text_first_the_head_ends_at_the_file_and_only_the_model_changes() {
    let dir = tempfile::tempdir().unwrap();
    let body = [
        part("model", "whisper-1"),
        part("response_format", "srt"),
        part("stream", "true"),
        file_part("file", 50_000),
        end(),
    ]
    .concat();
    let up = Upload::begin(
        chunked(&body, 700),
        &headers(Some(body.len())),
        limits(dir.path()),
    )
    .await
    .unwrap();
    assert_eq!(up.model(), "whisper-1");
    assert!(up.stream());
    assert_eq!(up.field("response_format"), Some("srt"));
    assert_eq!(up.size_hint(), body.len());
    assert!(
        up.head.len() < 5_000,
        "the file streams live: {}",
        up.head.len()
    );
    let (sent, ct) = up.body("whisper-large").unwrap();
    assert_eq!(ct, headers(None)[header::CONTENT_TYPE]);
    assert_eq!(
        collect(sent).await.unwrap(),
        body.replacen("whisper-1", "whisper-large", 1)
    );
    assert!(up.body("whisper-large").is_none(), "the live rest went out");
    assert!(up.client_fault().is_none());
}

#[tokio::test]
async fn file_first_it_spools_is_whole_and_every_attempt_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let body = [file_part("file", 20_000), part("model", "whisper-1"), end()].concat();
    let up = Upload::begin(chunked(&body, 4096), &headers(None), limits(dir.path()))
        .await
        .unwrap();
    let spool = up.spool().unwrap().to_owned();
    assert!(spool.starts_with(dir.path()));
    for _ in 0..2 {
        let (sent, _) = up.body("whisper-1").unwrap();
        assert_eq!(
            collect(sent).await.unwrap(),
            body,
            "unmapped: byte for byte"
        );
    }
    let (sent, _) = up.body("w2").unwrap();
    assert_eq!(
        collect(sent).await.unwrap(),
        body.replacen("whisper-1", "w2", 1)
    );
    assert_eq!(up.size_hint(), body.len());
    drop(up);
    assert!(!spool.exists());
}

#[tokio::test]
async fn a_body_dropped_before_the_live_rest_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let body = [part("model", "m"), file_part("file", 10_000), end()].concat();
    let up = Upload::begin(chunked(&body, 100), &headers(None), limits(dir.path()))
        .await
        .unwrap();
    let (first, _) = up.body("m").unwrap();
    drop(first);
    let (second, _) = up.body("m").unwrap();
    assert_eq!(collect(second).await.unwrap(), body);
}

#[tokio::test]
async fn refusals_before_routing() {
    let dir = tempfile::tempdir().unwrap();
    let no_model = [part("prompt", "x"), file_part("image", 10), end()].concat();
    let e = Upload::begin(chunked(&no_model, 9), &headers(None), limits(dir.path()))
        .await
        .err()
        .unwrap();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert_eq!(e.to_string(), "you must provide a model parameter");

    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let e = Upload::begin(Body::from("{}"), &json, limits(dir.path()))
        .await
        .err()
        .unwrap();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);

    let e = Upload::begin(Body::empty(), &headers(Some(2 << 20)), limits(dir.path()))
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "Maximum content size limit (1048576) exceeded (2097152 bytes read)"
    );

    let big = [file_part("file", 2 << 20), part("model", "m"), end()].concat();
    let e = Upload::begin(chunked(&big, 64 * 1024), &headers(None), limits(dir.path()))
        .await
        .err()
        .unwrap();
    assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        e.to_string().contains("exceeded (1114112 bytes read)"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no spool left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_before_the_model_is_a_408() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, body) = fed();
    tx.send(Bytes::from(file_part("file", 10))).await.unwrap();
    let e = Upload::begin(body, &headers(None), limits(dir.path()))
        .await
        .err()
        .unwrap();
    assert_eq!(e.status(), StatusCode::REQUEST_TIMEOUT);
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn a_stall_in_the_live_rest_ends_the_body_as_the_clients_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, body) = fed();
    tx.send(Bytes::from(
        [part("model", "m"), file_part("file", 10)].concat(),
    ))
    .await
    .unwrap();
    let up = Upload::begin(body, &headers(None), limits(dir.path()))
        .await
        .unwrap();
    let (sent, _) = up.body("m").unwrap();
    let e = collect(sent).await.unwrap_err();
    assert!(e.contains("stalled"), "{e}");
    assert_eq!(
        up.client_fault().unwrap().status(),
        StatusCode::REQUEST_TIMEOUT
    );
    assert!(up.body("m").is_none());
    drop(tx);
}

#[tokio::test]
async fn too_many_bytes_in_the_live_rest_is_a_413() {
    let dir = tempfile::tempdir().unwrap();
    let body = [part("model", "m"), file_part("file", 2 << 20), end()].concat();
    let up = Upload::begin(
        chunked(&body, 64 * 1024),
        &headers(None),
        limits(dir.path()),
    )
    .await
    .unwrap();
    let (sent, _) = up.body("m").unwrap();
    assert!(collect(sent).await.is_err());
    assert_eq!(
        up.client_fault().unwrap().status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}
