//! Anthropic requests: the `messages` path and Anthropic's auth headers.
//!
//! Owns: `messages` under the base URL (which ends in `/v1`), `x-api-key`, `anthropic-version`
//! (the client's, else the channel's `anthropic_version`) and the client's `anthropic-beta`
//! passed through.
//! Must never: look inside the body.

use super::super::shared::{join, json_headers};
use super::super::Target;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

const VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const BETA: HeaderName = HeaderName::from_static("anthropic-beta");

/// The request for the messages operation, its body in Anthropic's format.
pub(crate) fn build(
    target: &Target<'_>,
    client_headers: &HeaderMap,
    body: Bytes,
) -> UpstreamRequest {
    let mut headers = json_headers(target.extra_headers);
    if let Ok(v) = HeaderValue::from_str(target.key.expose()) {
        headers.insert(HeaderName::from_static("x-api-key"), v);
    }
    let version = client_headers
        .get(VERSION)
        .cloned()
        .or_else(|| HeaderValue::from_str(&target.channel.anthropic_version).ok());
    if let Some(v) = version {
        headers.insert(VERSION, v);
    }
    if let Some(beta) = client_headers.get(BETA) {
        headers.insert(BETA, beta.clone());
    }
    UpstreamRequest {
        method: Method::POST,
        url: join(target.base_url, "messages"),
        headers,
        body: body.into(),
    }
}
