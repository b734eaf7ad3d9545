//! The bridge from a Gemini client (Google's SDKs on the relay's native Gemini routes) to an
//! Anthropic upstream.
//!
//! Owns: `GenerateContentRequest` -> messages request (`request`), message ->
//! `GenerateContentResponse` (`response`), Anthropic events -> Gemini chunks (`stream`). The
//! Gemini side is read and written by `common::gemini_client`; Anthropic's words through
//! `providers::anthropic`; an in-stream `event: error` is read by Anthropic's reader and
//! rendered by `error.rs`. Anthropic embeds nothing (its provider serves no embedding call).
//! Must never: do I/O, or hold more of a streamed answer than one tool call's arguments.

mod request;
mod response;
mod stream;

pub(crate) use request::generate_to_messages;
pub(crate) use response::messages_response_to_generate;
pub(crate) use stream::MessagesToGenerateStream;

use super::common::gemini_client::GeminiClient;

pub(super) static GEMINI_TO_ANTHROPIC: GeminiClient = GeminiClient {
    generate: generate_to_messages,
    answer: messages_response_to_generate,
    stream: |s| Box::new(MessagesToGenerateStream::new(s.client_model).with_redactor(s.redactor)),
    embed: None,
};
