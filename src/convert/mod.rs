//! Format conversion between OpenAI Chat Completions and Anthropic Messages, both directions,
//! requests, responses, errors and streams.
//!
//! Owns: pure, synchronous JSON-to-JSON mapping. Must never do I/O, never keep a whole streamed
//! answer in memory, and never panic on any input: malformed input is a `ConvertError`.
//! The relay calls these only when client and upstream formats differ; otherwise it forwards
//! bytes untouched and reads usage with `usage_from_chat` / `usage_from_messages`.
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
//! - OpenAI `refusal` becomes text with stop reason `refusal`; `reasoning_content` (or
//!   `reasoning`) becomes a thinking block with an empty `signature`.
//! - Streams: only choice 0 is converted; a tool-call fragment at the open call's index is a
//!   continuation unless it carries a different id; a fragment for a call never started is a 502.
//! - Error bodies never echo non-JSON upstream text, request ids or unknown fields.

mod error;
mod error_body;
mod json;
mod parts;
#[cfg(test)]
mod proptests;
mod request_to_chat;
mod request_to_messages;
mod response_to_chat;
mod response_to_messages;
mod stop_reason;
mod stream_to_chat;
mod stream_to_messages;
mod tools;
mod usage;

pub use error::ConvertError;
pub use error_body::{anthropic_error_to_openai, openai_error_to_anthropic};
pub use request_to_chat::messages_request_to_chat;
pub use request_to_messages::{chat_request_to_messages, DEFAULT_MAX_TOKENS};
pub use response_to_chat::messages_response_to_chat;
pub use response_to_messages::chat_response_to_messages;
pub use stream_to_chat::MessagesToChatStream;
pub use stream_to_messages::ChatToMessagesStream;
pub use usage::{usage_from_chat, usage_from_messages, Usage};

/// One SSE event to emit downstream. `event` = the `event:` name (Anthropic) or None (OpenAI);
/// `data` = the JSON text (or `"[DONE]"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseOut {
    pub event: Option<&'static str>,
    pub data: String,
}
