//! Viggle's video API: the render form, the job in every status, failures, malformed bodies
//! and errors.

use super::*;
use crate::config::{Config, Secret};
use crate::providers::video::{ImageInput, VideoResult};
use crate::tasks::{TaskFailure, TaskState};
use crate::wire::FaultKind;
use serde_json::{json, Value};

struct Chan {
    config: Config,
    base: String,
    key: Secret,
    headers: HeaderMap,
}

fn chan() -> Chan {
    let config = Config::parse(
        r#"
        [[channels]]
        name = "viggle"
        provider = "viggle"
        base_url = "http://127.0.0.1:9/viggle"
        keys = ["viggle-secret-key"]
        models = ["V4_Preview"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap();
    let base = config.channels[0].api_base().unwrap();
    Chan {
        config,
        base,
        key: Secret::new("viggle-secret-key"),
        headers: HeaderMap::new(),
    }
}

impl Chan {
    fn target(&self) -> Target<'_> {
        Target {
            base_url: &self.base,
            key: &self.key,
            extra_headers: &self.headers,
            channel: &self.config.channels[0],
            access: None,
        }
    }
}

fn r() -> Redactor {
    Redactor::new(&[Secret::new("viggle-secret-key")])
}

/// The form's fields: name, file name, bytes.
async fn fields(req: &UpstreamRequest) -> Vec<(String, Option<String>, Bytes)> {
    let ct = req.headers["content-type"].to_str().unwrap().to_owned();
    let boundary = multer::parse_boundary(&ct).unwrap();
    let body = req.body.as_bytes().unwrap().clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut m = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Some(f) = m.next_field().await.unwrap() {
        let name = f.name().unwrap().to_owned();
        let file = f.file_name().map(str::to_owned);
        out.push((name, file, f.bytes().await.unwrap()));
    }
    out
}

#[tokio::test]
async fn submit_is_a_multipart_render_with_extra_fields() {
    let c = chan();
    let mut s = VideoSpec {
        model: "V4_Preview".into(),
        prompt: "dance".into(),
        ..VideoSpec::default()
    };
    s.extra
        .insert("driving_video_url".into(), json!("https://v.example/d.mp4"));
    s.extra.insert("background_mode".into(), json!("solid"));
    s.extra.insert("fast".into(), json!(true));
    s.extra
        .insert("character_mapping".into(), json!({"0": "c1"}));
    s.image = Some(ImageInput::Url("https://img.example/ref.png".into()));
    let req = VIGGLE.submit(&c.target(), &s).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.url, "http://127.0.0.1:9/viggle/api/render");
    assert_eq!(req.headers["authorization"], "Bearer viggle-secret-key");
    let got = fields(&req).await;
    let get = |n: &str| {
        got.iter()
            .find(|(k, _, _)| k == n)
            .map(|(_, _, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(get("model").as_deref(), Some("V4_Preview"));
    assert_eq!(
        get("ref_image_url").as_deref(),
        Some("https://img.example/ref.png")
    );
    assert_eq!(
        get("driving_video_url").as_deref(),
        Some("https://v.example/d.mp4")
    );
    assert_eq!(get("background_mode").as_deref(), Some("solid"));
    assert_eq!(get("fast").as_deref(), Some("true"));
    assert_eq!(get("character_mapping").as_deref(), Some(r#"{"0":"c1"}"#));
    assert_eq!(get("prompt").as_deref(), Some("dance"), "ignored by Viggle");
}

#[tokio::test]
async fn an_image_as_bytes_goes_as_the_ref_image_file() {
    let c = chan();
    let s = VideoSpec {
        model: "V3_Preview".into(),
        image: Some(ImageInput::Bytes {
            mime: "image/webp".into(),
            data: Bytes::from_static(b"RIFFwebp"),
        }),
        ..VideoSpec::default()
    };
    let req = VIGGLE.submit(&c.target(), &s).unwrap();
    let got = fields(&req).await;
    let file = got.iter().find(|(k, _, _)| k == "ref_image").unwrap();
    assert_eq!(file.1.as_deref(), Some("image.webp"));
    assert_eq!(&file.2[..], b"RIFFwebp");
    let remix = VideoSpec {
        remix_of: Some("job_1".into()),
        ..s
    };
    assert!(matches!(
        VIGGLE.submit(&c.target(), &remix),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn a_field_name_that_would_break_the_form_is_refused() {
    let c = chan();
    let mut s = VideoSpec {
        model: "V4_Preview".into(),
        ..VideoSpec::default()
    };
    s.extra.insert("a\"\r\nb".into(), json!("x"));
    assert!(matches!(
        VIGGLE.submit(&c.target(), &s),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn poll_cancel_and_content_requests() {
    let c = chan();
    let t = TaskRef {
        upstream_id: "job_abc123",
        upstream_ref: None,
        model: "V4_Preview",
        result_url: Some("http://127.0.0.1:9/viggle/sim-files/video-abc.mp4"),
    };
    let p = VIGGLE.poll(&c.target(), &t);
    assert_eq!(
        (p.method, p.url.as_str()),
        (
            Method::GET,
            "http://127.0.0.1:9/viggle/api/render/job_abc123"
        )
    );
    let d = VIGGLE.cancel(&c.target(), &t).unwrap();
    assert_eq!(d.method, Method::DELETE);
    let Content::Fetch(f) = VIGGLE.content(&c.target(), &t, Variant::Video).unwrap() else {
        panic!("a fetch")
    };
    assert_eq!(f.url, "http://127.0.0.1:9/viggle/sim-files/video-abc.mp4");
    assert!(!VIGGLE.takes_callback());
    assert!(VIGGLE.native().is_none());
}

fn job(status: &str, extra: Value) -> Vec<u8> {
    let mut j = json!({"job_id":"job_abc123","status":status,"mode":"full_pipeline",
        "progress_pct":null,"cdn_url":null,"error_code":null,"error_message":null,
        "created_at":"2026-12-01T00:00:00Z","completed_at":null});
    if let (Some(j), Value::Object(e)) = (j.as_object_mut(), extra) {
        j.extend(e);
    }
    j.to_string().into_bytes()
}

#[test]
fn every_status_word_maps() {
    let h = HeaderMap::new();
    for (word, state) in [
        ("queued", TaskState::Queued),
        ("processing", TaskState::InProgress),
        ("failed", TaskState::Failed),
        ("cancelled", TaskState::Cancelled),
    ] {
        let rep = VIGGLE.read_poll(&h, &job(word, json!({})), &r()).unwrap();
        assert_eq!(rep.state, state, "{word}");
    }
    let running = VIGGLE
        .read_poll(&h, &job("processing", json!({"progress_pct": 63.4})), &r())
        .unwrap();
    assert_eq!(running.progress, Some(63));
    let done = VIGGLE
        .read_poll(
            &h,
            &job(
                "complete",
                json!({"cdn_url":"http://127.0.0.1:9/viggle/sim-files/video-abc.mp4"}),
            ),
            &r(),
        )
        .unwrap();
    assert_eq!(done.state, TaskState::Completed);
    assert_eq!(
        done.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/viggle/sim-files/video-abc.mp4".into()
        ))
    );
    let sub = VIGGLE
        .read_submit(
            br#"{"job_id":"job_abc123","status":"queued","mode":"full_pipeline","enqueued_at":"2026-12-01T00:00:00Z"}"#,
            &r(),
        )
        .unwrap();
    assert_eq!(sub.upstream_id, "job_abc123");
    assert_eq!(sub.report.unwrap().progress, Some(0));
}

#[test]
fn a_failure_keeps_its_code_and_redacted_message() {
    let body = job(
        "failed",
        json!({"error_code":"CS-ORIV-004","error_message":"video over 5 min for viggle-secret-key"}),
    );
    let rep = VIGGLE.read_poll(&HeaderMap::new(), &body, &r()).unwrap();
    assert_eq!(
        rep.failure,
        Some(TaskFailure::new(
            "CS-ORIV-004",
            "video over 5 min for [redacted]"
        ))
    );
}

#[test]
fn malformed_bodies_are_invalid() {
    for body in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        job("ready", json!({})),
        job("complete", json!({})),
        job("queued", json!({"job_id":"job/../x"})),
        job("queued", json!({"status": 3})),
    ] {
        let shown = String::from_utf8_lossy(&body).into_owned();
        assert!(
            matches!(
                VIGGLE.read_poll(&HeaderMap::new(), &body, &r()),
                Err(VideoError::Invalid(_))
            ),
            "{shown}"
        );
    }
}

#[test]
fn errors_classify_through_the_video_api() {
    let f = VIGGLE.fault(
        StatusCode::UNAUTHORIZED,
        &HeaderMap::new(),
        br#"{"detail":{"error_code":"CS-ORAU-001","message":"invalid key","action":"check"}}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::KeyRefused);
}
