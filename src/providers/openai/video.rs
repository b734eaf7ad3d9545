//! Sora: OpenAI's video API (`/videos` under the channel's API base, which ends in `/v1`).
//!
//! Owns: the create request (JSON, with `input_reference` as `{image_url}` for a URL image, or
//! multipart when the image comes as bytes), `seconds` sent as a string, remix
//! (`POST videos/{id}/remix`), the Video object's status words and progress, the
//! `openai-poll-after-ms` hint, the content route with its `variant`, `DELETE videos/{id}`;
//! its errors are the OpenAI format's (`errors`).
//! Must never: keep an upstream string unredacted, or put an id that is not one plain path
//! segment into a path.

use super::super::shared::{join, json_headers};
use super::super::video::{
    Content, ImageInput, PollReport, Submitted, TaskRef, Variant, VideoApi, VideoError,
    VideoResult, VideoSpec,
};
use super::super::video_common::plain_id;
use super::super::video_form::{image_name, Form};
use super::super::Target;
use super::errors;
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Sora's video API (OpenAI channels).
pub(crate) struct Sora;

pub(crate) static SORA: Sora = Sora;

/// The header a poll answer names its next poll's earliest time in.
const POLL_AFTER: &str = "openai-poll-after-ms";

/// The Video object, the members the relay reads.
#[derive(Deserialize)]
struct Video {
    id: String,
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    seconds: Option<Value>,
    #[serde(default)]
    error: Option<VideoFailure>,
}

#[derive(Deserialize)]
struct VideoFailure {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}

/// The channel's headers with the key as a bearer token.
fn headers(target: &Target<'_>, json: bool) -> HeaderMap {
    let mut h = if json {
        json_headers(target.extra_headers)
    } else {
        target.extra_headers.clone()
    };
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
        h.insert(http::header::AUTHORIZATION, v);
    }
    h
}

fn request(target: &Target<'_>, method: Method, path: &str, body: Bytes) -> UpstreamRequest {
    UpstreamRequest {
        method,
        url: join(target.base_url, path),
        headers: headers(target, !body.is_empty()),
        body: body.into(),
    }
}

