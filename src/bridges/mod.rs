//! Bridges: one per (client format, upstream format) pair, each holding the request, response
//! and stream conversion of its pair and the reading of its upstream's in-stream errors.
//!
//! Owns: the `Bridge` interface, the one match over format pairs (`bridge`: exhaustive, so a
//! new wire format does not compile until each of its pairs is bridged or [`Refused`]), and the
//! `route` of an endpoint on a provider (its operation and its bridge). One folder per pair:
//! `openai_to_anthropic/` (an OpenAI chat client, an Anthropic upstream), `anthropic_to_openai/`
//! (an Anthropic messages client, an OpenAI-format upstream); `same/` passes a format through to
//! itself (its provider reads what it must on the way); `common/` holds what bridges share.
//! Errors: an upstream's in-stream error event is read by its format's reader into an
//! [`crate::wire::UpstreamFault`] and rendered in the client's format by `error.rs`, which also
//! renders error answers; no bridge writes an error shape of its own.
//! Must never: do I/O, keep a whole streamed answer in memory, or panic on any input: malformed
//! input is a [`crate::wire::ConvertError`] (the client's: 400, the upstream's: 502).
//!
//! Mapping decisions beyond the plain field renames (tests pin each one):
//! - System/developer messages anywhere in the chat are hoisted to Anthropic `system`, texts
//!   joined with a blank line; Anthropic system blocks come back as one system message.
//! - Empty text parts and messages left without content are dropped (Anthropic rejects them);
//!   a lone plain text block is sent as a string; in a merged user turn tool results go first.
//! - Chat tool-call `arguments` that are empty read as `{}`; invalid JSON or a non-object in a
//!   *request* is a 400. In an upstream *response* they become `{"_raw": "<string>"}`.
//! - Dropped without error (no counterpart): OpenAI `seed`, penalties, `logit_bias`,
//!   `logprobs`, `response_format`, `reasoning_effort`, `stream_options`, tool `strict`;
//!   Anthropic `top_k`, `thinking`, `cache_control`, `is_error`, thinking blocks in history.
//!   `top_k` sent by an OpenAI client is forwarded to Anthropic.
//! - Errors (400): `n > 1`, non-function tools, Anthropic server tools, content parts or blocks
//!   without a counterpart (audio, files, documents, server tool blocks), legacy
//!   `function_call`, non-base64 data URLs.
//! - Images inside an Anthropic `tool_result` move to the user message after the tool messages.
//! - Anthropic -> OpenAI sends `max_tokens` (not `max_completion_tokens`).
//! - Usage: Anthropic `input_tokens` = OpenAI `prompt_tokens - cached_tokens`, with
//!   `cache_read_input_tokens` = `cached_tokens`; OpenAI `completion_tokens` is raised to
//!   `total_tokens - prompt_tokens` when larger (xAI reasoning tokens).
//! - Stop reasons pass through the neutral [`crate::wire::StopReason`]; an answer with tool
//!   calls that ended normally asks for its tools to run (`tool_use` / `tool_calls`).
//! - OpenAI `refusal` becomes text with stop reason `refusal`; `reasoning_content` (or
//!   `reasoning`) becomes a thinking block with an empty `signature`.
//! - Streams: only choice 0 is converted; a tool-call fragment at the open call's index is a
//!   continuation unless it carries a different id; a fragment for a call never started is a 502.

mod anthropic_to_openai;
mod common;
mod openai_to_anthropic;
#[cfg(test)]
mod proptests;
mod same;

pub use anthropic_to_openai::{chat_response_to_messages, ChatToMessagesStream};
pub use openai_to_anthropic::{
    chat_request_to_messages, messages_response_to_chat, MessagesToChatStream,
};

use crate::error::RelayError;
use crate::providers::Provider;
use crate::stream::Transform;
use crate::upstream::{Redactor, UpstreamError};
use crate::wire::{Endpoint, SseOut, Usage, WireFormat};
use bytes::Bytes;
use std::sync::Arc;

/// A client's request on its way to one upstream operation.
pub(crate) struct Request<'a> {
    /// The upstream operation (from `Provider::serves`).
    pub op: Endpoint,
    /// The client's body, as it came.
    pub body: Bytes,
    pub stream: bool,
    /// The client asked for usage in its stream (`stream_options.include_usage`).
    pub include_usage: bool,
    pub client_model: &'a str,
    pub upstream_model: &'a str,
}

/// The body to send upstream.
pub(crate) struct Outgoing {
    pub body: Bytes,
    /// The relay asked the upstream for usage the client did not ask for (to remove it again).
    pub strip_usage: bool,
}

/// What the transform of one stream needs.
pub(crate) struct StreamSetup<'a> {
    /// The model name the client asked for (shown in every answer and chunk).
    pub client_model: &'a str,
    /// The upstream was asked for another model name (a mapping).
    pub renamed: bool,
    pub include_usage: bool,
    pub strip_usage: bool,
    /// The relay's redactor, for upstream error events.
    pub redactor: Arc<Redactor>,
}

