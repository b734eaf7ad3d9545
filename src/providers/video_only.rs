//! The text side of the providers that make only videos (Kling, Runway, Luma, Zhipu, DashScope,
//! Viggle): a [`Provider`] that serves [`Endpoint::Videos`] and nothing else, so routing picks
//! their channels for video models only, and whose error reading is the video API's.
//!
//! Owns: that stand-in. Must never: build a text request (no text endpoint routes here) or
//! read a provider's words itself (its [`super::video::VideoApi`] does).

use super::{PassOptions, Provider, Target};
use crate::config::ProviderKind;
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError, UpstreamRequest};
use crate::wire::{Endpoint, FaultKind, UpstreamFault, Usage, WireFormat};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// A video-only provider of `kind`.
pub(crate) struct VideoOnly(pub(crate) ProviderKind);

pub(crate) static KLING: VideoOnly = VideoOnly(ProviderKind::Kling);
pub(crate) static RUNWAY: VideoOnly = VideoOnly(ProviderKind::Runway);
pub(crate) static LUMA: VideoOnly = VideoOnly(ProviderKind::Luma);
pub(crate) static ZHIPU: VideoOnly = VideoOnly(ProviderKind::Zhipu);
pub(crate) static DASHSCOPE: VideoOnly = VideoOnly(ProviderKind::Dashscope);
pub(crate) static VIGGLE: VideoOnly = VideoOnly(ProviderKind::Viggle);

impl Provider for VideoOnly {
    fn wire(&self) -> WireFormat {
        // Their tasks are shown to clients in the OpenAI video API's shape.
        WireFormat::OpenAi
    }

    fn serves(&self, endpoint: Endpoint) -> Option<Endpoint> {
        match endpoint {
            Endpoint::Videos => Some(Endpoint::Videos),
            Endpoint::Chat
            | Endpoint::Completions
            | Endpoint::Embeddings
            | Endpoint::Messages
            | Endpoint::GenerateContent
            | Endpoint::CountTokens
            | Endpoint::EmbedContent
            | Endpoint::BatchEmbedContents
            | Endpoint::ImageGenerations
            | Endpoint::ImageEdits
            | Endpoint::ImageVariations
            | Endpoint::Speech
            | Endpoint::Transcriptions
            | Endpoint::Translations
            | Endpoint::Moderations => None,
        }
    }

    fn build(
        &self,
        target: &Target<'_>,
        _op: Endpoint,
        _model: &str,
        _client_headers: &HeaderMap,
        body: Bytes,
        _stream: bool,
    ) -> UpstreamRequest {
        // Never reached: video requests are built by the video API. A request to the API root
        // keeps this total.
        UpstreamRequest {
            method: Method::POST,
            url: target.base_url.to_owned(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    fn stream_usage(&self, _op: Endpoint, _client_asked: bool) -> Option<fn(&mut Value)> {
        None
    }

    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault {
        match super::video::video_api_for(self.0) {
            Some(api) => api.fault(status, headers, body, redactor),
            None => UpstreamFault {
                wire: WireFormat::OpenAi,
                status: Some(status),
                kind: FaultKind::of_status(status),
                message: None,
                retry_after: Vec::new(),
                documented: None,
            },
        }
    }

    fn pass_stream(&self, options: PassOptions) -> Box<dyn Transform> {
        super::openai::OPENAI.pass_stream(options)
    }

    fn usage_of(&self, _body: &[u8]) -> Result<Option<Usage>, UpstreamError> {
        Ok(None)
    }

    fn replay(
        &self,
        _op: Endpoint,
        _body: &[u8],
        _redactor: &Redactor,
    ) -> Result<Bytes, UpstreamError> {
        Err(UpstreamError::Invalid(
            "a video provider streams no answers".to_owned(),
        ))
    }
}
