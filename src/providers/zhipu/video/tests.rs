//! Zhipu's video API: the requests it builds and the answers it reads, in the documented shapes.

use super::*;
use crate::config::{Config, Secret};
use crate::wire::FaultKind;

const KEY: &str = "zhipu-key-id.zhipu-secret-1";

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "z"
        provider = "zhipu"
        base_url = "http://127.0.0.1:9/zhipu"
        keys = ["zhipu-key-id.zhipu-secret-1"]
        models = ["cogvideox-3"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap()
}

fn r() -> Redactor {
    Redactor::new(&[Secret::new(KEY)])
}

fn with_target<T>(f: impl FnOnce(&Target<'_>) -> T) -> T {
    let c = config();
    let base = c.channels[0].api_base().unwrap();
    let (key, headers) = (Secret::new(KEY), HeaderMap::new());
    f(&Target {
        base_url: &base,
        key: &key,
        extra_headers: &headers,
        channel: &c.channels[0],
        access: None,
    })
}

fn task(url: Option<&str>) -> TaskRef<'_> {
    TaskRef {
        upstream_id: "8209-ab/c",
        upstream_ref: None,
        model: "cogvideox-3",
        result_url: url,
    }
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "cogvideox-3".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(8),
        size: Some("1280x720".into()),
        ..VideoSpec::default()
    }
}

fn body_of(req: &UpstreamRequest) -> Value {
    serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
}

fn poll(body: &str) -> Result<PollReport, VideoError> {
    ZHIPU.read_poll(&HeaderMap::new(), body.as_bytes(), &r())
}

#[test]
fn submit_posts_the_documented_body_with_the_key_as_is() {
    let mut s = spec();
    s.extra.insert("quality".into(), json!("quality"));
    s.extra.insert("with_audio".into(), json!(true));
    s.extra.insert("fps".into(), json!(60));
    s.extra.insert("model".into(), json!("cogvideox-unpriced"));
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    let req = with_target(|t| ZHIPU.submit(t, &s)).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/zhipu/api/paas/v4/videos/generations"
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.headers["content-type"], "application/json");
    let b = body_of(&req);
    assert_eq!(b["model"], "cogvideox-3", "extra never replaces the model");
    assert_eq!(b["prompt"], "a cat surfing");
    assert_eq!(b["size"], "1280x720");
    assert_eq!(b["duration"], 10);
    assert_eq!(b["image_url"], "https://img.example/a.png");
    assert_eq!(
        (&b["quality"], &b["with_audio"], &b["fps"]),
        (&json!("quality"), &json!(true), &json!(60))
    );
}

#[test]
fn image_bytes_go_as_a_data_url_and_short_videos_ask_five_seconds() {
    let mut s = spec();
    s.seconds = Some(4);
    s.image = Some(ImageInput::Bytes {
        mime: "image/png".into(),
        data: Bytes::from_static(b"png!"),
    });
    let b = body_of(&with_target(|t| ZHIPU.submit(t, &s)).unwrap());
    assert_eq!(b["image_url"], "data:image/png;base64,cG5nIQ==");
    assert_eq!(b["duration"], 5);
}

