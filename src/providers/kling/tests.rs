//! Kling's video API: the requests it builds (paths, bodies, the JWT), the envelope and task
//! object read in every status, refusals and malformed bodies, callbacks, and the native
//! shapes.

use super::video::{body, duration};
use super::*;
use crate::config::{Config, Secret};
use crate::providers::video::{ImageInput, NativeTask, VideoResult};
use crate::tasks::{TaskFailure, TaskState};
use crate::wire::FaultKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

struct Chan {
    config: Config,
    base: String,
    key: Secret,
    headers: HeaderMap,
}

fn chan(key: &str) -> Chan {
    let config = Config::parse(
        r#"
        [[channels]]
        name = "kling"
        provider = "kling"
        base_url = "http://127.0.0.1:9/kling/"
        keys = ["ak-sim:sk-sim"]
        models = ["kling-v1"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap();
    let base = config.channels[0].api_base().unwrap();
    Chan {
        config,
        base,
        key: Secret::new(key),
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
    Redactor::new(&[Secret::new("ak-sim:sk-sim")])
}

fn spec() -> VideoSpec {
    VideoSpec {
        model: "kling-v1-6".into(),
        prompt: "a cat surfing".into(),
        seconds: Some(8),
        size: Some("1280x720".into()),
        callback_url: Some("http://127.0.0.1:8/v1/videos/callbacks/task_1?sig=x".into()),
        ..VideoSpec::default()
    }
}

fn claims_of(req: &UpstreamRequest) -> Value {
    let auth = req.headers["authorization"].to_str().unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    let mut v = Validation::new(Algorithm::HS256);
    v.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(b"sk-sim"), &v).unwrap();
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    data.claims
}

fn json_of(req: &UpstreamRequest) -> Value {
    serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
}

#[test]
fn text2video_posts_the_mapped_body_with_a_fresh_jwt() {
    let c = chan("ak-sim:sk-sim");
    let req = KLING.submit(&c.target(), &spec()).unwrap();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.url, "http://127.0.0.1:9/kling/v1/videos/text2video");
    assert_eq!(req.headers["content-type"], "application/json");
    let mut b = json_of(&req);
    let marker = b["external_task_id"].take();
    assert!(
        marker.as_str().unwrap().starts_with("text2video-"),
        "{marker}"
    );
    b.as_object_mut().unwrap().remove("external_task_id");
    assert_eq!(
        b,
        json!({"model_name":"kling-v1-6","prompt":"a cat surfing","duration":"10",
            "mode":"std","aspect_ratio":"16:9",
            "callback_url":"http://127.0.0.1:8/v1/videos/callbacks/task_1?sig=x"})
    );
    let claims = claims_of(&req);
    assert_eq!(claims["iss"], "ak-sim");
    let (exp, nbf) = (
        claims["exp"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
    );
    assert_eq!(exp - nbf, jwt::LIFETIME + jwt::SKEW);
}

#[test]
fn image2video_sends_the_image_as_a_url_or_raw_base64() {
    let c = chan("ak-sim:sk-sim");
    let mut s = spec();
    s.size = Some("1920x1080".into());
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    s.extra.insert("mode".into(), json!("std"));
    s.extra.insert("cfg_scale".into(), json!(0.5));
    let req = KLING.submit(&c.target(), &s).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/kling/v1/videos/image2video");
    let b = json_of(&req);
    assert_eq!(b["image"], "https://img.example/a.png");
    assert_eq!(b["mode"], "std", "extra is merged over what the spec gives");
    assert_eq!(b["cfg_scale"], 0.5);
    assert!(b.get("aspect_ratio").is_none(), "the image gives the ratio");
    s.image = Some(ImageInput::Bytes {
        mime: "image/png".into(),
        data: Bytes::from_static(b"png"),
    });
    assert_eq!(body(&s)["image"], "cG5n");
    let pro = VideoSpec {
        size: Some("1080x1920".into()),
        ..spec()
    };
    assert_eq!(body(&pro)["mode"], "pro");
    assert_eq!(body(&pro)["aspect_ratio"], "9:16");
    assert_eq!(
        (duration(4), duration(7), duration(8), duration(12)),
        ("5", "5", "10", "10")
    );
}

#[test]
fn remix_is_not_offered() {
    let c = chan("ak-sim:sk-sim");
    let s = VideoSpec {
        remix_of: Some("1".into()),
        ..spec()
    };
    assert!(matches!(
        KLING.submit(&c.target(), &s),
        Err(VideoError::Unsupported(_))
    ));
}

#[test]
fn a_key_that_is_not_ak_sk_goes_without_a_token() {
    let c = chan("just-one-key");
    let req = KLING.submit(&c.target(), &spec()).unwrap();
    assert!(req.headers.get("authorization").is_none());
}

#[test]
fn polls_hit_the_stored_action_and_reuse_the_token() {
    let c = chan("ak-sim:sk-sim");
    let task = |r| TaskRef {
        upstream_id: "8730000001",
        upstream_ref: r,
        model: "kling-v1",
        result_url: None,
    };
    let a = KLING.poll(&c.target(), &task(Some("image2video")));
    assert_eq!(a.method, Method::GET);
    assert_eq!(
        a.url,
        "http://127.0.0.1:9/kling/v1/videos/image2video/8730000001"
    );
    let b = KLING.poll(&c.target(), &task(None));
    assert_eq!(
        b.url,
        "http://127.0.0.1:9/kling/v1/videos/text2video/8730000001"
    );
    assert_eq!(
        a.headers["authorization"], b.headers["authorization"],
        "the cached token"
    );
    assert!(KLING.cancel(&c.target(), &task(None)).is_none());
}

fn envelope(data: Value) -> Vec<u8> {
    json!({"code":0,"message":"SUCCEED","request_id":"r1","data":data})
        .to_string()
        .into_bytes()
}

fn task(status: &str) -> Value {
    json!({"task_id":"8730000001","task_status":status,"task_status_msg":"",
        "created_at":1730000000000_i64,"updated_at":1730000090000_i64})
}

#[test]
fn every_status_word_maps_with_derived_progress() {
    let h = HeaderMap::new();
    for (word, state, progress) in [
        ("submitted", TaskState::Queued, 0),
        ("processing", TaskState::InProgress, 50),
        ("failed", TaskState::Failed, 0),
    ] {
        let rep = KLING.read_poll(&h, &envelope(task(word)), &r()).unwrap();
        assert_eq!(rep.state, state, "{word}");
        if state != TaskState::Failed {
            assert_eq!(rep.progress, Some(progress), "{word}");
        }
    }
    let mut told = task("processing");
    told["progress"] = json!(72);
    assert_eq!(
        KLING.read_poll(&h, &envelope(told), &r()).unwrap().progress,
        Some(72)
    );
    let mut done = task("succeed");
    done["task_result"] = json!({"videos":[{"id":"v1","url":"http://127.0.0.1:9/kling/sim-files/video-1.mp4","duration":"5.1"}]});
    let rep = KLING.read_poll(&h, &envelope(done), &r()).unwrap();
    assert_eq!(rep.state, TaskState::Completed);
    assert_eq!(rep.progress, Some(100));
    assert_eq!(
        rep.result,
        Some(VideoResult::Url(
            "http://127.0.0.1:9/kling/sim-files/video-1.mp4".into()
        ))
    );
    assert_eq!(rep.seconds, Some(5.1));
    let sub = KLING
        .read_submit(&envelope(task("submitted")), &r())
        .unwrap();
    assert_eq!(sub.upstream_id, "8730000001");
    assert_eq!(sub.report.unwrap().state, TaskState::Queued);
}

#[test]
fn the_action_comes_back_through_the_external_task_id() {
    let c = chan("ak-sim:sk-sim");
    let mut s = spec();
    s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
    let sent = json_of(&KLING.submit(&c.target(), &s).unwrap());
    let mut answer = task("submitted");
    answer["task_info"] = json!({"external_task_id": sent["external_task_id"]});
    let sub = KLING.read_submit(&envelope(answer), &r()).unwrap();
    assert_eq!(sub.upstream_ref.as_deref(), Some("image2video"));
    let mut text = task("submitted");
    text["task_info"] = json!({"external_task_id": "text2video-0190abc"});
    let sub = KLING.read_submit(&envelope(text), &r()).unwrap();
    assert_eq!(sub.upstream_ref.as_deref(), Some("text2video"));
    let mut own = task("submitted");
    own["task_info"] = json!({"external_task_id": "client-order-7"});
    assert_eq!(
        KLING
            .read_submit(&envelope(own), &r())
            .unwrap()
            .upstream_ref,
        None
    );
    s.extra
        .insert("external_task_id".into(), json!("client-order-7"));
    assert_eq!(
        body(&s)["external_task_id"],
        "client-order-7",
        "the client's id wins"
    );
}

#[test]
fn a_failed_task_keeps_its_message_redacted() {
    let mut t = task("failed");
    t["task_status_msg"] = json!("bad image for ak-sim:sk-sim");
    let rep = KLING
        .read_poll(&HeaderMap::new(), &envelope(t), &r())
        .unwrap();
    assert_eq!(
        rep.failure,
        Some(TaskFailure::new(
            "generation_failed",
            "bad image for [redacted]"
        ))
    );
}

#[test]
fn a_200_with_a_code_is_refused_by_the_code_table() {
    let body = br#"{"code":1301,"message":"content security","request_id":"r1","data":null}"#;
    let Err(VideoError::Refused(f)) = KLING.read_submit(body, &r()) else {
        panic!("refused")
    };
    assert_eq!(f.kind, FaultKind::ContentFiltered);
    let quota = br#"{"code":1102,"message":"pack used up"}"#;
    let Err(VideoError::Refused(f)) = KLING.read_poll(&HeaderMap::new(), quota, &r()) else {
        panic!("refused")
    };
    assert_eq!(f.kind, FaultKind::QuotaExhausted);
    let f = KLING.fault(
        StatusCode::UNAUTHORIZED,
        &HeaderMap::new(),
        br#"{"code":1004,"message":"token expired"}"#,
        &r(),
    );
    assert_eq!(f.kind, FaultKind::KeyRefused);
}

#[test]
fn malformed_bodies_are_invalid() {
    let h = HeaderMap::new();
    let mut no_video = task("succeed");
    no_video["task_result"] = json!({"videos":[]});
    let mut bad_id = task("submitted");
    bad_id["task_id"] = json!("../1");
    let mut unknown = task("submitted");
    unknown["task_status"] = json!("melting");
    for body in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        br#"{"code":0,"message":"SUCCEED"}"#.to_vec(),
        envelope(json!({"task_status":"submitted"})),
        envelope(no_video),
        envelope(bad_id),
        envelope(unknown),
    ] {
        let shown = String::from_utf8_lossy(&body).into_owned();
        assert!(
            matches!(
                KLING.read_poll(&h, &body, &r()),
                Err(VideoError::Invalid(_))
            ),
            "{shown}"
        );
    }
    let leaky = br#"{"code":"ak-sim:sk-sim","data":{}}"#;
    let Err(e) = KLING.read_poll(&h, leaky, &r()) else {
        panic!("invalid")
    };
    assert!(!e.to_string().contains("sk-sim"), "{e}");
}

#[test]
fn callbacks_read_the_task_object_bare_or_in_its_envelope() {
    assert!(KLING.takes_callback());
    let mut done = task("succeed");
    done["task_result"] = json!({"videos":[{"id":"v1","url":"http://x/v.mp4","duration":5}]});
    let (id, rep) = KLING
        .read_callback(done.to_string().as_bytes(), &r())
        .unwrap();
    assert_eq!(
        (id.as_str(), rep.state),
        ("8730000001", TaskState::Completed)
    );
    assert_eq!(rep.seconds, Some(5.0));
    let (id, rep) = KLING
        .read_callback(&envelope(task("processing")), &r())
        .unwrap();
    assert_eq!(
        (id.as_str(), rep.state),
        ("8730000001", TaskState::InProgress)
    );
    assert!(matches!(
        KLING.read_callback(b"[]", &r()),
        Err(VideoError::Invalid(_))
    ));
}

#[test]
fn native_creates_read_as_specs() {
    let n = KLING.native().unwrap();
    let s = n
        .spec_of(
            "videos/text2video",
            &json!({"model_name":"kling-v2-master","prompt":"p","duration":"10",
                "aspect_ratio":"9:16","mode":"pro","negative_prompt":"blur",
                "callback_url":"http://client.example/cb"}),
        )
        .unwrap();
    assert_eq!(s.model, "kling-v2-master");
    assert_eq!(s.seconds, Some(10));
    assert_eq!(s.size.as_deref(), Some("1080x1920"));
    assert_eq!(s.callback_url, None, "the relay gives its own");
    assert_eq!(s.extra.get("negative_prompt"), Some(&json!("blur")));
    assert_eq!(s.extra.get("mode"), Some(&json!("pro")));
    assert!(s.extra.get("callback_url").is_none());
    let i = n
        .spec_of(
            "videos/image2video",
            &json!({"image":"https://img.example/a.png","duration":5}),
        )
        .unwrap();
    assert_eq!(i.model, "kling-v1");
    assert_eq!(i.seconds, Some(5));
    assert_eq!(
        i.image,
        Some(ImageInput::Url("https://img.example/a.png".into()))
    );
    let b = n
        .spec_of("videos/image2video", &json!({"image":"cG5n"}))
        .unwrap();
    assert!(matches!(b.image, Some(ImageInput::Bytes { ref data, .. }) if &data[..] == b"png"));
    for (action, body) in [
        ("videos/lip-sync", json!({})),
        ("videos/text2video", json!([])),
        ("videos/text2video", json!({"duration":"five"})),
        ("videos/image2video", json!({"prompt":"no image"})),
        ("videos/image2video", json!({"image":"%%%"})),
    ] {
        assert!(
            matches!(n.spec_of(action, &body), Err(VideoError::Unsupported(_))),
            "{action} {body}"
        );
    }
}

#[test]
fn native_answers_name_the_relay_task_and_content_url() {
    let n = KLING.native().unwrap();
    let failure = TaskFailure::new("generation_failed", "bad image");
    let t = |state, content_url, failure| NativeTask {
        state,
        progress: 100,
        created_at_ms: 1,
        updated_at_ms: 2,
        content_url,
        failure,
        model: "kling-v1",
        seconds: Some(5),
    };
    let created = n.created("task_abc", &t(TaskState::Queued, None, None));
    assert_eq!(
        created,
        json!({"code":0,"message":"SUCCEED","request_id":"task_abc","data":{
            "task_id":"task_abc","task_status":"submitted","created_at":1,"updated_at":2}})
    );
    let url = "http://relay/v1/videos/task_abc/content";
    let done = n.polled("task_abc", &t(TaskState::Completed, Some(url), None));
    assert_eq!(done["data"]["task_status"], "succeed");
    assert_eq!(
        done["data"]["task_result"],
        json!({"videos":[{"id":"task_abc","url":url,"duration":"5"}]})
    );
    let failed = n.polled("task_abc", &t(TaskState::Failed, None, Some(&failure)));
    assert_eq!(failed["data"]["task_status"], "failed");
    assert_eq!(failed["data"]["task_status_msg"], "bad image");
    assert!(failed["data"].get("task_result").is_none());
    let expired = n.polled("task_abc", &t(TaskState::Expired, None, None));
    assert_eq!(expired["data"]["task_status"], "failed");
    assert_eq!(
        n.polled("task_abc", &t(TaskState::InProgress, None, None))["data"]["task_status"],
        "processing"
    );
}

#[test]
fn the_five_are_registered_and_read_their_own_errors() {
    use crate::config::ProviderKind;
    use crate::providers::{provider_for, video::video_api_for};
    let unauthorized = |kind, body: &str| {
        let h = HeaderMap::new();
        let via_text =
            provider_for(kind).fault(StatusCode::UNAUTHORIZED, &h, body.as_bytes(), &r());
        let via_video =
            video_api_for(kind)
                .unwrap()
                .fault(StatusCode::UNAUTHORIZED, &h, body.as_bytes(), &r());
        assert_eq!(via_text.message, via_video.message, "{kind:?}");
        via_text
    };
    for (kind, body, message) in [
        (
            ProviderKind::Openai,
            r#"{"error":{"message":"bad key"}}"#,
            "bad key",
        ),
        (
            ProviderKind::Kling,
            r#"{"code":1002,"message":"bad signature"}"#,
            "bad signature",
        ),
        (
            ProviderKind::Runway,
            r#"{"error":"bad runway key"}"#,
            "bad runway key",
        ),
        (
            ProviderKind::Luma,
            r#"{"detail":"bad luma key"}"#,
            "bad luma key",
        ),
        (
            ProviderKind::Viggle,
            r#"{"detail":{"error_code":"CS-ORAU-001","message":"bad viggle key"}}"#,
            "bad viggle key",
        ),
    ] {
        let f = unauthorized(kind, body);
        assert_eq!(f.kind, FaultKind::KeyRefused, "{kind:?}");
        assert_eq!(f.message.as_deref(), Some(message), "{kind:?}");
    }
    assert!(video_api_for(ProviderKind::Kling)
        .unwrap()
        .native()
        .is_some());
    assert!(video_api_for(ProviderKind::Runway)
        .unwrap()
        .native()
        .is_some());
    assert!(video_api_for(ProviderKind::Luma).unwrap().takes_callback());
}
