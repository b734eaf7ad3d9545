//! Deterministic content: words, token counts, tool arguments, ids and clocks.
//! Owns how simulated content is derived from a request; must never touch HTTP.

pub(crate) mod audio;
pub(crate) mod ids;
pub(crate) mod image;
pub(crate) mod text;
pub(crate) mod tools;
pub(crate) mod vectors;
pub(crate) mod words;
