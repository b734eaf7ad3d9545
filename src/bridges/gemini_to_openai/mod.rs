//! The bridge from a Gemini client (Google's SDKs on the relay's native Gemini routes) to an
//! OpenAI-format upstream (OpenAI, xAI, any OpenAI-compatible server).
//!
//! Owns: `GenerateContentRequest` -> chat request (`request`), chat completion ->
//! `GenerateContentResponse` (`response`), `chat.completion.chunk`s -> Gemini chunks
//! (`stream`), `embedContent` / `batchEmbedContents` <-> embeddings (`embed`). The Gemini side
//! is read and written by `common::gemini_client`; OpenAI's words through `providers::openai`;
//! an in-stream error chunk is read by OpenAI's reader and rendered by `error.rs`.
//! Must never: do I/O, or hold more of a streamed answer than one tool call's arguments.

mod embed;
mod request;
mod response;
mod stream;

pub(crate) use request::generate_to_chat;
pub(crate) use response::chat_response_to_generate;
pub(crate) use stream::ChatToGenerateStream;

use super::common::gemini_client::{Embedder, GeminiClient};

pub(super) static GEMINI_TO_OPENAI: GeminiClient = GeminiClient {
    generate: generate_to_chat,
    answer: chat_response_to_generate,
    stream: |s| Box::new(ChatToGenerateStream::new(s.client_model).with_redactor(s.redactor)),
    embed: Some(Embedder {
        request: embed::request,
        answer: embed::answer,
    }),
};
