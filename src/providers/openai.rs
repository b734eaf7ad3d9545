//! OpenAI-format providers: OpenAI, xAI and any OpenAI-compatible base URL.
//!
//! Owns: paths under the base URL (which includes `/v1`) and bearer auth.
//! Must never: look inside the body.

use super::{join, json_headers, Adaptor, Endpoint, Target, WireFormat};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

pub struct OpenAiAdaptor {
    /// xAI has no embeddings endpoint.
    pub embeddings: bool,
}

impl Adaptor for OpenAiAdaptor {
    fn wire(&self) -> WireFormat {
        WireFormat::OpenAi
    }

    fn supports(&self, endpoint: Endpoint) -> bool {
        endpoint != Endpoint::Embeddings || self.embeddings
    }

    fn upstream_endpoint(&self, client: Endpoint) -> Endpoint {
        match client {
            Endpoint::Messages => Endpoint::Chat,
            other => other,
        }
    }

    fn build(
        &self,
        target: &Target<'_>,
        endpoint: Endpoint,
        _client_headers: &HeaderMap,
        body: Bytes,
    ) -> UpstreamRequest {
        let path = match endpoint {
            Endpoint::Chat | Endpoint::Messages => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        };
        let mut headers = json_headers(target.extra_headers);
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", target.key.expose())) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        UpstreamRequest {
            method: Method::POST,
            url: join(target.base_url, path),
            headers,
            body,
        }
    }
}
