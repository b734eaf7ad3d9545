//! The request path's side of tokens: who a key is, what it may do, and what it may spend,
//! from memory only.
//!
//! Owns: the token snapshot ([`TokenTable`]), access rules ([`TokenEntry`]), requests- and
//! tokens-per-minute limits (`rate`), quota reservations (`quota`), prices and estimates
//! (`prices`), and admission, which ties them together ([`Limits::admit`]).
//! Must never: wait on the database for a known key, or let concurrent requests overspend a
//! quota beyond the documented in-flight bound (see `quota`).

mod admit;
mod entry;
pub mod prices;
pub mod quota;
pub mod rate;
mod table;

pub use admit::{Admission, AdmitRequest, Limits, MediaAsk};
pub use entry::TokenEntry;
pub use prices::{Estimate, Price, PriceTable, UsageCounts};
pub use quota::{QuotaCounters, QuotaExceeded, Reservation};
pub use rate::{RateHeaders, RateInfo, RateKind, RateLimited};
pub use table::{TokenTable, MAX_LOOKUPS, NEGATIVE_TTL};

use http::StatusCode;

/// Why a request was not admitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("invalid API token")]
    Unknown,
    #[error("this API token has been revoked")]
    Revoked,
    #[error("this API token is disabled")]
    Disabled,
    #[error("this API token has expired")]
    Expired,
    #[error("this token may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("this token may not be used from this address")]
    IpNotAllowed,
    #[error("rate limit reached ({}); retry after {:?}", match .0.kind { RateKind::Requests => "requests per minute", RateKind::Tokens => "tokens per minute" }, .0.retry_after)]
    RateLimited(RateLimited),
    #[error("this token's quota is used up")]
    QuotaExceeded(QuotaExceeded),
    #[error("usage cannot be recorded now; metered tokens are refused until it can")]
    SpoolFull,
    #[error("the API token cannot be checked now; retry later")]
    Unavailable,
}

impl LimitError {
    /// The status a client gets (`error.rs` shapes the body).
    pub fn status(&self) -> StatusCode {
        match self {
            LimitError::Unknown
            | LimitError::Revoked
            | LimitError::Disabled
            | LimitError::Expired => StatusCode::UNAUTHORIZED,
            LimitError::ModelNotAllowed(_) | LimitError::IpNotAllowed => StatusCode::FORBIDDEN,
            LimitError::RateLimited(_) | LimitError::QuotaExceeded(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            LimitError::SpoolFull | LimitError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// OpenAI's error code for it.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::Unknown
            | LimitError::Revoked
            | LimitError::Disabled
            | LimitError::Expired => "invalid_api_key",
            LimitError::ModelNotAllowed(_) => "model_not_allowed",
            LimitError::IpNotAllowed => "ip_not_allowed",
            LimitError::RateLimited(_) => "rate_limit_exceeded",
            LimitError::QuotaExceeded(_) => "insufficient_quota",
            LimitError::SpoolFull | LimitError::Unavailable => "service_unavailable",
        }
    }

    /// Headers the refusal carries (`retry-after` and the limit's `x-ratelimit-*`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            LimitError::RateLimited(r) => r.pairs(),
            LimitError::SpoolFull | LimitError::Unavailable => {
                vec![("retry-after", "1".to_owned())]
            }
            _ => Vec::new(),
        }
    }
}
