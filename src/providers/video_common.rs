//! What the video adapters share: the check that an upstream's task id is safe in a path,
//! `WIDTHxHEIGHT` read as numbers, an id as one path segment, the channel's key as a bearer
//! token, and the fetch of a result URL.
//!
//! Owns: those helpers, which know no provider's words. Must never: send credentials or the
//! channel's headers to a result URL.

use super::video::{Content, TaskRef, Variant, VideoError};
use super::Target;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

/// Whether an upstream's task id is one path segment as is (letters, digits, `-._~`): ids
/// that are not are refused when read, so no answer can steer a later request's path.
pub(crate) fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
}

/// `WIDTHxHEIGHT` (or `W*H`) as numbers.
pub(crate) fn dimensions(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once(['x', 'X', '*'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// A result URL fetched as it is (a CDN link: no credentials, no channel headers); only the
/// video itself is offered.
pub(crate) fn result_fetch(
    provider: &str,
    task: &TaskRef<'_>,
    variant: Variant,
) -> Result<Content, VideoError> {
    match variant {
        Variant::Video => {}
        Variant::Thumbnail | Variant::Spritesheet => {
            return Err(VideoError::Unsupported(format!(
                "{provider} makes no {} of a video",
                variant.as_str()
            )))
        }
    }
    let url = task
        .result_url
        .ok_or_else(|| VideoError::Invalid(format!("the {provider} task has no result URL")))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(VideoError::Invalid(format!(
            "{provider}'s result is not an HTTP URL"
        )));
    }
    Ok(Content::Fetch(UpstreamRequest {
        method: Method::GET,
        url: url.to_owned(),
        headers: HeaderMap::new(),
        body: Bytes::new().into(),
    }))
}

/// `headers` with the channel's key as a bearer token (a key that is no header value is left
/// out: the upstream refuses the request).
pub(crate) fn with_bearer(mut headers: HeaderMap, target: &Target<'_>) -> HeaderMap {
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    headers
}

/// An upstream id as one path segment (anything outside `[A-Za-z0-9_~-]` percent-encoded).
pub(crate) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_pass() {
        assert!(plain_id("job_abc-123.4~"));
        assert!(plain_id("8f3c2b10-0000-4000-8000-000000000000"));
        assert!(!plain_id(""));
        assert!(!plain_id("../admin"));
        assert!(!plain_id("a?b=1"));
        assert!(!plain_id(&"a".repeat(300)));
    }

    #[test]
    fn sizes_read_as_numbers() {
        assert_eq!(dimensions("1280x720"), Some((1280, 720)));
        assert_eq!(dimensions("832*480"), Some((832, 480)));
        assert_eq!(dimensions("wide"), None);
        assert_eq!(dimensions("12x"), None);
    }

    #[test]
    fn a_result_url_is_fetched_bare_and_only_as_the_video() {
        let task = TaskRef {
            upstream_id: "t1",
            upstream_ref: None,
            model: "m",
            result_url: Some("http://127.0.0.1:9/kling/sim-files/video-t1.mp4"),
        };
        let Content::Fetch(req) = result_fetch("Kling", &task, Variant::Video).unwrap() else {
            panic!("a fetch")
        };
        assert_eq!(req.url, "http://127.0.0.1:9/kling/sim-files/video-t1.mp4");
        assert!(req.headers.is_empty());
        assert!(matches!(
            result_fetch("Kling", &task, Variant::Thumbnail),
            Err(VideoError::Unsupported(_))
        ));
        let none = TaskRef {
            result_url: None,
            ..task
        };
        assert!(matches!(
            result_fetch("Kling", &none, Variant::Video),
            Err(VideoError::Invalid(_))
        ));
        let local = TaskRef {
            result_url: Some("file:///etc/passwd"),
            ..task
        };
        assert!(matches!(
            result_fetch("Kling", &local, Variant::Video),
            Err(VideoError::Invalid(_))
        ));
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