#[test]
fn a_remix_is_not_offered() {
    let mut s = spec();
    s.remix_of = Some("up-1".into());
    assert!(matches!(
        with_target(|t| ZHIPU.submit(t, &s)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn the_submit_answer_gives_the_id_and_its_state() {
    let s = ZHIPU
        .read_submit(
            br#"{"id":"8209-1","request_id":"r1","model":"cogvideox-3","task_status":"PROCESSING"}"#,
            &r(),
        )
        .unwrap();
    assert_eq!(s.upstream_id, "8209-1");
    assert_eq!(s.upstream_ref, None);
    assert_eq!(s.report, Some(PollReport::of(TaskState::InProgress)));
    let bare = ZHIPU.read_submit(br#"{"id":"x"}"#, &r()).unwrap();
    assert_eq!(bare.report, None);
}

#[test]
fn malformed_submit_answers_are_invalid() {
    for body in [
        &b"not json"[..],
        b"[1]",
        br#"{"request_id":"r1"}"#,
        br#"{"id":""}"#,
        br#"{"id":"x","task_status":"DREAMING"}"#,
    ] {
        assert!(
            matches!(ZHIPU.read_submit(body, &r()), Err(VideoError::Invalid(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn an_error_envelope_in_a_2xx_is_a_refusal() {
    let e = ZHIPU
        .read_submit(br#"{"error":{"code":"1113","message":"arrears"}}"#, &r())
        .unwrap_err();
    let VideoError::Refused(f) = e else {
        panic!("{e:?}")
    };
    assert_eq!(f.kind, FaultKind::QuotaExhausted);
}

#[test]
fn poll_gets_the_async_result_with_the_id_escaped() {
    let req = with_target(|t| ZHIPU.poll(t, &task(None)));
    assert_eq!(req.method, Method::GET);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/zhipu/api/paas/v4/async-result/8209-ab%2Fc"
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
}

#[test]
fn every_status_word_maps() {
    let p = poll(r#"{"model":"cogvideox-3","request_id":"r","task_status":"PROCESSING"}"#).unwrap();
    assert_eq!(p, PollReport::of(TaskState::InProgress));
    let p = poll(
        r#"{"model":"cogvideox-3","request_id":"r","task_status":"SUCCESS",
        "video_result":[{"url":"http://127.0.0.1:9/zhipu/sim-files/video-1.mp4","cover_image_url":"c"}]}"#,
    )
    .unwrap();
    assert_eq!(p.state, TaskState::Completed);
    assert_eq!(p.progress, Some(100));
    assert_eq!(
        p.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/zhipu/sim-files/video-1.mp4".into()
        ))
    );
    let p = poll(r#"{"model":"cogvideox-3","request_id":"r","task_status":"FAIL"}"#).unwrap();
    assert_eq!(p.state, TaskState::Failed);
    assert_eq!(p.failure.unwrap().code, "generation_failed");
}

#[test]
fn a_failed_tasks_reason_is_read_and_redacted() {
    let p = poll(&format!(
        r#"{{"task_status":"FAIL","error":{{"code":"1301","message":"unsafe; key {KEY}"}}}}"#
    ))
    .unwrap();
    let f = p.failure.unwrap();
    assert_eq!(f.code, "1301");
    assert!(f.message.starts_with("unsafe"), "{}", f.message);
    assert!(!f.message.contains("zhipu-secret-1"), "{}", f.message);
}

#[test]
fn malformed_polls_are_invalid() {
    for body in [
        "",
        "<html>",
        "{}",
        r#"{"task_status":7}"#,
        r#"{"task_status":"SUCCESS"}"#,
        r#"{"task_status":"SUCCESS","video_result":[]}"#,
        r#"{"task_status":"SUCCESS","video_result":[{"url":""}]}"#,
        r#"{"task_status":"WAITING"}"#,
    ] {
        assert!(matches!(poll(body), Err(VideoError::Invalid(_))), "{body}");
    }
}

#[test]
fn content_fetches_the_cdn_link_without_the_key() {
    let url = "http://127.0.0.1:9/zhipu/sim-files/video-1.mp4";
    let c = with_target(|t| ZHIPU.content(t, &task(Some(url)), Variant::Video)).unwrap();
    let Content::Fetch(req) = c else {
        panic!("a fetch")
    };
    assert_eq!((req.method, req.url.as_str()), (Method::GET, url));
    assert!(req.headers.is_empty());
    for v in [Variant::Thumbnail, Variant::Spritesheet] {
        assert!(matches!(
            with_target(|t| ZHIPU.content(t, &task(Some(url)), v)),
            Err(VideoError::Unsupported(_))
        ));
    }
    assert!(matches!(
        with_target(|t| ZHIPU.content(t, &task(None), Variant::Video)),
        Err(VideoError::Invalid(_))
    ));
    assert!(matches!(
        with_target(|t| ZHIPU.content(t, &task(Some("file:///etc/passwd")), Variant::Video)),
        Err(VideoError::Invalid(_))
    ));
}

#[test]
fn there_is_no_cancel_and_faults_read_the_code_table() {
    assert!(with_target(|t| ZHIPU.cancel(t, &task(None))).is_none());
    let f = ZHIPU.fault(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"error":{"code":"1211","message":"model not found"}}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::NotFound);
}

#[test]
fn zhipu_is_registered_and_its_text_side_reads_errors_through_it() {
    use crate::config::ProviderKind;
    assert!(crate::providers::video::video_api_for(ProviderKind::Zhipu).is_some());
    let f = crate::providers::provider_for(ProviderKind::Zhipu).fault(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"error":{"code":"1211","message":"model not found"}}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::NotFound);
}
