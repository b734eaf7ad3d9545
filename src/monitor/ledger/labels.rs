//! The ledger's label sets: fixed lists, so no label grows with traffic.
//!
//! Owns: endpoint families, timeout kinds, the `other` fallback, and [`ErrorLabel`].
//! Must never: admit a label value that is not in a list or a status code.

use std::fmt;

/// Endpoint families of `in_flight`; an unknown family counts as `other`.
pub const FAMILIES: [&str; 6] = [
    "chat",
    "completions",
    "embeddings",
    "messages",
    "models",
    "other",
];
/// Kinds of `timeout`: the names of `upstream::Deadline`, then the client-side deadlines that
/// close a connection or refuse a body (`server`); an unknown kind counts as `other`.
pub const TIMEOUT_KINDS: [&str; 9] = [
    "connect",
    "first_byte",
    "stream_idle",
    "total",
    "error_body",
    "client_header",
    "client_idle",
    "client_body",
    "other",
];
/// The label of a channel the ledger was not told about at start.
pub const OTHER_CHANNEL: &str = "other";

/// What went wrong with an upstream call: its HTTP status, or a kind such as `connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorLabel {
    Status(u16),
    Kind(&'static str),
}

impl From<u16> for ErrorLabel {
    fn from(s: u16) -> Self {
        Self::Status(s)
    }
}

impl From<&'static str> for ErrorLabel {
    fn from(k: &'static str) -> Self {
        Self::Kind(k)
    }
}

impl fmt::Display for ErrorLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "{s}"),
            Self::Kind(k) => f.write_str(k),
        }
    }
}

pub(super) fn index_or_other(names: &[&str], name: &str) -> usize {
    names
        .iter()
        .position(|n| *n == name)
        .unwrap_or(names.len() - 1)
}
