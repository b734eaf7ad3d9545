//! Typed errors of format conversion, and which side of the relay is to blame.
//!
//! Owns: `ConvertError`. Must never carry raw upstream bodies or secrets in messages; messages
//! are written to be shown to the client.

use thiserror::Error;

/// A conversion failure. The variant says whose fault it is, and so which HTTP status the relay
/// answers with.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConvertError {
    /// The client's request cannot be expressed in the upstream format (answer 400).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider sent something we cannot understand or that breaks its protocol (answer 502).
    #[error("invalid upstream response: {0}")]
    InvalidUpstream(String),
}

impl ConvertError {
    /// The HTTP status the relay should answer with.
    pub fn status(&self) -> u16 {
        match self {
            ConvertError::InvalidRequest(_) => 400,
            ConvertError::InvalidUpstream(_) => 502,
        }
    }
}
