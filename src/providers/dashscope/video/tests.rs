//! DashScope's video API: the requests it builds and the answers it reads, in the documented
//! shapes.

use super::*;
use crate::config::{Config, Secret};
use crate::wire::FaultKind;

const KEY: &str = "sk-dashscope-secret-1";

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "d"
        provider = "dashscope"
        base_url = "http://127.0.0.1:9/dashscope"
        keys = ["sk-dashscope-secret-1"]
        models = ["wan2.2-t2v-plus"]
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
        upstream_id: "0385dc79-5ff8",
        upstream_ref: None,
        model: "wan2.2-t2v-plus",
        result_url: url,
    }
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "wan2.2-t2v-plus".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(4),
        size: Some("1280x720".into()),
        ..VideoSpec::default()
    }
}

fn body_of(req: &UpstreamRequest) -> Value {
    serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
}

fn poll(body: &str) -> Result<PollReport, VideoError> {
    DASHSCOPE.read_poll(&HeaderMap::new(), body.as_bytes(), &r())
}

fn output(status: &str, more: &str) -> String {
    format!(
        r#"{{"request_id":"r1","output":{{"task_id":"t1","task_status":"{status}","submit_time":"2025-01-01 10:00:00.000"{more}}}}}"#
    )
}

#[test]
fn submit_is_async_with_the_documented_text_to_video_body() {
    let mut s = spec();
    s.extra.insert("prompt_extend".into(), json!(true));
    s.extra.insert("seed".into(), json!(7));
    s.extra.insert("model".into(), json!("wan-unpriced"));
    s.extra
        .insert("input".into(), json!({"negative_prompt": "rain"}));
    let req = with_target(|t| DASHSCOPE.submit(t, &s)).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/dashscope/api/v1/services/aigc/video-generation/video-synthesis"
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.headers["x-dashscope-async"], "enable");
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(
        body_of(&req),
        json!({
            "model": "wan2.2-t2v-plus",
            "input": {"prompt": "a cat surfing", "negative_prompt": "rain"},
            "parameters": {"size": "1280*720", "duration": 5, "prompt_extend": true, "seed": 7},
        })
    );
}

#[test]
fn image_to_video_names_the_image_and_a_resolution() {
    let mut s = spec();
    s.seconds = Some(8);
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    let b = body_of(&with_target(|t| DASHSCOPE.submit(t, &s)).unwrap());
    assert_eq!(b["input"]["img_url"], "https://img.example/a.png");
    assert_eq!(
        b["parameters"],
        json!({"resolution": "720P", "duration": 10})
    );
    s.image = Some(ImageInput::Bytes {
        mime: "image/jpeg".into(),
        data: Bytes::from_static(b"jpg"),
    });
    s.size = Some("1080x1920".into());
    let b = body_of(&with_target(|t| DASHSCOPE.submit(t, &s)).unwrap());
    assert_eq!(b["input"]["img_url"], "data:image/jpeg;base64,anBn");
    assert_eq!(b["parameters"]["resolution"], "1080P");
}

