//! Streaming: SSE parsing and encoding, the transform interface, and the response body that
//! owns the upstream stream.
//!
//! Owns: everything between upstream bytes and client bytes once response headers are sent.
//! Must never: hold a whole answer in memory, or outlive the client's interest in it.

pub(crate) mod body;
pub(crate) mod json_scan;
pub(crate) mod raw;
pub mod sse;
#[cfg(test)]
pub(crate) mod testing;
mod transform;

pub(crate) use body::{Held, RelayStream};
pub use transform::Transform;
