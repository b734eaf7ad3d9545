//! The ledger's label sets: fixed lists, so no label grows with traffic.
//!
//! Owns: the timeout kinds ([`TimeoutKind`]), the kinds of upstream failure that have no HTTP
//! status ([`ErrorKind`]), [`ErrorLabel`], and the `other` label of a channel the ledger was
//! not told about. The endpoint families are [`crate::wire::Family`]. Each list is an enum whose
//! `ALL` is written with its variants (`labelled!`), so every value is counted from the start
//! (at 0) and none can be missed.
//! Must never: admit a label value that is not in a list or a status code.

use crate::wire::labels::labelled;
use std::fmt;

labelled! {
    /// A deadline that fired: the upstream's (`upstream::Deadline`), then the client-side ones
    /// that close a connection or refuse a body (`server`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum TimeoutKind {
        Connect => "connect",
        FirstByte => "first_byte",
        StreamIdle => "stream_idle",
        Total => "total",
        ErrorBody => "error_body",
        ClientHeader => "client_header",
        ClientIdle => "client_idle",
        ClientBody => "client_body",
    }
}

labelled! {
    /// An upstream failure without an HTTP status.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum ErrorKind {
        Timeout => "timeout",
        Connect => "connect",
        Read => "read",
        TooLarge => "too_large",
        Invalid => "invalid",
        /// The upstream ended a stream with its own error event.
        StreamError => "stream_error",
    }
}

/// The label of a channel the ledger was not told about at start.
pub const OTHER_CHANNEL: &str = "other";

/// What went wrong with an upstream call: its HTTP status, or a kind such as `connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorLabel {
    Status(u16),
    Kind(ErrorKind),
}

impl From<u16> for ErrorLabel {
    fn from(s: u16) -> Self {
        Self::Status(s)
    }
}

impl From<ErrorKind> for ErrorLabel {
    fn from(k: ErrorKind) -> Self {
        Self::Kind(k)
    }
}

impl fmt::Display for ErrorLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "{s}"),
            Self::Kind(k) => f.write_str(k.as_str()),
        }
    }
}
