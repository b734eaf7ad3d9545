//! Typed errors of format conversion, and which side of the relay is to blame.
//!
//! Owns: `ConvertError` and the small `Side` helper that builds it. Must never carry raw
//! upstream bodies or secrets in messages; messages are written to be shown to the client.

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

/// Which side an input came from; decides the error variant for malformed input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Upstream,
}

impl Side {
    pub(crate) fn err(self, msg: impl Into<String>) -> ConvertError {
        match self {
            Side::Request => ConvertError::InvalidRequest(msg.into()),
            Side::Upstream => ConvertError::InvalidUpstream(msg.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_picks_variant_and_status() {
        assert_eq!(Side::Request.err("x").status(), 400);
        assert_eq!(Side::Upstream.err("x").status(), 502);
        assert_eq!(Side::Request.err("bad").to_string(), "invalid request: bad");
    }
}
