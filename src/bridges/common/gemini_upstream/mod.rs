//! What the bridges to a Gemini upstream share (`openai_to_gemini/`, `anthropic_to_gemini/`):
//! the bridge that tells Gemini's operations apart (`bridge`), writing a
//! `GenerateContentRequest` (`write`, its settings in `settings`, its schemas in `schema`), reading a
//! `GenerateContentResponse` or a streamed chunk (`read`), and the media bodies: image, speech
//! and Imagen requests (`media_write`), their answers' images, audio and filtered samples
//! (`media_read`).
//!
//! Owns: Gemini's request and answer shapes as the client-side converters need them. Gemini's
//! own words (finish reasons, usage, errors) are read through `providers::gemini`.
//! Must never: do I/O, know a client format, or panic on any input.

pub(crate) mod bridge;
pub(crate) mod media_read;
pub(crate) mod media_write;
pub(crate) mod read;
pub(crate) mod schema;
pub(crate) mod settings;
#[cfg(test)]
mod simulated;
pub(crate) mod write;

pub(crate) use bridge::{Embedding, Media, MediaOp, ToGemini};
pub(crate) use read::{read, Piece};
