//! Bridges: one per (client format, upstream format) pair, each holding the request, response
//! and stream conversion of its pair and the reading of its upstream's in-stream errors.
//!
//! Owns: the `Bridge` interface, the one match over format pairs (`bridge`: exhaustive, so a
//! new wire format does not compile until each of its pairs is bridged or [`Refused`]), and the
//! `route` of an endpoint on a provider (its operation and its bridge). One folder per pair:
//! `openai_to_anthropic/` (an OpenAI chat client, an Anthropic upstream), `anthropic_to_openai/`
//! (an Anthropic messages client, an OpenAI-format upstream), `openai_to_gemini/` and
//! `anthropic_to_gemini/` (those clients, a Gemini API or Vertex AI upstream),
//! `gemini_to_openai/` and `gemini_to_anthropic/` (a Gemini client, Google's SDKs on the native
//! routes); `same/` passes a format through to itself (its provider reads what it must on the
//! way); `common/` holds what bridges share (`common/gemini_upstream/`: Gemini's shapes for the
//! bridges to it; `common/gemini_client/`: reading Gemini requests, writing Gemini answers).
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
//!
//! To a Gemini upstream (`openai_to_gemini/`, `anthropic_to_gemini/`):
//! - The body names no model and no `stream` (the provider puts both in the URL). System and
//!   developer messages (Anthropic `system`) become `systemInstruction` text parts; roles are
//!   `user`/`model`, consecutive same-role turns merged, empty text and empty turns left out.
//! - Images: base64 data URLs (Anthropic base64 sources) become `inlineData`; http(s) and
//!   `gs://` URLs become `fileData{fileUri, mimeType from the extension, else image/jpeg}`:
//!   Google fetches them, never the relay (the Gemini API may refuse URLs outside its Files
//!   API; that 400 is the upstream's). Audio, files, documents: 400 naming the part.
//! - Tool calls become `functionCall{name,args}` (arguments must be a JSON object, else 400);
//!   the first call of each model turn carries Google's documented placeholder
//!   `thoughtSignature` (clients cannot carry Gemini's own; Gemini 3 refuses unsigned calls).
//!   Tool results become `functionResponse{name,response}` first in a user turn, named by the
//!   call they answer (an id that answers no earlier call is a 400); `response` is the result
//!   if it is a JSON object, else `{"result": text}` (`{"error": text}` for an Anthropic
//!   `is_error` result); images inside an Anthropic result follow it as parts.
//! - Schemas (tool parameters, `json_schema`) go as Gemini's OpenAPI subset (`parameters`,
//!   `responseSchema`): members it rejects (`$schema`, `additionalProperties`, `strict`,
//!   unknown formats, ...) dropped, `type: [t, "null"]` as `nullable`, `oneOf` as `anyOf`,
//!   `const` as an `enum`; a schema with `$ref`/`$defs` goes whole as `parametersJsonSchema` /
//!   `responseJsonSchema`. A function whose parameters are an empty object has none.
//! - `tool_choice`: auto/none as `AUTO`/`NONE`, required/any as `ANY`, a named function as `ANY`
//!   with `allowedFunctionNames`. OpenAI `n > 1` is a 400 (only candidate 0 is converted);
//!   `seed` and the penalties are forwarded; `logprobs`, `logit_bias`, `user`,
//!   `parallel_tool_calls`, `reasoning_effort`, Anthropic `metadata`, `cache_control` and
//!   `disable_parallel_tool_use` are dropped, as are thinking blocks in history. Anthropic
//!   `thinking` enabled becomes `thinkingConfig{includeThoughts, thinkingBudget}`; disabled
//!   leaves the model's default (some Gemini models cannot stop thinking).
//! - Answers: candidate 0 only; `thought: true` parts become `reasoning_content` / thinking
//!   blocks (empty `signature`); function calls get Gemini's `id` or a fresh `call_` /
//!   `toolu_` id; a blocked prompt (`promptFeedback.blockReason`, no candidates) is an empty
//!   answer with `content_filter` / `refusal`. Streams: the finish is forwarded when it comes,
//!   the usage chunk (OpenAI, when asked) and `[DONE]` / `message_delta` + `message_stop` when
//!   the upstream ends after it; an end without `finishReason` is a cut (502).
//! - Embeddings: one `batchEmbedContents` request per input string (`dimensions` as
//!   `outputDimensionality`; token arrays 400); `encoding_format: "base64"`, the OpenAI SDKs'
//!   default, is honoured through `Asked`; usage is zeros unless the answer says otherwise.
//! - Media (OpenAI clients; `openai_to_gemini/images.rs`, `imagen.rs`, `speech.rs`): image
//!   generations go to a Gemini image model as `generateContent` with `responseModalities`
//!   TEXT and IMAGE, or, for an `imagen-*` model where the upstream serves `:predict` (Vertex
//!   AI: its operation is `ImageGenerations`), as Imagen's `instances`/`parameters` (`n` as
//!   `sampleCount`, `includeRaiReason` always); `size` becomes the nearest aspect ratio the
//!   model takes. Answers: `inlineData` images / `bytesBase64Encoded` as `b64_json`, the
//!   model's text / Imagen's enhanced prompt as `revised_prompt`, `usage` by modality (Gemini
//!   image models; Imagen has none). Filtered Imagen samples are left out; no image at all
//!   (a filter's finish or block, every sample filtered, `NO_IMAGE`) is the client's 400
//!   through `providers::gemini::errors::withheld`, never a 2xx. Speech goes to a TTS model
//!   with `responseModalities: ["AUDIO"]` and a prebuilt voice (OpenAI voice names mapped to
//!   Gemini voices, other names passed); its L16 PCM answers `pcm` as it came and `wav` (also
//!   for no `response_format`) behind a WAV header, the type carried in `Asked::answer_type`.
//!   400s naming the limitation: `n > 1` to a Gemini image model, `response_format: "url"`,
//!   `stream`, `stream_format: "sse"`, output formats the models lack (speech mp3, opus, aac,
//!   flac; images other than PNG, or PNG/JPEG for Imagen), custom voices, Imagen on the Gemini
//!   API. Dropped: image `quality`, `style`, `background`, `moderation`, `user`; speech
//!   `instructions`, `speed`.
//!
//! A Gemini client (`gemini_to_openai/`, `gemini_to_anthropic/`):
//! - Members are read by their JSON (lowerCamel) or proto (snake_case) name, as Google does.
//! - A `functionCall` keeps its `id`, else gets `call_<content index>_<n>`; a
//!   `functionResponse` with an `id` keeps it, else answers the first unanswered call of its
//!   name (none: 400). Its content upstream is the JSON text of `response`; to Anthropic a
//!   `response` holding only `error` is `is_error`. Answers give each call's upstream id back.
//! - Consecutive contents of one role merge into one message (the SDK's chat history holds a
//!   content per streamed chunk); thought parts and `thoughtSignature`s of earlier answers are
//!   dropped; function results come first in their user turn.
//! - `inlineData` images become data-URL `image_url`s / base64 image blocks, `fileData` images
//!   with an http(s) URI URL images; any other media type, `gs://` and Files API files without an
//!   http(s) image URI, `executableCode`, non-function tools (Google Search, code execution),
//!   `cachedContent`, `candidateCount > 1` and output other than text are 400s naming them.
//! - Gemini `Schema`s become JSON Schema: type words in lower case, `nullable` folded into the
//!   type, `propertyOrdering`/`example`/`format: enum` dropped; `parametersJsonSchema` and
//!   `responseJsonSchema` pass as they are.
//! - `functionCallingConfig`: `AUTO`/`VALIDATED` leave `tool_choice` unset, `ANY` is
//!   `required`/`any` (a single allowed function: that function), `NONE` is `none`;
//!   `allowedFunctionNames` narrows the tools sent.
//! - `generationConfig`: to OpenAI, `topK` is dropped and `responseMimeType: application/json`
//!   is `response_format` (`json_schema` named `response` with a schema, else `json_object`);
//!   to Anthropic, `max_tokens` defaults to 4096 and `seed`, penalties and JSON output are
//!   dropped; `thinkingConfig`, logprobs, media resolution and `safetySettings` are dropped.
//! - Streamed to OpenAI with `stream_options.include_usage` (a Gemini client always gets
//!   `usageMetadata`). Gemini chunks are `data: <json>\r\n\r\n`, no event names, no
//!   terminator; a chunk per text or thinking delta; tool-call arguments are gathered (bounded by
//!   `MAX_ARGS`, past it a 502) and sent as one whole `functionCall` part; the last chunk has
//!   `finishReason` and `usageMetadata` (and an empty text part when it has nothing else: the
//!   SDK drops a turn with an empty chunk from its history). Answers' `modelVersion` is the
//!   client's model name, `responseId` the upstream id without its prefix.
//! - Embeddings (OpenAI only): `embedContent` sends `input` as a string, `batchEmbedContents` as
//!   an array (one `outputDimensionality` per batch, else 400); text parts of one content are
//!   joined by a space; `taskType` and `title` are dropped; `encoding_format` is `float`.

