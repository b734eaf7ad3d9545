//! Anthropic Messages API.
//!
//! Owns: the `messages` path under the base URL (which ends in `/v1`), `x-api-key`,
//! `anthropic-version` and the client's `anthropic-beta` passed through.
//! Must never: look inside the body.

use super::{join, json_headers, Adaptor, Endpoint, Target, WireFormat};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

pub struct AnthropicAdaptor;

const VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const BETA: HeaderName = HeaderName::from_static("anthropic-beta");

impl Adaptor for AnthropicAdaptor {
    fn wire(&self) -> WireFormat {
        WireFormat::Anthropic
    }

    fn supports(&self, endpoint: Endpoint) -> bool {
        matches!(endpoint, Endpoint::Chat | Endpoint::Messages)
    }

    fn upstream_endpoint(&self, _client: Endpoint) -> Endpoint {
        Endpoint::Messages
    }

    fn build(
        &self,
        target: &Target<'_>,
        _endpoint: Endpoint,
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
            .or_else(|| HeaderValue::from_str(target.anthropic_version).ok());
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
            body,
        }
    }
}
