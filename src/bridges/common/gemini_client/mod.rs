//! What the bridges from a Gemini client share: reading its requests into neutral form and
//! writing its answers and stream chunks.
//!
//! Owns: `fields` (lowerCamel or snake_case member names), `schema` (Gemini `Schema` -> JSON
//! Schema), `contents` (turns, parts, function-call id matching), `tools`, `config`
//! (`generationConfig`), `request` (the whole `GenerateContentRequest`), `embed`, `answer`
//! (`GenerateContentResponse` and its parts), `stream` (chunks and gathered tool calls) and
//! `bridge` (the [`GeminiClient`] bridge over a pair's converters). Must never: know the
//! upstream's format, do I/O, or panic on any input.

pub(crate) mod answer;
mod bridge;
pub(crate) mod config;
pub(crate) mod contents;
pub(crate) mod embed;
mod fields;
pub(crate) mod request;
mod schema;
pub(crate) mod stream;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod tools;

pub(crate) use bridge::{Embedder, GeminiClient, Vectors};