/// The JSON create body: the spec's fields, `extra` merged over them.
fn json_body(spec: &VideoSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("model".into(), Value::String(spec.model.clone()));
    m.insert("prompt".into(), Value::String(spec.prompt.clone()));
    if let Some(s) = spec.seconds {
        m.insert("seconds".into(), Value::String(s.to_string()));
    }
    if let Some(size) = &spec.size {
        m.insert("size".into(), Value::String(size.clone()));
    }
    if let Some(ImageInput::Url(url)) = &spec.image {
        m.insert(
            "input_reference".into(),
            serde_json::json!({ "image_url": url }),
        );
    }
    for (k, v) in &spec.extra {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn to_bytes(m: Map<String, Value>) -> Bytes {
    Bytes::from(Value::Object(m).to_string())
}

/// The multipart create: the JSON body's members as fields, the image as `input_reference`.
fn multipart(
    target: &Target<'_>,
    spec: &VideoSpec,
    mime: &str,
    data: &[u8],
) -> Result<UpstreamRequest, VideoError> {
    let mut form = Form::new();
    for (k, v) in json_body(spec) {
        form.value(&k, &v)?;
    }
    form.file("input_reference", image_name(mime), mime, data)?;
    let (ct, body) = form.finish();
    let mut headers = headers(target, false);
    headers.insert(http::header::CONTENT_TYPE, ct);
    Ok(UpstreamRequest {
        method: Method::POST,
        url: join(target.base_url, "videos"),
        headers,
        body: body.into(),
    })
}

fn state_of(status: &str) -> Option<TaskState> {
    match status {
        "queued" => Some(TaskState::Queued),
        "in_progress" => Some(TaskState::InProgress),
        "completed" => Some(TaskState::Completed),
        "failed" => Some(TaskState::Failed),
        "cancelled" => Some(TaskState::Cancelled),
        _ => None,
    }
}

fn parse(body: &[u8]) -> Result<Video, VideoError> {
    let v: Video = serde_json::from_slice(body).map_err(|e| {
        VideoError::Invalid(format!(
            "not a Sora Video object (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !plain_id(&v.id) {
        return Err(VideoError::Invalid(
            "the Video id is not one plain path segment".to_owned(),
        ));
    }
    Ok(v)
}

fn report(v: &Video, r: &Redactor) -> Result<PollReport, VideoError> {
    let state = state_of(&v.status)
        .ok_or_else(|| VideoError::Invalid("the Video's status is not one of Sora's".to_owned()))?;
    let mut report = PollReport::of(state);
    report.progress = v.progress.map(|p| p.clamp(0.0, 100.0).round() as u8);
    report.seconds = match &v.seconds {
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    match state {
        TaskState::Completed => {
            report.progress = Some(100);
            report.result = Some(VideoResult::Upstream);
        }
        TaskState::Failed => {
            let e = v.error.as_ref();
            let code = match e.and_then(|e| e.code.as_ref()) {
                Some(Value::String(c)) if !c.is_empty() => r.redact(c).into_owned(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "video_generation_failed".to_owned(),
            };
            let message = e
                .and_then(|e| e.message.as_deref())
                .filter(|m| !m.is_empty())
                .map_or_else(
                    || "the video generation failed".to_owned(),
                    |m| r.redact(m).into_owned(),
                );
            report.failure = Some(TaskFailure::new(code, message));
        }
        TaskState::Queued | TaskState::InProgress | TaskState::Cancelled | TaskState::Expired => {}
    }
    Ok(report)
}

fn poll_after(headers: &HeaderMap) -> Option<Duration> {
    let ms = headers
        .get(POLL_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_millis(ms))
}

impl VideoApi for Sora {
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError> {
        if let Some(id) = &spec.remix_of {
            if !plain_id(id) {
                return Err(VideoError::Unsupported(
                    "the video to remix has no valid id".to_owned(),
                ));
            }
            let mut m = Map::new();
            m.insert("prompt".into(), Value::String(spec.prompt.clone()));
            for (k, v) in &spec.extra {
                m.insert(k.clone(), v.clone());
            }
            let path = format!("videos/{id}/remix");
            return Ok(request(target, Method::POST, &path, to_bytes(m)));
        }
        match &spec.image {
            Some(ImageInput::Bytes { mime, data }) => multipart(target, spec, mime, data),
            Some(ImageInput::Url(_)) | None => Ok(request(
                target,
                Method::POST,
                "videos",
                to_bytes(json_body(spec)),
            )),
        }
    }

    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError> {
        let v = parse(body)?;
        Ok(Submitted {
            report: Some(report(&v, redactor)?),
            upstream_id: v.id,
            upstream_ref: None,
        })
    }

    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest {
        let path = format!("videos/{}", task.upstream_id);
        request(target, Method::GET, &path, Bytes::new())
    }

    fn read_poll(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError> {
        let mut report = report(&parse(body)?, redactor)?;
        report.poll_after = poll_after(headers);
        Ok(report)
    }

    fn content(
        &self,
        target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError> {
        let path = format!(
            "videos/{}/content?variant={}",
            task.upstream_id,
            variant.as_str()
        );
        Ok(Content::Fetch(request(
            target,
            Method::GET,
            &path,
            Bytes::new(),
        )))
    }

    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest> {
        let path = format!("videos/{}", task.upstream_id);
        Some(request(target, Method::DELETE, &path, Bytes::new()))
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        errors::answer(status, headers, body, redactor)
    }

    fn min_poll_interval(&self) -> Duration {
        // Sora names its own pace in `openai-poll-after-ms`; this is the floor without it.
        Duration::from_secs(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Secret};
    use crate::wire::FaultKind;

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
            name = "sora"
            provider = "openai"
            base_url = "http://127.0.0.1:9/openai/v1"
            keys = ["sk-sora-key-0123456789abcdef"]
            models = ["sora-2"]
            [[tokens]]
            key = "sk-t"
            "#,
        )
        .unwrap();
        let base = config.channels[0].api_base().unwrap();
        Chan {
            config,
            base,
            key: Secret::new("sk-sora-key-0123456789abcdef"),
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

    fn task() -> TaskRef<'static> {
        TaskRef {
            upstream_id: "video_68d7",
            upstream_ref: None,
            model: "sora-2",
            result_url: None,
        }
    }

    fn spec() -> VideoSpec {
        VideoSpec {
            model: "sora-2".into(),
            prompt: "a cat surfing".into(),
            seconds: Some(8),
            size: Some("1280x720".into()),
            ..VideoSpec::default()
        }
    }

    fn json(req: &UpstreamRequest) -> Value {
        serde_json::from_slice(req.body.as_bytes().unwrap()).unwrap()
    }

    fn r() -> Redactor {
        Redactor::new(&[Secret::new("sk-sora-key-0123456789abcdef")])
    }

    #[test]
    fn submit_is_json_with_seconds_as_a_string_and_the_image_url() {
        let c = chan();
        let mut s = spec();
        s.image = Some(ImageInput::Url("https://img.example/a.png".into()));
        s.extra.insert("seed".into(), Value::from(7));
        let req = SORA.submit(&c.target(), &s).unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.url, "http://127.0.0.1:9/openai/v1/videos");
        assert_eq!(
            req.headers["authorization"],
            "Bearer sk-sora-key-0123456789abcdef"
        );
        assert_eq!(req.headers["content-type"], "application/json");
        assert_eq!(
            json(&req),
            serde_json::json!({"model":"sora-2","prompt":"a cat surfing","seconds":"8",
                "size":"1280x720","input_reference":{"image_url":"https://img.example/a.png"},
                "seed":7})
        );
    }

    #[tokio::test]
    async fn submit_with_image_bytes_is_multipart_with_the_file() {
        let c = chan();
        let mut s = spec();
        s.image = Some(ImageInput::Bytes {
            mime: "image/jpeg".into(),
            data: Bytes::from_static(b"\xff\xd8jpeg-bytes"),
        });
        let req = SORA.submit(&c.target(), &s).unwrap();
        let ct = req.headers["content-type"].to_str().unwrap().to_owned();
        let boundary = multer::parse_boundary(&ct).unwrap();
        let body = req.body.as_bytes().unwrap().clone();
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut m = multer::Multipart::new(stream, boundary);
        let mut seen = Vec::new();
        while let Some(field) = m.next_field().await.unwrap() {
            let name = field.name().unwrap().to_owned();
            let file = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.unwrap();
            seen.push((name, file, bytes));
        }
        let get = |n: &str| seen.iter().find(|(k, _, _)| k == n).unwrap();
        assert_eq!(get("seconds").2, "8");
        assert_eq!(get("prompt").2, "a cat surfing");
        let file = get("input_reference");
        assert_eq!(file.1.as_deref(), Some("image.jpg"));
        assert_eq!(&file.2[..], b"\xff\xd8jpeg-bytes");
    }

    #[test]
    fn remix_posts_the_prompt_to_the_remix_route() {
        let c = chan();
        let mut s = spec();
        s.remix_of = Some("video_68d7".into());
        let req = SORA.submit(&c.target(), &s).unwrap();
        assert_eq!(
            req.url,
            "http://127.0.0.1:9/openai/v1/videos/video_68d7/remix"
        );
        assert_eq!(json(&req), serde_json::json!({"prompt":"a cat surfing"}));
        s.remix_of = Some("../x".into());
        assert!(matches!(
            SORA.submit(&c.target(), &s),
            Err(VideoError::Unsupported(_))
        ));
    }

    #[test]
    fn poll_content_and_cancel_name_the_video() {
        let c = chan();
        let p = SORA.poll(&c.target(), &task());
        assert_eq!(
            (p.method, p.url.as_str()),
            (
                Method::GET,
                "http://127.0.0.1:9/openai/v1/videos/video_68d7"
            )
        );
        assert!(p.headers.get("content-type").is_none());
        let Content::Fetch(f) = SORA
            .content(&c.target(), &task(), Variant::Thumbnail)
            .unwrap()
        else {
            panic!("Sora's content is fetched")
        };
        assert_eq!(
            f.url,
            "http://127.0.0.1:9/openai/v1/videos/video_68d7/content?variant=thumbnail"
        );
        assert_eq!(
            f.headers["authorization"],
            "Bearer sk-sora-key-0123456789abcdef"
        );
        let d = SORA.cancel(&c.target(), &task()).unwrap();
        assert_eq!(d.method, Method::DELETE);
        assert_eq!(d.url, "http://127.0.0.1:9/openai/v1/videos/video_68d7");
    }

    fn video(status: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"video_68d7","object":"video","model":"sora-2","status":"{status}",
            "progress":37,"created_at":1730000000,"completed_at":null,"expires_at":null,
            "seconds":"8","size":"1280x720","remixed_from_video_id":null{extra}}}"#
        )
    }

    #[test]
    fn every_status_word_maps_and_the_poll_hint_is_read() {
        let mut h = HeaderMap::new();
        h.insert(POLL_AFTER, HeaderValue::from_static("1500"));
        for (word, state) in [
            ("queued", TaskState::Queued),
            ("in_progress", TaskState::InProgress),
            ("completed", TaskState::Completed),
            ("failed", TaskState::Failed),
        ] {
            let rep = SORA
                .read_poll(&h, video(word, r#","error":null"#).as_bytes(), &r())
                .unwrap();
            assert_eq!(rep.state, state, "{word}");
            assert_eq!(rep.poll_after, Some(Duration::from_millis(1500)));
            assert_eq!(rep.seconds, Some(8.0));
        }
        let running = SORA
            .read_poll(&HeaderMap::new(), video("in_progress", "").as_bytes(), &r())
            .unwrap();
        assert_eq!((running.progress, running.poll_after), (Some(37), None));
        let done = SORA
            .read_poll(&HeaderMap::new(), video("completed", "").as_bytes(), &r())
            .unwrap();
        assert_eq!(done.result, Some(VideoResult::Upstream));
        assert_eq!(done.progress, Some(100));
        let sub = SORA
            .read_submit(video("queued", "").as_bytes(), &r())
            .unwrap();
        assert_eq!(sub.upstream_id, "video_68d7");
        assert_eq!(sub.report.unwrap().state, TaskState::Queued);
    }

    #[test]
    fn a_failure_keeps_its_code_and_a_redacted_message() {
        let body = video(
            "failed",
            r#","error":{"code":"moderation_blocked","message":"refused for sk-sora-key-0123456789abcdef"}"#,
        );
        let rep = SORA
            .read_poll(&HeaderMap::new(), body.as_bytes(), &r())
            .unwrap();
        assert_eq!(
            rep.failure,
            Some(TaskFailure::new(
                "moderation_blocked",
                "refused for [redacted]"
            ))
        );
        let bare = SORA
            .read_poll(&HeaderMap::new(), video("failed", "").as_bytes(), &r())
            .unwrap();
        assert_eq!(bare.failure.unwrap().code, "video_generation_failed");
    }

    #[test]
    fn malformed_bodies_are_invalid() {
        for body in [
            "not json",
            "{}",
            r#"{"id":"video_1","status":"melting"}"#,
            r#"{"id":"a/b","status":"queued"}"#,
            r#"{"id":"video_1","status":"queued","progress":"x"}"#,
        ] {
            assert!(
                matches!(
                    SORA.read_poll(&HeaderMap::new(), body.as_bytes(), &r()),
                    Err(VideoError::Invalid(_))
                ),
                "{body}"
            );
            assert!(SORA.read_submit(body.as_bytes(), &r()).is_err(), "{body}");
        }
        let leaky =
            r#"{"id":"video_1","status":"queued","progress":"sk-sora-key-0123456789abcdef"}"#;
        let Err(e) = SORA.read_poll(&HeaderMap::new(), leaky.as_bytes(), &r()) else {
            panic!("invalid")
        };
        assert!(!e.to_string().contains("sk-sora"), "{e}");
    }

    #[test]
    fn errors_read_as_the_openai_envelope() {
        let f = SORA.fault(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            br#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
            &r(),
        );
        assert_eq!(f.kind, FaultKind::QuotaExhausted);
        let bad = SORA.fault(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"", &r());
        assert_eq!(bad.kind, FaultKind::KeyRefused);
    }
}
