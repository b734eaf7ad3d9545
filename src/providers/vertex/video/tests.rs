//! Veo on Vertex AI: the requests it builds and the operations it reads, in the documented
//! shapes.

use super::*;
use crate::config::{Config, Secret};
use crate::providers::video::ImageInput;
use crate::tasks::TaskState;
use crate::wire::FaultKind;
use base64::Engine as _;

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "v"
        provider = "vertex"
        base_url = "http://127.0.0.1:9/vertex/v1"
        keys = ["{}"]
        models = ["veo-3.0-generate-001"]
        project = "my-project"
        location = "us-central1"
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap()
}

const TOKEN: &str = "ya29.access-token-1";
const ROOT: &str =
    "http://127.0.0.1:9/vertex/v1/projects/my-project/locations/us-central1/publishers/google";
const NAME: &str = "projects/my-project/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/op-9";
const TYPE: &str = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse";

fn r() -> Redactor {
    Redactor::new(&[Secret::new(TOKEN)])
}

fn with_target<T>(f: impl FnOnce(&Target<'_>) -> T) -> T {
    let c = config();
    let base = c.channels[0].api_base().unwrap();
    let (key, headers) = (Secret::new("{}"), HeaderMap::new());
    f(&Target {
        base_url: &base,
        key: &key,
        extra_headers: &headers,
        channel: &c.channels[0],
        access: Some(TOKEN),
    })
}

fn task<'a>(name: Option<&'a str>, url: Option<&'a str>) -> TaskRef<'a> {
    TaskRef {
        upstream_id: "op-9",
        upstream_ref: name,
        model: "veo-3.0-generate-001",
        result_url: url,
    }
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "veo-3.0-generate-001".into(),
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
    VERTEX_VEO.read_poll(&HeaderMap::new(), body.as_bytes(), &r())
}

fn done(response: &str) -> String {
    format!(r#"{{"name":"{NAME}","done":true,"response":{{"@type":"{TYPE}",{response}}}}}"#)
}

#[test]
fn submit_goes_under_the_publisher_path_with_the_access_token() {
    let mut s = spec();
    s.image = Some(ImageInput::Url("gs://bucket/first.jpg".into()));
    s.extra
        .insert("storageUri".into(), json!("gs://bucket/out/"));
    let req = with_target(|t| VERTEX_VEO.submit(t, &s)).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        format!("{ROOT}/models/veo-3.0-generate-001:predictLongRunning")
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {TOKEN}"));
    assert!(req.headers.get("x-goog-api-key").is_none());
    assert_eq!(
        body_of(&req),
        json!({
            "instances": [{"prompt": "a cat surfing",
                "image": {"gcsUri": "gs://bucket/first.jpg", "mimeType": "image/jpeg"}}],
            "parameters": {"durationSeconds": 8, "aspectRatio": "16:9", "resolution": "720p",
                "storageUri": "gs://bucket/out/"},
        })
    );
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    assert!(matches!(
        with_target(|t| VERTEX_VEO.submit(t, &s)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn the_operation_name_gives_the_id_and_the_ref() {
    let s = VERTEX_VEO
        .read_submit(format!(r#"{{"name":"{NAME}"}}"#).as_bytes(), &r())
        .unwrap();
    assert_eq!(
        (s.upstream_id.as_str(), s.upstream_ref.as_deref()),
        ("op-9", Some(NAME))
    );
    assert!(matches!(
        VERTEX_VEO.read_submit(b"{}", &r()),
        Err(VideoError::Invalid(_))
    ));
}

#[test]
fn poll_posts_fetch_predict_operation_with_the_name() {
    for name in [Some(NAME), None] {
        let req = with_target(|t| VERTEX_VEO.poll(t, &task(name, None)));
        assert_eq!(req.method, Method::POST);
        assert_eq!(
            req.url,
            format!("{ROOT}/models/veo-3.0-generate-001:fetchPredictOperation")
        );
        assert_eq!(req.headers["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(req.headers["content-type"], "application/json");
        assert_eq!(body_of(&req), json!({"operationName": NAME}));
    }
}

#[test]
fn operations_map_to_states() {
    assert_eq!(
        poll(&format!(r#"{{"name":"{NAME}","done":false}}"#)).unwrap(),
        PollReport::of(TaskState::InProgress)
    );
    let p = poll(&done(
        r#""raiMediaFilteredCount":0,"videos":[{"bytesBase64Encoded":"AAAA","mimeType":"video/mp4"}]"#,
    ))
    .unwrap();
    assert_eq!(
        (p.state, p.result),
        (TaskState::Completed, Some(VideoResult::Upstream))
    );
    let p = poll(&done(
        r#""videos":[{"gcsUri":"gs://bucket/out/sample_0.mp4","mimeType":"video/mp4"}]"#,
    ))
    .unwrap();
    assert_eq!(
        p.result,
        Some(VideoResult::Url("gs://bucket/out/sample_0.mp4".into()))
    );
    let p = poll(&format!(
        r#"{{"name":"{NAME}","done":true,"error":{{"code":3,"message":"bad prompt {TOKEN}"}}}}"#
    ))
    .unwrap();
    let f = p.failure.unwrap();
    assert_eq!((p.state, f.code.as_str()), (TaskState::Failed, "3"));
    assert!(!f.message.contains("access-token-1"), "{}", f.message);
}

#[test]
fn filtered_media_with_no_videos_fails_as_content_filtered() {
    let p = poll(&done(
        r#""raiMediaFilteredCount":1,"raiMediaFilteredReasons":["Sensitive words"]"#,
    ))
    .unwrap();
    assert_eq!(p.state, TaskState::Failed);
    let f = p.failure.unwrap();
    assert_eq!(
        (f.code.as_str(), f.message.as_str()),
        ("content_filtered", "Sensitive words")
    );
    let p = poll(&done(r#""raiMediaFilteredCount":2"#)).unwrap();
    assert_eq!(p.failure.unwrap().code, "content_filtered");
}

#[test]
fn malformed_operations_are_invalid() {
    for body in [
        "not json".to_owned(),
        r#"{"done":1}"#.to_owned(),
        done(r#""videos":[{"mimeType":"video/mp4"}]"#),
        done(r#""videos":[{"bytesBase64Encoded":""}]"#),
    ] {
        assert!(matches!(poll(&body), Err(VideoError::Invalid(_))), "{body}");
    }
}

#[test]
fn content_reads_the_operation_again_and_decodes_the_mp4() {
    let mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0moov";
    let b64 = base64::engine::general_purpose::STANDARD.encode(mp4);
    let Content::Decode { request, decode } =
        with_target(|t| VERTEX_VEO.content(t, &task(Some(NAME), None), Variant::Video)).unwrap()
    else {
        panic!("a decode")
    };
    assert_eq!(request.method, Method::POST);
    assert!(request.url.ends_with(":fetchPredictOperation"));
    assert_eq!(body_of(&request), json!({"operationName": NAME}));
    let body = done(&format!(
        r#""videos":[{{"bytesBase64Encoded":"{b64}","mimeType":"video/mp4"}}]"#
    ));
    let (mime, bytes) = decode(body.as_bytes()).unwrap();
    assert_eq!((mime.as_str(), &bytes[..]), ("video/mp4", &mp4[..]));
    // A type that is no video's is not passed on.
    let body = done(&format!(
        r#""videos":[{{"bytesBase64Encoded":"{b64}","mimeType":"text/html"}}]"#
    ));
    assert_eq!(decode(body.as_bytes()).unwrap().0, "video/mp4");
    for bad in [
        "nope".to_owned(),
        done(r#""videos":[]"#),
        done(r#""videos":[{"bytesBase64Encoded":"!!not base64!!"}]"#),
    ] {
        assert!(
            matches!(decode(bad.as_bytes()), Err(VideoError::Invalid(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_cloud_storage_result_and_other_variants_are_refused() {
    let e = with_target(|t| {
        VERTEX_VEO.content(
            t,
            &task(Some(NAME), Some("gs://bucket/out/sample_0.mp4")),
            Variant::Video,
        )
    })
    .err()
    .unwrap();
    let VideoError::Unsupported(m) = e else {
        panic!("{e:?}")
    };
    assert!(m.contains("gs://"), "{m}");
    assert!(matches!(
        with_target(|t| VERTEX_VEO.content(t, &task(Some(NAME), None), Variant::Spritesheet)),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn faults_are_vertex_errors_and_there_is_no_cancel() {
    let f = VERTEX_VEO.fault(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::KeyRefused);
    let f = VERTEX_VEO.fault(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        br#"[{"error":{"code":404,"message":"no model","status":"NOT_FOUND"}}]"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::NotFound);
    assert!(with_target(|t| VERTEX_VEO.cancel(t, &task(Some(NAME), None))).is_none());
}
