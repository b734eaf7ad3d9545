//! Streaming: SSE parsing/encoding, per-stream format transforms, a JSON answer replayed as a
//! stream, and the response body that owns the upstream stream.
//!
//! Owns: everything between upstream bytes and client bytes once response headers are sent.
//! Must never: hold a whole answer in memory, or outlive the client's interest in it.

pub mod body;
pub(crate) mod json_scan;
mod replay;
pub mod sse;
mod transform;

pub use body::{Held, RelayStream};
pub use replay::replay;
pub use transform::Transform;
