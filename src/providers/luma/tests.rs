//! Luma's video API: the requests it builds, the Generation in every state, failures,
//! malformed bodies and callbacks.

use super::generation::{aspect_ratio, duration, resolution};
use super::*;
use crate::config::{Config, Secret};
use crate::providers::video::{ImageInput, VideoResult};
use crate::tasks::{TaskFailure, TaskState};
use crate::wire::FaultKind;
use serde_json::json;

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
        name = "luma"
        provider = "luma"
        base_url = "http://127.0.0.1:9/luma/"
        keys = ["luma-secret-key-123"]
        models = ["ray-2"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap();
    let base = config.channels[0].api_base().unwrap();
    Chan {
        config,
        base,
        key: Secret::new("luma-secret-key-123"),
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
    Redactor::new(&[Secret::new("luma-secret-key-123")])
}

const ID: &str = "7c1f0000-0000-4000-8000-00000000000a";

fn spec() -> VideoSpec {
    VideoSpec {
        model: "ray-2".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(8),
        size: Some("1280x720".into()),
        callback_url: Some("http://127.0.0.1:8/cb/task_1?sig=x".into()),
        ..VideoSpec::default()
    }
}

fn generation(state: &str, extra: Value) -> Vec<u8> {
    let mut g = json!({"id":ID,"generation_type":"video","state":state,"failure_reason":null,
        "created_at":"2026-12-01T00:00:00Z","assets":null,"model":"ray-2",
        "request":{"prompt":"a cat surfing","duration":"9s"}});
    if let (Some(g), Value::Object(e)) = (g.as_object_mut(), extra) {
        g.extend(e);
    }
    g.to_string().into_bytes()
}

#[test]
fn submit_posts_the_generation_body() {
    let c = chan();
    let mut s = spec();
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    s.extra.insert("loop".into(), json!(true));
    let req = LUMA.submit(&c.target(), &s).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/luma/dream-machine/v1/generations"
    );
    assert_eq!(req.headers["authorization"], "Bearer luma-secret-key-123");
    let body: Value = serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"prompt":"a cat surfing","model":"ray-2","aspect_ratio":"16:9","resolution":"720p",
            "duration":"9s","keyframes":{"frame0":{"type":"image","url":"https://img.example/a.png"}},
            "callback_url":"http://127.0.0.1:8/cb/task_1?sig=x","loop":true})
    );
    assert_eq!(
        (
            aspect_ratio(720, 1280),
            aspect_ratio(1024, 1024),
            aspect_ratio(1792, 1024)
        ),
        ("9:16", "1:1", "16:9")
    );
    assert_eq!(
        (resolution(960, 540), resolution(3840, 2160)),
        ("540p", "4k")
    );
    assert_eq!((duration(4), duration(9)), ("5s", "9s"));
}

#[test]
fn image_bytes_and_remix_are_not_offered() {
    let c = chan();
    let mut s = spec();
    s.image = Some(ImageInput::Bytes {
        mime: "image/png".into(),
        data: Bytes::from_static(b"png"),
    });
    assert!(matches!(
        LUMA.submit(&c.target(), &s),
        Err(VideoError::Unsupported(_))
    ));
    let remix = VideoSpec {
        remix_of: Some(ID.into()),
        ..spec()
    };
    assert!(matches!(
        LUMA.submit(&c.target(), &remix),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn poll_cancel_and_content_requests() {
    let c = chan();
    let t = TaskRef {
        upstream_id: ID,
        upstream_ref: None,
        model: "ray-2",
        result_url: Some("http://127.0.0.1:9/luma/sim-files/video-a.mp4"),
    };
    let p = LUMA.poll(&c.target(), &t);
    let url = format!("http://127.0.0.1:9/luma/dream-machine/v1/generations/{ID}");
    assert_eq!((p.method, p.url.as_str()), (Method::GET, url.as_str()));
    let d = LUMA.cancel(&c.target(), &t).unwrap();
    assert_eq!((d.method, d.url.as_str()), (Method::DELETE, url.as_str()));
    let Content::Fetch(f) = LUMA.content(&c.target(), &t, Variant::Video).unwrap() else {
        panic!("a fetch")
    };
    assert!(f.headers.get("authorization").is_none());
}

#[test]
fn every_state_maps() {
    let h = HeaderMap::new();
    for (word, state) in [
        ("queued", TaskState::Queued),
        ("dreaming", TaskState::InProgress),
        ("failed", TaskState::Failed),
    ] {
        let rep = LUMA
            .read_poll(&h, &generation(word, json!({})), &r())
            .unwrap();
        assert_eq!(rep.state, state, "{word}");
    }
    let done = generation(
        "completed",
        json!({"assets":{"video":"http://127.0.0.1:9/luma/sim-files/video-a.mp4","image":"http://x/i.jpg"}}),
    );
    let rep = LUMA.read_poll(&h, &done, &r()).unwrap();
    assert_eq!(rep.state, TaskState::Completed);
    assert_eq!(
        rep.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/luma/sim-files/video-a.mp4".into()
        ))
    );
    assert_eq!((rep.progress, rep.seconds), (Some(100), Some(9.0)));
    let sub = LUMA
        .read_submit(&generation("queued", json!({})), &r())
        .unwrap();
    assert_eq!(sub.upstream_id, ID);
    assert_eq!(sub.report.unwrap().progress, Some(0));
}

#[test]
fn a_failure_keeps_its_reason_redacted() {
    let body = generation(
        "failed",
        json!({"failure_reason":"prompt refused for luma-secret-key-123"}),
    );
    let rep = LUMA.read_poll(&HeaderMap::new(), &body, &r()).unwrap();
    assert_eq!(
        rep.failure,
        Some(TaskFailure::new(
            "generation_failed",
            "prompt refused for [redacted]"
        ))
    );
}

#[test]
fn malformed_bodies_are_invalid() {
    for body in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        generation("melting", json!({})),
        generation("completed", json!({})),
        generation("completed", json!({"assets":{"video":""}})),
        generation("queued", json!({"id":"a/b"})),
    ] {
        let shown = String::from_utf8_lossy(&body).into_owned();
        assert!(
            matches!(
                LUMA.read_poll(&HeaderMap::new(), &body, &r()),
                Err(VideoError::Invalid(_))
            ),
            "{shown}"
        );
    }
}

#[test]
fn callbacks_read_the_generation() {
    assert!(LUMA.takes_callback());
    let (id, rep) = LUMA
        .read_callback(&generation("dreaming", json!({})), &r())
        .unwrap();
    assert_eq!((id.as_str(), rep.state), (ID, TaskState::InProgress));
    assert!(LUMA.read_callback(b"nope", &r()).is_err());
    assert!(LUMA.native().is_none());
}

#[test]
fn errors_classify_through_the_video_api() {
    let f = LUMA.fault(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        br#"{"detail":"Insufficient credits"}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::QuotaExhausted);
}
