//! The bridge from an OpenAI chat client to an Anthropic upstream.
//!
//! Owns: chat request -> messages request (`request`), message -> chat completion
//! (`response`), Anthropic events -> `chat.completion.chunk`s (`stream`). Anthropic's words are
//! read through `providers::anthropic`, OpenAI's written through `providers::openai`; an
//! in-stream `event: error` is read by Anthropic's reader and rendered by `error.rs`.
//! Must never: do I/O, or buffer a streamed answer.

mod request;
mod response;
mod stream;

pub use request::chat_request_to_messages;
pub use response::messages_response_to_chat;
pub use stream::MessagesToChatStream;

use super::common::Converting;

pub(super) static OPENAI_TO_ANTHROPIC: Converting = Converting {
    request: chat_request_to_messages,
    answer: messages_response_to_chat,
    stream: |s| {
        Box::new(
            MessagesToChatStream::new(s.client_model, s.include_usage).with_redactor(s.redactor),
        )
    },
};
