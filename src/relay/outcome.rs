//! How a request ended, as its access record says it.
//!
//! Owns: [`Outcome`], a fixed list with its labels. Must never: grow with traffic (a new way to
//! end is a new variant, which `RelayError::outcome` and the labels must name: no match over it
//! has a wildcard).

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// Answered, or streamed to its end.
    Ok,
    /// Refused on its own merits (bad request, token, model, body, deadline of the client).
    ClientError,
    /// The upstream failed (an error answer, a broken stream, its own error event).
    UpstreamError,
    /// An upstream deadline fired.
    Deadline,
    /// The client left before its answer was decided.
    ClientGone,
    /// No channel could take it now.
    NoChannel,
    /// Every channel of its model was rate limited, or its token's rate limit refused it.
    RateLimited,
    /// Its token's quota is used up.
    QuotaExceeded,
    /// Shed by overload protection.
    Shed,
    /// The relay itself failed.
    Internal,
}

impl Outcome {
    /// The label in the access log.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientError => "client_error",
            Self::UpstreamError => "upstream_error",
            Self::Deadline => "deadline",
            Self::ClientGone => "client_gone",
            Self::NoChannel => "no_channel",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Shed => "shed",
            Self::Internal => "internal_error",
        }
    }
}
