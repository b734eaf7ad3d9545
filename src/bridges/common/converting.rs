//! A bridge between two different formats, made of its three converters.
//!
//! Owns: [`Converting`]: the request converter (the client's body to the upstream's), the
//! answer converter (the upstream's whole answer to the client's, with its usage) and the
//! stream converter's constructor, behind the [`Bridge`] interface. Must never: know a format
//! (each pair's folder gives its converters).

use super::json::{converted_answer, converted_request, AnswerConverter};
use crate::bridges::{Bridge, Outgoing, Request, StreamSetup};
use crate::error::RelayError;
use crate::providers::Provider;
use crate::stream::Transform;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Endpoint, Usage};
use bytes::Bytes;
use serde_json::Value;

/// The converters of one pair of different formats.
pub(crate) struct Converting {
    /// The client's request as the upstream's, for an upstream model name.
    pub(crate) request: fn(&Value, &str) -> Result<Value, ConvertError>,
    pub(crate) answer: AnswerConverter,
    pub(crate) stream: fn(StreamSetup<'_>) -> Box<dyn Transform>,
}

impl Bridge for Converting {
    fn request(&self, _provider: &dyn Provider, r: Request<'_>) -> Result<Outgoing, RelayError> {
        Ok(Outgoing {
            body: converted_request(&r.body, r.upstream_model, self.request)?,
            strip_usage: false,
        })
    }

    fn response(
        &self,
        _provider: &dyn Provider,
        _op: Endpoint,
        _client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        _renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        converted_answer(&body, client_model, self.answer)
    }

    fn stream(&self, _provider: &dyn Provider, setup: StreamSetup<'_>) -> Box<dyn Transform> {
        (self.stream)(setup)
    }
}
