//! The bridge from an Anthropic messages client to an OpenAI-format upstream (OpenAI, xAI, any
//! OpenAI-compatible server).
//!
//! Owns: messages request -> chat request (`request`), chat completion -> message
//! (`response`), `chat.completion.chunk`s -> Anthropic events (`stream`). OpenAI's words are
//! read through `providers::openai`, Anthropic's written through `providers::anthropic`; an
//! in-stream error chunk is read by OpenAI's reader and rendered by `error.rs`.
//! Must never: do I/O, or buffer a streamed answer.

mod request;
mod response;
mod stream;

pub(crate) use request::messages_request_to_chat;
pub use response::chat_response_to_messages;
pub use stream::ChatToMessagesStream;

use super::common::Converting;

pub(super) static ANTHROPIC_TO_OPENAI: Converting = Converting {
    request: messages_request_to_chat,
    answer: chat_response_to_messages,
    stream: |s| Box::new(ChatToMessagesStream::new(s.client_model).with_redactor(s.redactor)),
};
