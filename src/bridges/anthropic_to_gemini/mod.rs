//! The bridge from an Anthropic messages client to a Gemini upstream (the Gemini API or
//! Vertex AI).
//!
//! Owns: messages request -> `GenerateContentRequest` (`request`), `GenerateContentResponse`
//! -> message (`response`), Gemini chunks -> Anthropic events (`stream`). Gemini's words are
//! read through `providers::gemini` and the shared `common::gemini_upstream`, Anthropic's
//! written through `providers::anthropic`; an in-stream error chunk is read by Gemini's reader
//! and rendered by `error.rs`. Must never: do I/O, or buffer a streamed answer.

mod request;
mod response;
mod stream;

pub(crate) use request::messages_request_to_gemini;
pub(crate) use response::gemini_response_to_messages;
pub(crate) use stream::GeminiToMessagesStream;

use super::common::gemini_upstream::ToGemini;
use super::common::Converting;

pub(super) static ANTHROPIC_TO_GEMINI: ToGemini = ToGemini {
    generate: Converting {
        request: messages_request_to_gemini,
        answer: gemini_response_to_messages,
        stream: |s| Box::new(GeminiToMessagesStream::new(s.client_model).with_redactor(s.redactor)),
    },
    embed: None,
    media: None,
};