#[test]
fn a_remix_is_not_offered() {
    let mut s = spec();
    s.remix_of = Some("t0".into());
    assert!(matches!(
        with_target(|t| DASHSCOPE.submit(t, &s)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn the_submit_answer_gives_the_task_id_and_its_state() {
    let s = DASHSCOPE
        .read_submit(
            br#"{"output":{"task_id":"0385dc79","task_status":"PENDING"},"request_id":"r1"}"#,
            &r(),
        )
        .unwrap();
    assert_eq!(s.upstream_id, "0385dc79");
    assert_eq!(s.report, Some(PollReport::of(TaskState::Queued)));
}

#[test]
fn malformed_answers_are_invalid() {
    for body in [
        "not json",
        "[]",
        r#"{"request_id":"r1"}"#,
        r#"{"output":"x"}"#,
        r#"{"output":{"task_status":"PENDING"}}"#,
        r#"{"output":{"task_id":"t","task_status":"WAITING"}}"#,
    ] {
        assert!(
            matches!(
                DASHSCOPE.read_submit(body.as_bytes(), &r()),
                Err(VideoError::Invalid(_))
            ),
            "{body}"
        );
    }
    for body in [
        "",
        "{not json",
        r#"{"request_id":"r1"}"#,
        r#"{"output":{"task_id":"t1"}}"#,
        &output("SUCCEEDED", ""),
        &output("SUCCEEDED", r#","video_url":"""#),
        &output("DONE", ""),
    ] {
        assert!(matches!(poll(body), Err(VideoError::Invalid(_))), "{body}");
    }
}

#[test]
fn an_error_body_in_a_2xx_is_a_refusal() {
    let e = DASHSCOPE
        .read_submit(
            br#"{"request_id":"r1","code":"AccessDenied","message":"current user api does not support synchronous calls"}"#,
            &r(),
        )
        .unwrap_err();
    let VideoError::Refused(f) = e else {
        panic!("{e:?}")
    };
    assert_eq!(f.kind, FaultKind::Permission);
}

#[test]
fn poll_and_cancel_address_the_task() {
    let req = with_target(|t| DASHSCOPE.poll(t, &task(None)));
    assert_eq!(req.method, Method::GET);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/dashscope/api/v1/tasks/0385dc79-5ff8"
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert!(req.headers.get("x-dashscope-async").is_none());
    let c = with_target(|t| DASHSCOPE.cancel(t, &task(None))).unwrap();
    assert_eq!(c.method, Method::POST);
    assert_eq!(
        c.url,
        "http://127.0.0.1:9/dashscope/api/v1/tasks/0385dc79-5ff8/cancel"
    );
    assert_eq!(c.headers["authorization"], format!("Bearer {KEY}"));
}

#[test]
fn every_status_word_maps() {
    assert_eq!(
        poll(&output("PENDING", "")).unwrap(),
        PollReport::of(TaskState::Queued)
    );
    assert_eq!(
        poll(&output("RUNNING", "")).unwrap(),
        PollReport::of(TaskState::InProgress)
    );
    let done = r#"{"request_id":"r1","output":{"task_id":"t1","task_status":"SUCCEEDED","end_time":"x",
        "video_url":"http://127.0.0.1:9/dashscope/sim-files/video-t1.mp4"},"usage":{"duration":5,"video_count":1}}"#;
    let p = poll(done).unwrap();
    assert_eq!(p.state, TaskState::Completed);
    assert_eq!(
        p.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/dashscope/sim-files/video-t1.mp4".into()
        ))
    );
    assert_eq!((p.progress, p.seconds), (Some(100), Some(5.0)));
    assert_eq!(
        poll(&output("CANCELED", "")).unwrap(),
        PollReport::of(TaskState::Cancelled)
    );
    let p = poll(&output("UNKNOWN", "")).unwrap();
    assert_eq!(p.state, TaskState::Failed);
    assert_eq!(p.failure.unwrap().code, "task_unknown");
    let p = poll(&output("FAILED", "")).unwrap();
    assert_eq!(p.failure.unwrap().code, "generation_failed");
}

#[test]
fn a_failed_tasks_code_and_message_are_read_and_redacted() {
    let p = poll(&output(
        "FAILED",
        &format!(r#","code":"InvalidParameter","message":"bad img_url; key {KEY}""#),
    ))
    .unwrap();
    assert_eq!(p.state, TaskState::Failed);
    let f = p.failure.unwrap();
    assert_eq!(f.code, "InvalidParameter");
    assert!(f.message.starts_with("bad img_url"), "{}", f.message);
    assert!(!f.message.contains("dashscope-secret-1"), "{}", f.message);
}

#[test]
fn a_duration_given_as_text_is_read() {
    let done = r#"{"output":{"task_id":"t1","task_status":"SUCCEEDED","video_url":"https://oss/v.mp4"},"usage":{"duration":"10.0"}}"#;
    assert_eq!(poll(done).unwrap().seconds, Some(10.0));
    let bad = r#"{"output":{"task_id":"t1","task_status":"SUCCEEDED","video_url":"https://oss/v.mp4"},"usage":{"duration":-1}}"#;
    assert_eq!(poll(bad).unwrap().seconds, None);
}

#[test]
fn content_fetches_the_result_link_without_the_key() {
    let url = "http://127.0.0.1:9/dashscope/sim-files/video-t1.mp4";
    let Content::Fetch(req) =
        with_target(|t| DASHSCOPE.content(t, &task(Some(url)), Variant::Video)).unwrap()
    else {
        panic!("a fetch")
    };
    assert_eq!((req.method, req.url.as_str()), (Method::GET, url));
    assert!(req.headers.is_empty());
    assert!(matches!(
        with_target(|t| DASHSCOPE.content(t, &task(Some(url)), Variant::Thumbnail)),
        Err(VideoError::Unsupported(_))
    ));
    assert!(matches!(
        with_target(|t| DASHSCOPE.content(t, &task(None), Variant::Video)),
        Err(VideoError::Invalid(_))
    ));
}

#[test]
fn faults_read_the_code_words() {
    let f = DASHSCOPE.fault(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        br#"{"request_id":"r1","code":"Throttling.RateQuota","message":"slow down"}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::RateLimited);
}

#[test]
fn dashscope_is_registered_and_its_text_side_reads_errors_through_it() {
    use crate::config::ProviderKind;
    assert!(crate::providers::video::video_api_for(ProviderKind::Dashscope).is_some());
    let f = crate::providers::provider_for(ProviderKind::Dashscope).fault(
        StatusCode::FORBIDDEN,
        &HeaderMap::new(),
        br#"{"request_id":"r1","code":"Arrearage","message":"overdue"}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::QuotaExhausted);
}
