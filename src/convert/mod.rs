//! Format conversion between OpenAI Chat Completions and Anthropic Messages, both directions,
//! requests, responses, errors and streams.
//!
//! Owns: pure, synchronous JSON-to-JSON mapping. Must never do I/O, never keep a whole streamed
//! answer in memory, and never panic on any input: malformed input is a `ConvertError`.
//! The relay calls these only when client and upstream formats differ; otherwise it forwards
//! bytes untouched and reads usage with `usage_from_chat` / `usage_from_messages`.

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
/// `data` = the JSON text (or "[DONE]").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseOut {
    pub event: Option<&'static str>,
    pub data: String,
}
