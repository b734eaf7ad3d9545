//! What the bridges share: a bridge made of its converters (`converting`), a whole OpenAI
//! answer read (`chat_answer`), a streamed chunk's tool-call fragments (`chat_chunk`), a streamed Anthropic
//! message's block events (`message_events`) and writing them (`message_blocks`), typed reads over
//! JSON values and the bodies' reading and writing (`json`), content parts and blocks
//! (`parts`), tool definitions and `tool_choice` (`tools`), whose fault malformed input is
//! (`side`), Gemini's request and answer shapes for the bridges to it (`gemini_upstream`), and
//! what the bridges from a Gemini client share (`gemini_client`).
//!
//! Owns: those helpers, each used by more than one bridge or in both directions. Must never:
//! do I/O, or panic on any input.

pub(crate) mod chat_answer;
pub(crate) mod chat_chunk;
pub(crate) mod converting;
pub(crate) mod gemini_client;
pub(crate) mod gemini_upstream;
pub(crate) mod json;
pub(crate) mod message_blocks;
pub(crate) mod message_events;
pub(crate) mod parts;
pub(crate) mod side;
pub(crate) mod tools;

pub(crate) use converting::Converting;
pub(crate) use side::Side;
