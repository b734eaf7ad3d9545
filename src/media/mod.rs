//! OpenAI's media endpoints (images, audio, moderations): what the relay does for them beyond
//! the text path.
//!
//! Owns: multipart uploads streamed to the upstream as they arrive (`upload`: the `model` part
//! read for routing, only a mapped `model` rewritten, memory a few buffers), the reading of a
//! media answer's usage (`usage`: images, audio seconds, characters, tokens where reported),
//! and the pass-through of media event streams (`events`: image, speech and transcript events,
//! their terminal event, their usage).
//! Must never: hold an upload or a binary answer whole in memory, or wait without a deadline.

pub(crate) mod events;
pub(crate) mod upload;
pub(crate) mod usage;

pub(crate) use upload::{Upload, UploadLimits};
