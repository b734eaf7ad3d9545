//! Google's Gemini API (and Vertex AI, which speaks the same bodies): its words.
//!
//! Owns: `finish` (the `finishReason` words), `usage` (`usageMetadata`) and `errors`
//! (`google.rpc.Status` and what its words mean), shared by the Gemini bridges. The provider itself (endpoints, auth, errors, streams) joins them here.
//! Must never: let Gemini's words out of this folder except as neutral types.

// Used by the Gemini bridges as they land.
pub(crate) mod errors;
#[allow(dead_code, reason = "read by the Gemini bridges, which land next")]
pub(crate) mod finish;
#[allow(dead_code, reason = "read by the Gemini bridges, which land next")]
pub(crate) mod usage;