mod anthropic_to_gemini;
mod anthropic_to_openai;
mod common;
mod gemini_to_anthropic;
mod gemini_to_openai;
mod openai_to_anthropic;
mod openai_to_gemini;
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
    /// The endpoint the client called (several may be served by one upstream operation).
    pub client_op: Endpoint,
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

/// What a client asked of its answer that the converted request no longer says (an upstream
/// that does not take the request's word for it), carried from `request_asking` to
/// `response_asked`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Asked {
    /// OpenAI `encoding_format: "base64"`: each embedding as base64 of little-endian f32s.
    pub base64_embeddings: bool,
    /// The `content-type` of a bridged answer that is not JSON (a speech answer's audio).
    pub answer_type: Option<&'static str>,
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

    /// [`Bridge::request`], with what the client asked of the answer; the relay calls this one.
    /// Bridges whose answer needs no more than the answer itself keep this default.
    fn request_asking(
        &self,
        provider: &dyn Provider,
        r: Request<'_>,
    ) -> Result<(Outgoing, Asked), RelayError> {
        Ok((self.request(provider, r)?, Asked::default()))
    }

    /// The upstream's whole answer to `op` as the client's answer to `client_op`, and its
    /// usage. `client_model` is the name the client asked for; `renamed` says the upstream was
    /// asked for another.
    fn response(
        &self,
        provider: &dyn Provider,
        op: Endpoint,
        client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError>;

    /// [`Bridge::response`], shaped as the client asked (`asked`, from
    /// [`Bridge::request_asking`]); the relay calls this one.
    #[expect(
        clippy::too_many_arguments,
        reason = "the answer's whole context, as the relay has it"
    )]
    fn response_asked(
        &self,
        provider: &dyn Provider,
        op: Endpoint,
        client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        renamed: bool,
        asked: Asked,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        let _ = asked;
        self.response(provider, op, client_op, body, client_model, renamed)
    }

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
        (WireFormat::OpenAi, WireFormat::Gemini) => Ok(&openai_to_gemini::OPENAI_TO_GEMINI),
        (WireFormat::Anthropic, WireFormat::Gemini) => {
            Ok(&anthropic_to_gemini::ANTHROPIC_TO_GEMINI)
        }
        (WireFormat::Gemini, WireFormat::OpenAi) => Ok(&gemini_to_openai::GEMINI_TO_OPENAI),
        (WireFormat::Gemini, WireFormat::Anthropic) => {
            Ok(&gemini_to_anthropic::GEMINI_TO_ANTHROPIC)
        }
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
        for client in WireFormat::ALL {
            for upstream in WireFormat::ALL {
                assert!(
                    bridge(client, upstream).is_ok(),
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
