//! Veo on the Gemini API: the requests it builds and the operations it reads, in the
//! documented shapes.

use super::*;
use crate::config::{Config, Secret};
use crate::wire::FaultKind;

const KEY: &str = "AIzaconfigured-key-1";

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "g"
        provider = "gemini"
        base_url = "http://127.0.0.1:9/gemini/v1beta"
        keys = ["AIzaconfigured-key-1"]
        models = ["veo-3.0-generate-001"]
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

const NAME: &str = "models/veo-3.0-generate-001/operations/op-123";

fn task<'a>(name: Option<&'a str>, url: Option<&'a str>) -> TaskRef<'a> {
    TaskRef {
        upstream_id: "op-123",
        upstream_ref: name,
        model: "veo-3.0-generate-001",
        result_url: url,
    }
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "veo-3.0-generate-001".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(12),
        size: Some("720x1280".into()),
        ..VideoSpec::default()
    }
}

fn body_of(req: &UpstreamRequest) -> Value {
    serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
}

fn poll(body: &str) -> Result<PollReport, VideoError> {
    GEMINI_VEO.read_poll(&HeaderMap::new(), body.as_bytes(), &r())
}

const TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse";

#[test]
fn submit_predicts_long_running_with_the_documented_body() {
    let mut s = spec();
    s.image = Some(ImageInput::Bytes {
        mime: "image/png".into(),
        data: Bytes::from_static(b"png!"),
    });
    s.extra.insert("negativePrompt".into(), json!("rain"));
    let req = with_target(|t| GEMINI_VEO.submit(t, &s)).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/gemini/v1beta/models/veo-3.0-generate-001:predictLongRunning"
    );
    assert_eq!(req.headers["x-goog-api-key"], KEY);
    assert_eq!(
        body_of(&req),
        json!({
            "instances": [{"prompt": "a cat surfing",
                "image": {"bytesBase64Encoded": "cG5nIQ==", "mimeType": "image/png"}}],
            "parameters": {"durationSeconds": 8, "aspectRatio": "9:16", "resolution": "720p",
                "negativePrompt": "rain"},
        })
    );
}

#[test]
fn the_size_picks_the_ratio_and_resolution_and_short_asks_are_four_seconds() {
    let mut s = spec();
    s.size = Some("1920x1080".into());
    s.seconds = Some(2);
    let b = body_of(&with_target(|t| GEMINI_VEO.submit(t, &s)).unwrap());
    assert_eq!(
        b["parameters"],
        json!({"durationSeconds": 4, "aspectRatio": "16:9", "resolution": "1080p"})
    );
    s.size = None;
    s.seconds = None;
    let b = body_of(&with_target(|t| GEMINI_VEO.submit(t, &s)).unwrap());
    assert_eq!(b["parameters"], json!({}));
}

