//! What an attempt's failure means for routing: retry or not, whose fault, what to set aside.
//!
//! Owns: the classification of [`UpstreamError`]s by their neutral [`FaultKind`] (the provider
//! that read an error decided what it means): rate limits and overloads are retried with their
//! `retry-after`, server faults are retried, an exhausted quota and a refused key set the key
//! aside, the client's own errors are answered as they are.
//! Must never: decide on anything the client sent wrong as the channel's fault, or read an
//! upstream's words (those are its provider's).

use super::keys::SetAside;
use crate::upstream::{Deadline, UpstreamError};
use crate::wire::FaultKind;
use http::{HeaderName, HeaderValue};
use std::time::{Duration, SystemTime};

/// The longest cool-down a `retry-after` may impose (guards against absurd values).
const MAX_COOLDOWN: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The upstream or the way to it failed: counts against the channel's breaker.
    /// `cool` is an overloaded channel's `retry-after`.
    Fault { retry: bool, cool: Option<Duration> },
    /// Rate limited (not quota): the key cools down for `retry-after` when given.
    RateLimited { cool: Option<Duration> },
    /// The key is unusable: set it aside and try another key or channel.
    KeyRejected(SetAside),
    /// The client's request was refused on its merits: answer it as is.
    Client,
}

impl Verdict {
    /// Whether another attempt (another key or channel) may succeed.
    pub fn retryable(self) -> bool {
        match self {
            Self::Fault { retry, .. } => retry,
            Self::RateLimited { .. } | Self::KeyRejected(_) => true,
            Self::Client => false,
        }
    }
}

pub fn classify(e: &UpstreamError) -> Verdict {
    match e {
        UpstreamError::Connect(_) => Verdict::Fault {
            retry: true,
            cool: None,
        },
        // Failed before response headers (reset, closed): nothing reached the client.
        UpstreamError::Read(_) => Verdict::Fault {
            retry: true,
            cool: None,
        },
        UpstreamError::Timeout(d) => Verdict::Fault {
            retry: matches!(d, Deadline::Connect | Deadline::FirstByte),
            cool: None,
        },
        UpstreamError::TooLarge(_) | UpstreamError::Invalid(_) => Verdict::Fault {
            retry: false,
            cool: None,
        },
        UpstreamError::Status(fault) => {
            let cool = || parse_retry_after(&fault.retry_after);
            match fault.kind {
                FaultKind::QuotaExhausted => Verdict::KeyRejected(SetAside::Quota),
                FaultKind::KeyRefused | FaultKind::Permission => {
                    Verdict::KeyRejected(SetAside::Auth)
                }
                FaultKind::RateLimited => Verdict::RateLimited { cool: cool() },
                FaultKind::Overloaded => Verdict::Fault {
                    retry: true,
                    cool: cool(),
                },
                FaultKind::Server | FaultKind::Timeout => Verdict::Fault {
                    retry: true,
                    cool: None,
                },
                FaultKind::InvalidRequest
                | FaultKind::ContentFiltered
                | FaultKind::NotFound
                | FaultKind::TooLarge => Verdict::Client,
            }
        }
    }
}

/// `retry-after-ms` (milliseconds), else `retry-after` in seconds or as an HTTP date (a date
/// already past is no wait); capped at [`MAX_COOLDOWN`].
pub(super) fn parse_retry_after(headers: &[(HeaderName, HeaderValue)]) -> Option<Duration> {
    parse_retry_after_at(headers, SystemTime::now())
}

/// [`parse_retry_after`] with the wall clock's `now` given.
fn parse_retry_after_at(
    headers: &[(HeaderName, HeaderValue)],
    now: SystemTime,
) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
            .map(str::trim)
    };
    let number = |v: &str| v.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    let d = get("retry-after-ms")
        .and_then(number)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| {
            let v = get("retry-after")?;
            number(v).map(Duration::from_secs_f64).or_else(|| {
                let at = httpdate::parse_http_date(v).ok()?;
                Some(at.duration_since(now).unwrap_or(Duration::ZERO))
            })
        })?;
    Some(d.min(MAX_COOLDOWN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{UpstreamFault, WireFormat};
    use http::StatusCode;

    fn fault(code: u16, kind: FaultKind, retry_after: Option<&str>) -> UpstreamError {
        UpstreamError::Status(Box::new(UpstreamFault {
            wire: WireFormat::OpenAi,
            status: Some(StatusCode::from_u16(code).unwrap()),
            kind,
            message: None,
            retry_after: retry_after
                .map(|v| {
                    vec![(
                        HeaderName::from_static("retry-after"),
                        HeaderValue::from_str(v).unwrap(),
                    )]
                })
                .unwrap_or_default(),
            documented: None,
        }))
    }

    #[test]
    fn classifies_on_the_fault_kind() {
        assert_eq!(
            classify(&fault(429, FaultKind::RateLimited, Some("2"))),
            Verdict::RateLimited {
                cool: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            classify(&fault(429, FaultKind::QuotaExhausted, Some("2"))),
            Verdict::KeyRejected(SetAside::Quota)
        );
        for kind in [FaultKind::KeyRefused, FaultKind::Permission] {
            assert_eq!(
                classify(&fault(400, kind, None)),
                Verdict::KeyRejected(SetAside::Auth)
            );
        }
        assert_eq!(
            classify(&fault(529, FaultKind::Overloaded, Some("1"))),
            Verdict::Fault {
                retry: true,
                cool: Some(Duration::from_secs(1))
            }
        );
        assert_eq!(
            classify(&fault(500, FaultKind::Server, Some("1"))),
            Verdict::Fault {
                retry: true,
                cool: None
            },
            "only an overload cools the channel"
        );
        assert!(classify(&fault(504, FaultKind::Timeout, None)).retryable());
        for kind in [
            FaultKind::InvalidRequest,
            FaultKind::NotFound,
            FaultKind::TooLarge,
        ] {
            assert_eq!(classify(&fault(400, kind, None)), Verdict::Client);
        }
        assert!(classify(&UpstreamError::Timeout(Deadline::FirstByte)).retryable());
        assert!(!classify(&UpstreamError::Timeout(Deadline::Total)).retryable());
        assert!(classify(&UpstreamError::Connect("refused".into())).retryable());
    }

    #[test]
    fn retry_after_prefers_ms_and_is_capped() {
        let h = |n: &'static str, v: &str| {
            (
                HeaderName::from_static(n),
                HeaderValue::from_str(v).unwrap(),
            )
        };
        assert_eq!(
            parse_retry_after(&[h("retry-after", "3"), h("retry-after-ms", "250")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(&[h("retry-after", "99999")]),
            Some(MAX_COOLDOWN)
        );
        assert_eq!(parse_retry_after(&[h("retry-after", "soon")]), None);
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_then() {
        let h = |v: &str| {
            [(
                HeaderName::from_static("retry-after"),
                HeaderValue::from_str(v).unwrap(),
            )]
        };
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after_at(&h("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after_at(&h("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO),
            "a date already past: no wait"
        );
        assert_eq!(
            parse_retry_after_at(&h("Thu, 22 Oct 2015 07:28:00 GMT"), now),
            Some(MAX_COOLDOWN)
        );
    }
}
