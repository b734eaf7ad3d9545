//! Which side of the relay an input came from, and so whose fault it is when it is malformed.
//!
//! Owns: [`Side`], which builds the [`ConvertError`] of that side. Must never carry raw upstream
//! bodies or secrets in messages; messages are written to be shown to the client.

use crate::wire::ConvertError;

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