#[test]
fn an_image_url_and_a_remix_are_not_offered() {
    let mut s = spec();
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    assert!(matches!(
        with_target(|t| GEMINI_VEO.submit(t, &s)),
        Err(VideoError::Unsupported(_))
    ));
    let mut s = spec();
    s.remix_of = Some("op-1".into());
    assert!(matches!(
        with_target(|t| GEMINI_VEO.submit(t, &s)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn the_operation_name_gives_the_id_and_the_ref() {
    let s = GEMINI_VEO
        .read_submit(format!(r#"{{"name":"{NAME}"}}"#).as_bytes(), &r())
        .unwrap();
    assert_eq!(s.upstream_id, "op-123");
    assert_eq!(s.upstream_ref.as_deref(), Some(NAME));
    assert_eq!(s.report, None);
    for body in [
        "nope",
        "{}",
        r#"{"name":7}"#,
        r#"{"name":"models/veo"}"#,
        r#"{"name":"models/veo/operations/"}"#,
    ] {
        assert!(
            matches!(
                GEMINI_VEO.read_submit(body.as_bytes(), &r()),
                Err(VideoError::Invalid(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn poll_gets_the_operation_by_name_and_cannot_leave_the_base() {
    let req = with_target(|t| GEMINI_VEO.poll(t, &task(Some(NAME), None)));
    assert_eq!(req.method, Method::GET);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/gemini/v1beta/models/veo-3.0-generate-001/operations/op-123"
    );
    assert_eq!(req.headers["x-goog-api-key"], KEY);
    let req = with_target(|t| GEMINI_VEO.poll(t, &task(None, None)));
    assert!(req
        .url
        .ends_with("/v1beta/models/veo-3.0-generate-001/operations/op-123"));
    let evil = "../../x/operations/a?b#c";
    let req = with_target(|t| GEMINI_VEO.poll(t, &task(Some(evil), None)));
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/gemini/v1beta/x/operations/a%3Fb%23c"
    );
}

#[test]
fn an_operation_not_done_is_in_progress() {
    for body in [
        format!(r#"{{"name":"{NAME}"}}"#),
        format!(r#"{{"name":"{NAME}","done":false}}"#),
    ] {
        assert_eq!(poll(&body).unwrap(), PollReport::of(TaskState::InProgress));
    }
}

#[test]
fn a_done_operation_gives_the_samples_uri() {
    let uri = "http://127.0.0.1:9/gemini/v1beta/files/f1:download?alt=media";
    let body = format!(
        r#"{{"name":"{NAME}","done":true,"response":{{"@type":"{TYPE}",
        "generateVideoResponse":{{"generatedSamples":[{{"video":{{"uri":"{uri}"}}}}]}}}}}}"#
    );
    let p = poll(&body).unwrap();
    assert_eq!(p.state, TaskState::Completed);
    assert_eq!(p.progress, Some(100));
    assert_eq!(p.result, Some(VideoResult::Url(uri.into())));
}

#[test]
fn an_operation_error_fails_the_task_redacted() {
    let body = format!(
        r#"{{"name":"{NAME}","done":true,"error":{{"code":13,"message":"internal; key {KEY}"}}}}"#
    );
    let p = poll(&body).unwrap();
    assert_eq!(p.state, TaskState::Failed);
    let f = p.failure.unwrap();
    assert_eq!(f.code, "13");
    assert!(f.message.starts_with("internal"), "{}", f.message);
    assert!(!f.message.contains("configured-key-1"), "{}", f.message);
    let p = poll(r#"{"done":true,"error":{"code":3,"status":"INVALID_ARGUMENT"}}"#).unwrap();
    assert_eq!(p.failure.unwrap().code, "INVALID_ARGUMENT");
}

#[test]
fn filtered_media_fails_as_content_filtered_with_the_reasons() {
    let body = format!(
        r#"{{"name":"{NAME}","done":true,"response":{{"@type":"{TYPE}","generateVideoResponse":{{
        "raiMediaFilteredCount":1,"raiMediaFilteredReasons":["Unsafe content", "key {KEY}"]}}}}}}"#
    );
    let f = poll(&body).unwrap().failure.unwrap();
    assert_eq!(f.code, "content_filtered");
    assert!(
        f.message.starts_with("Unsafe content; key "),
        "{}",
        f.message
    );
    assert!(!f.message.contains("configured-key-1"), "{}", f.message);
    let p = poll(r#"{"done":true,"response":{"generateVideoResponse":{}}}"#).unwrap();
    assert_eq!(p.failure.unwrap().code, "no_video");
}

#[test]
fn malformed_operations_are_invalid() {
    for body in [
        "",
        "<html>",
        "[]",
        r#"{"done":"yes"}"#,
        r#"{"done":true,"response":{"generateVideoResponse":{"generatedSamples":[{"video":{}}]}}}"#,
    ] {
        assert!(matches!(poll(body), Err(VideoError::Invalid(_))), "{body}");
    }
}

#[test]
fn content_sends_the_key_only_to_the_channels_origin() {
    let own = "http://127.0.0.1:9/gemini/v1beta/files/f1:download?alt=media";
    let Content::Fetch(req) =
        with_target(|t| GEMINI_VEO.content(t, &task(Some(NAME), Some(own)), Variant::Video))
            .unwrap()
    else {
        panic!("a fetch")
    };
    assert_eq!((req.method, req.url.as_str()), (Method::GET, own));
    assert_eq!(req.headers["x-goog-api-key"], KEY);
    for other in [
        "http://127.0.0.1:10/gemini/v1beta/files/f1:download",
        "https://127.0.0.1:9/files/f1",
        "http://cdn.example/f1.mp4",
    ] {
        let Content::Fetch(req) =
            with_target(|t| GEMINI_VEO.content(t, &task(Some(NAME), Some(other)), Variant::Video))
                .unwrap()
        else {
            panic!("a fetch")
        };
        assert!(req.headers.is_empty(), "{other}");
    }
    assert!(matches!(
        with_target(|t| GEMINI_VEO.content(t, &task(Some(NAME), Some(own)), Variant::Thumbnail)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn inline_sample_bytes_are_decoded_from_the_operation() {
    let body = r#"{"done":true,"response":{"generateVideoResponse":{"generatedSamples":[
        {"video":{"encodedVideo":"AAAAGGZ0eXA=","encoding":"video/mp4"}}]}}}"#;
    assert_eq!(poll(body).unwrap().result, Some(VideoResult::Upstream));
    let Content::Decode { request, decode } =
        with_target(|t| GEMINI_VEO.content(t, &task(Some(NAME), None), Variant::Video)).unwrap()
    else {
        panic!("a decode")
    };
    assert_eq!(request.method, Method::GET);
    assert!(request.url.ends_with("/operations/op-123"));
    let (mime, bytes) = decode(body.as_bytes()).unwrap();
    assert_eq!(mime, "video/mp4");
    assert_eq!(&bytes[..], b"\0\0\0\x18ftyp");
    assert!(matches!(decode(b"{}"), Err(VideoError::Invalid(_))));
}

#[test]
fn faults_are_gemini_errors_and_there_is_no_cancel() {
    let f = GEMINI_VEO.fault(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::RateLimited);
    assert!(with_target(|t| GEMINI_VEO.cancel(t, &task(Some(NAME), None))).is_none());
}

#[test]
fn gemini_and_vertex_are_registered() {
    use crate::config::ProviderKind;
    assert!(crate::providers::video::video_api_for(ProviderKind::Gemini).is_some());
    assert!(crate::providers::video::video_api_for(ProviderKind::Vertex).is_some());
}
