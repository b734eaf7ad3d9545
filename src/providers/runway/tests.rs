//! Runway's video API: the requests it builds, the task object in every status, failures,
//! malformed bodies, and the native shapes.

use super::*;
use crate::config::{Config, Secret};
use crate::providers::video::{ImageInput, NativeTask, VideoResult};
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
        name = "runway"
        provider = "runway"
        base_url = "http://127.0.0.1:9/runway"
        keys = ["key_runway_secret_123"]
        models = ["gen4_turbo"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap();
    let base = config.channels[0].api_base().unwrap();
    Chan {
        config,
        base,
        key: Secret::new("key_runway_secret_123"),
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
    Redactor::new(&[Secret::new("key_runway_secret_123")])
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "gen4_turbo".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(5),
        size: Some("1280x720".into()),
        ..VideoSpec::default()
    }
}

const ID: &str = "0f0e0d0c-0000-4000-8000-000000000001";

fn task_ref() -> TaskRef<'static> {
    TaskRef {
        upstream_id: ID,
        upstream_ref: None,
        model: "gen4_turbo",
        result_url: Some("http://127.0.0.1:9/runway/sim-files/video-1.mp4"),
    }
}

fn json_of(req: &UpstreamRequest) -> Value {
    serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
}

#[test]
fn text_and_image_creates_post_camel_case_bodies_with_the_version() {
    let c = chan();
    let req = RUNWAY.submit(&c.target(), &spec()).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/runway/v1/text_to_video");
    assert_eq!(req.headers["x-runway-version"], "2024-11-06");
    assert_eq!(req.headers["authorization"], "Bearer key_runway_secret_123");
    assert_eq!(
        json_of(&req),
        json!({"model":"gen4_turbo","promptText":"a cat surfing","ratio":"1280:720","duration":5})
    );
    let mut s = spec();
    s.image = Some(ImageInput::Bytes {
        mime: "image/png".into(),
        data: Bytes::from_static(b"png"),
    });
    s.extra.insert("seed".into(), json!(42));
    let req = RUNWAY.submit(&c.target(), &s).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/runway/v1/image_to_video");
    let b = json_of(&req);
    assert_eq!(b["promptImage"], "data:image/png;base64,cG5n");
    assert_eq!(b["seed"], 42);
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    assert_eq!(
        json_of(&RUNWAY.submit(&c.target(), &s).unwrap())["promptImage"],
        "https://img.example/a.png"
    );
    s.seconds = Some(12);
    assert_eq!(
        json_of(&RUNWAY.submit(&c.target(), &s).unwrap())["duration"],
        10
    );
    s.remix_of = Some("x".into());
    assert!(matches!(
        RUNWAY.submit(&c.target(), &s),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn poll_cancel_and_content_requests() {
    let c = chan();
    let p = RUNWAY.poll(&c.target(), &task_ref());
    assert_eq!(
        (p.method.clone(), p.url.as_str()),
        (
            Method::GET,
            format!("http://127.0.0.1:9/runway/v1/tasks/{ID}").as_str()
        )
    );
    assert_eq!(p.headers["x-runway-version"], "2024-11-06");
    let d = RUNWAY.cancel(&c.target(), &task_ref()).unwrap();
    assert_eq!(d.method, Method::DELETE);
    assert_eq!(d.url, p.url);
    let Content::Fetch(f) = RUNWAY
        .content(&c.target(), &task_ref(), Variant::Video)
        .unwrap()
    else {
        panic!("a fetch")
    };
    assert_eq!(f.url, "http://127.0.0.1:9/runway/sim-files/video-1.mp4");
    assert!(f.headers.get("authorization").is_none());
}

fn poll(body: Value) -> Result<PollReport, VideoError> {
    RUNWAY.read_poll(&HeaderMap::new(), body.to_string().as_bytes(), &r())
}

#[test]
fn every_status_word_maps_and_progress_scales() {
    let t = |status: &str| json!({"id":ID,"createdAt":"2026-12-01T00:00:00.000Z","status":status});
    for (word, state) in [
        ("PENDING", TaskState::Queued),
        ("THROTTLED", TaskState::Queued),
        ("RUNNING", TaskState::InProgress),
        ("FAILED", TaskState::Failed),
        ("CANCELLED", TaskState::Cancelled),
    ] {
        assert_eq!(poll(t(word)).unwrap().state, state, "{word}");
    }
    let mut running = t("RUNNING");
    running["progress"] = json!(0.42);
    assert_eq!(poll(running).unwrap().progress, Some(42));
    let mut done = t("SUCCEEDED");
    done["output"] = json!(["http://127.0.0.1:9/runway/sim-files/video-1.mp4"]);
    let rep = poll(done).unwrap();
    assert_eq!(rep.state, TaskState::Completed);
    assert_eq!(rep.progress, Some(100));
    assert_eq!(
        rep.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/runway/sim-files/video-1.mp4".into()
        ))
    );
    let sub = RUNWAY
        .read_submit(json!({ "id": ID }).to_string().as_bytes(), &r())
        .unwrap();
    assert_eq!(sub.upstream_id, ID);
}

#[test]
fn a_failure_keeps_its_code_and_redacted_reason() {
    let rep = poll(
        json!({"id":ID,"status":"FAILED","failure":"blocked for key_runway_secret_123",
        "failureCode":"SAFETY.INPUT.TEXT"}),
    )
    .unwrap();
    assert_eq!(
        rep.failure,
        Some(TaskFailure::new(
            "SAFETY.INPUT.TEXT",
            "blocked for [redacted]"
        ))
    );
    let bare = poll(json!({"id":ID,"status":"FAILED"})).unwrap();
    assert_eq!(bare.failure.unwrap().code, "generation_failed");
}

#[test]
fn malformed_bodies_are_invalid() {
    for body in [
        "not json",
        "{}",
        r#"{"id":"x","status":"DREAMING"}"#,
        r#"{"id":"x","status":"SUCCEEDED","output":[]}"#,
        r#"{"id":"x","status":"SUCCEEDED"}"#,
    ] {
        assert!(
            matches!(
                RUNWAY.read_poll(&HeaderMap::new(), body.as_bytes(), &r()),
                Err(VideoError::Invalid(_))
            ),
            "{body}"
        );
    }
    for body in ["[]", "{}", r#"{"id":"../x"}"#, r#"{"id":7}"#] {
        assert!(
            matches!(
                RUNWAY.read_submit(body.as_bytes(), &r()),
                Err(VideoError::Invalid(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn errors_classify_through_the_video_api() {
    let f = RUNWAY.fault(
        StatusCode::BAD_GATEWAY,
        &HeaderMap::new(),
        br#"{"error":"load shed"}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::Overloaded);
    assert_eq!(f.message.as_deref(), Some("load shed"));
}

#[test]
fn native_creates_read_as_specs() {
    let n = RUNWAY.native().unwrap();
    let s = n
        .spec_of(
            "image_to_video",
            &json!({"model":"gen4_turbo","promptImage":[{"uri":"https://x/last.png","position":"last"},
                {"uri":"https://x/first.png","position":"first"}],"ratio":"720:1280","duration":10,"seed":3}),
        )
        .unwrap();
    assert_eq!(s.image, Some(ImageInput::Url("https://x/first.png".into())));
    assert_eq!(s.size.as_deref(), Some("720x1280"));
    assert_eq!(s.seconds, Some(10));
    assert_eq!(s.extra.get("seed"), Some(&json!(3)));
    assert!(s.extra.get("promptImage").is_none());
    let t = n
        .spec_of("text_to_video", &json!({"model":"veo3","promptText":"p"}))
        .unwrap();
    assert_eq!(
        (t.model.as_str(), t.prompt.as_str(), t.image),
        ("veo3", "p", None)
    );
    for (action, body) in [
        ("video_upscale", json!({"model":"m"})),
        ("text_to_video", json!({"promptText":"no model"})),
        ("text_to_video", json!({"model":"m"})),
        (
            "image_to_video",
            json!({"model":"m","promptText":"no image"}),
        ),
        (
            "image_to_video",
            json!({"model":"m","promptImage":"u","duration":"5"}),
        ),
        ("text_to_video", json!("a string")),
    ] {
        assert!(
            matches!(n.spec_of(action, &body), Err(VideoError::Unsupported(_))),
            "{action} {body}"
        );
    }
}

#[test]
fn native_answers_name_the_relay_task() {
    let n = RUNWAY.native().unwrap();
    let failure = TaskFailure::new("SAFETY.INPUT.TEXT", "blocked");
    let t = |state, progress, content_url, failure| NativeTask {
        state,
        progress,
        created_at_ms: 1_764_633_600_000,
        updated_at_ms: 1_764_633_600_500,
        content_url,
        failure,
        model: "gen4_turbo",
        seconds: Some(5),
    };
    assert_eq!(
        n.created("task_abc", &t(TaskState::Queued, 0, None, None)),
        json!({"id":"task_abc"})
    );
    let running = n.polled("task_abc", &t(TaskState::InProgress, 40, None, None));
    assert_eq!(
        running,
        json!({"id":"task_abc","createdAt":"2025-12-02T00:00:00.000Z","status":"RUNNING","progress":0.4})
    );
    let url = "http://relay/v1/videos/task_abc/content";
    let done = n.polled("task_abc", &t(TaskState::Completed, 100, Some(url), None));
    assert_eq!(done["output"], json!([url]));
    assert!(done.get("progress").is_none());
    let failed = n.polled("task_abc", &t(TaskState::Failed, 0, None, Some(&failure)));
    assert_eq!(
        (
            failed["status"].as_str(),
            failed["failureCode"].as_str(),
            failed["failure"].as_str()
        ),
        (Some("FAILED"), Some("SAFETY.INPUT.TEXT"), Some("blocked"))
    );
    let expired = n.polled("task_abc", &t(TaskState::Expired, 0, None, None));
    assert_eq!(expired["failureCode"], "INTERNAL.EXPIRED");
    let cancelled = n.polled("task_abc", &t(TaskState::Cancelled, 0, None, None));
    assert_eq!(cancelled["status"], "CANCELLED");
}
