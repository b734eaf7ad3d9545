//! Google's Gemini API (and Vertex AI, which speaks the same bodies): its words.
//!
//! Owns: `finish` (the `finishReason` words), `usage` (`usageMetadata`) and `errors`
//! (`google.rpc.Status` and what its words mean), shared by the Gemini bridges. The provider itself (endpoints, auth, errors, streams) joins them here.
//! Must never: let Gemini's words out of this folder except as neutral types.

pub(crate) mod errors;
pub(crate) mod finish;
pub(crate) mod usage;
