//! Streaming: SSE parsing/encoding, per-stream format transforms, and the response body that
//! owns the upstream stream.
//!
//! Owns: everything between upstream bytes and client bytes once response headers are sent.
//! Must never: hold a whole answer in memory, or outlive the client's interest in it.

pub mod body;
pub mod sse;
mod transform;

pub use body::RelayStream;
pub use transform::Transform;
