//! An upstream's error in neutral form: what it means (its [`FaultKind`]) and what it said,
//! read by the provider that received it.
//!
//! Owns: [`UpstreamFault`], [`FaultKind`], the plain HTTP meaning of an error status, and the
//! bound on a kept message. Must never: hold a secret (the provider redacts every string it
//! keeps), an unbounded text, or a body that is not the upstream's documented error shape.
//! Routing decides on `kind` alone; `error.rs` renders a fault in the client's format.

use super::WireFormat;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

/// Longest upstream message kept, in bytes (longer ones are cut on a char boundary).
pub const MAX_MESSAGE: usize = 4096;

/// What an upstream error means, whoever said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The request was refused on its merits (400, 422, ...): the client's.
    InvalidRequest,
    /// What was asked was made but withheld by the upstream's safety filters (an image
    /// generation's answer without its images): the client's, as a 400.
    ContentFiltered,
    /// The channel's key was refused (401, or a provider's own way of saying it).
    KeyRefused,
    /// The channel's key may not do this (403).
    Permission,
    /// What the request names does not exist upstream (404).
    NotFound,
    /// The request is too large for the upstream (413).
    TooLarge,
    /// Rate limited, not out of quota (429).
    RateLimited,
    /// The key's quota or credit is used up (402, or a provider's quota words).
    QuotaExhausted,
    /// The upstream is overloaded (503, and providers' own overload statuses).
    Overloaded,
    /// The upstream (or a gateway before it) timed out (504).
    Timeout,
    /// Any other failure of the upstream (5xx, an unexpected status, an unknown in-stream error).
    Server,
}

impl FaultKind {
    /// The plain HTTP meaning of an error status; providers refine it with their own words.
    pub fn of_status(status: StatusCode) -> FaultKind {
        match status.as_u16() {
            401 => Self::KeyRefused,
            402 => Self::QuotaExhausted,
            403 => Self::Permission,
            404 => Self::NotFound,
            413 => Self::TooLarge,
            429 => Self::RateLimited,
            503 => Self::Overloaded,
            504 => Self::Timeout,
            400..=499 => Self::InvalidRequest,
            _ => Self::Server,
        }
    }

    /// Whether the fault says the channel's credentials are bad (not the client's problem).
    pub fn refuses_key(self) -> bool {
        matches!(self, Self::KeyRefused | Self::Permission)
    }
}

/// One upstream error, as the provider that read it understood it.
#[derive(Clone, Debug)]
pub struct UpstreamFault {
    /// The format of the upstream that said it.
    pub wire: WireFormat,
    /// The HTTP status; `None` for an error event inside a stream.
    pub status: Option<StatusCode>,
    pub kind: FaultKind,
    /// What the upstream said, bounded and redacted; `None` if it said nothing readable.
    pub message: Option<String>,
    /// `retry-after` / `retry-after-ms` headers, to pass to the client.
    pub retry_after: Vec<(HeaderName, HeaderValue)>,
    /// The error in its provider's documented shape, only its documented fields, every string
    /// redacted: what a client of the same format is shown. `None` when the upstream wrote
    /// another shape (or no JSON at all): every client then gets it rendered from the parts
    /// above.
    pub documented: Option<Value>,
}

impl UpstreamFault {
    /// The message, or a plain one naming the status when the upstream gave none.
    pub fn message_or_default(&self) -> String {
        message_or_default(self.message.clone(), self.status)
    }
}

/// `message` cut to [`MAX_MESSAGE`], or a plain one naming the status.
pub fn message_or_default(message: Option<String>, status: Option<StatusCode>) -> String {
    match (message, status) {
        (Some(m), _) => bounded(m),
        (None, Some(s)) if s.as_u16() >= 400 => format!("upstream error (HTTP {})", s.as_u16()),
        (None, _) => "upstream error".to_owned(),
    }
}

/// A text cut to [`MAX_MESSAGE`] bytes on a char boundary.
pub fn bounded(mut m: String) -> String {
    if m.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_their_plain_meaning() {
        let k = |s: u16| FaultKind::of_status(StatusCode::from_u16(s).unwrap());
        assert_eq!(k(400), FaultKind::InvalidRequest);
        assert_eq!(k(422), FaultKind::InvalidRequest);
        assert_eq!(k(401), FaultKind::KeyRefused);
        assert_eq!(k(402), FaultKind::QuotaExhausted);
        assert_eq!(k(503), FaultKind::Overloaded);
        assert_eq!(k(529), FaultKind::Server, "529 is Anthropic's own");
        assert_eq!(k(302), FaultKind::Server);
        assert!(k(403).refuses_key() && !k(404).refuses_key());
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary_and_missing_ones_named() {
        let m = bounded("é".repeat(5000)).len();
        assert!(m <= MAX_MESSAGE && m > MAX_MESSAGE - 4);
        assert_eq!(
            message_or_default(None, Some(StatusCode::BAD_GATEWAY)),
            "upstream error (HTTP 502)"
        );
        assert_eq!(message_or_default(None, None), "upstream error");
    }
}