/// The conversions of one (client format, upstream format) pair.
pub(crate) trait Bridge: Sync {
    /// The client's request as the body to send upstream.
    fn request(&self, provider: &dyn Provider, r: Request<'_>) -> Result<Outgoing, RelayError>;

    /// The upstream's whole answer to `op` as the client's, and its usage. `client_model` is the name
    /// the client asked for; `renamed` says the upstream was asked for another.
    fn response(
        &self,
        provider: &dyn Provider,
        op: Endpoint,
        body: Bytes,
        client_model: &str,
        renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError>;

    /// The transform of one upstream stream into the client's.
    fn stream(&self, provider: &dyn Provider, setup: StreamSetup<'_>) -> Box<dyn Transform>;
}

/// A pair of formats no bridge converts between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} requests cannot be converted for an upstream that speaks {}", client.as_str(), upstream.as_str())]
pub struct Refused {
    pub client: WireFormat,
    pub upstream: WireFormat,
}

/// The one match over format pairs: the bridge from a client's format to an upstream's.
pub(crate) fn bridge(
    client: WireFormat,
    upstream: WireFormat,
) -> Result<&'static dyn Bridge, Refused> {
    match (client, upstream) {
        (WireFormat::OpenAi, WireFormat::OpenAi)
        | (WireFormat::Anthropic, WireFormat::Anthropic) => Ok(&same::Same),
        (WireFormat::OpenAi, WireFormat::Anthropic) => {
            Ok(&openai_to_anthropic::OPENAI_TO_ANTHROPIC)
        }
        (WireFormat::Anthropic, WireFormat::OpenAi) => {
            Ok(&anthropic_to_openai::ANTHROPIC_TO_OPENAI)
        }
        (WireFormat::Gemini, WireFormat::Gemini) => Ok(&same::Same),
        // Each of these pairs gets its folder: openai_to_gemini/, anthropic_to_gemini/,
        // gemini_to_openai/, gemini_to_anthropic/.
        (WireFormat::OpenAi, WireFormat::Gemini)
        | (WireFormat::Anthropic, WireFormat::Gemini)
        | (WireFormat::Gemini, WireFormat::OpenAi)
        | (WireFormat::Gemini, WireFormat::Anthropic) => Err(Refused { client, upstream }),
    }
}

/// How a provider serves a client endpoint: its operation, and the bridge to it.
#[derive(Clone, Copy)]
pub(crate) struct Route {
    pub op: Endpoint,
    pub bridge: &'static dyn Bridge,
}

/// Why a provider cannot serve a client endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unserved {
    /// It has no operation for the endpoint.
    Endpoint,
    /// No bridge converts the client's format to the provider's.
    Formats(Refused),
}

/// The route of `endpoint` on `provider`, or why there is none.
pub(crate) fn route(endpoint: Endpoint, provider: &dyn Provider) -> Result<Route, Unserved> {
    let op = provider.serves(endpoint).ok_or(Unserved::Endpoint)?;
    let bridge = bridge(endpoint.client_format(), provider.wire()).map_err(Unserved::Formats)?;
    Ok(Route { op, bridge })
}

/// The redactor of stream converters not given the relay's: key shapes only, shared.
fn default_redactor() -> Arc<Redactor> {
    static DEFAULT: std::sync::LazyLock<Arc<Redactor>> = std::sync::LazyLock::new(Default::default);
    DEFAULT.clone()
}

/// Converted events, encoded for the client.
fn emit(events: Vec<SseOut>, out: &mut Vec<Bytes>) {
    out.extend(
        events
            .iter()
            .map(|e| crate::stream::sse::encode(e.event, &e.data)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::providers::provider_for;

    #[test]
    fn every_pair_of_formats_is_bridged() {
        // The pairs whose bridges are still being built (each pair's folder removes itself).
        let pending = [
            (WireFormat::OpenAi, WireFormat::Gemini),
            (WireFormat::Anthropic, WireFormat::Gemini),
            (WireFormat::Gemini, WireFormat::OpenAi),
            (WireFormat::Gemini, WireFormat::Anthropic),
        ];
        for client in WireFormat::ALL {
            for upstream in WireFormat::ALL {
                assert_eq!(
                    bridge(client, upstream).is_ok(),
                    !pending.contains(&(client, upstream)),
                    "{client:?} -> {upstream:?}"
                );
            }
        }
        let refused = Refused {
            client: WireFormat::Anthropic,
            upstream: WireFormat::OpenAi,
        };
        assert_eq!(
            refused.to_string(),
            "Anthropic requests cannot be converted for an upstream that speaks OpenAI"
        );
    }

    #[test]
    fn routes_follow_what_each_provider_serves() {
        let op = |kind, endpoint| route(endpoint, provider_for(kind)).map(|r| r.op);
        assert_eq!(
            op(ProviderKind::Openai, Endpoint::Messages).ok(),
            Some(Endpoint::Chat)
        );
        assert_eq!(
            op(ProviderKind::Anthropic, Endpoint::Chat).ok(),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            op(ProviderKind::Anthropic, Endpoint::Embeddings).err(),
            Some(Unserved::Endpoint)
        );
        assert_eq!(
            op(ProviderKind::Xai, Endpoint::Embeddings).err(),
            Some(Unserved::Endpoint)
        );
        assert_eq!(
            op(ProviderKind::OpenaiCompatible, Endpoint::Embeddings).ok(),
            Some(Endpoint::Embeddings)
        );
        for kind in [ProviderKind::Gemini, ProviderKind::Vertex] {
            assert_eq!(
                op(kind, Endpoint::GenerateContent).ok(),
                Some(Endpoint::GenerateContent)
            );
            assert_eq!(
                op(kind, Endpoint::Completions).err(),
                Some(Unserved::Endpoint)
            );
        }
    }
}
