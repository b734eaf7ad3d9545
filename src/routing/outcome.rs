//! What an attempt's failure means for routing: retry or not, whose fault, what to set aside.
//!
//! Owns: the classification of [`UpstreamError`]s (providers.md: 429 with retry-after, 5xx and
//! Anthropic 529 are retried; quota errors are not the channel's health; 401/403 are the key's).
//! Must never: decide on anything the client sent wrong as the channel's fault.

use super::keys::SetAside;
use crate::upstream::{rejects_key, Deadline, UpstreamError};
use http::{HeaderName, HeaderValue};
use std::time::{Duration, SystemTime};

/// The longest cool-down a `retry-after` may impose (guards against absurd values).
const MAX_COOLDOWN: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The upstream or the way to it failed: counts against the channel's breaker.
    /// `cool` is an overloaded channel's `retry-after` (503/529).
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
        UpstreamError::Status {
            status,
            body,
            retry_after,
            ..
        } => {
            let code = status.as_u16();
            if is_quota(code, body) {
                return Verdict::KeyRejected(SetAside::Quota);
            }
            if rejects_key(*status, body) {
                return Verdict::KeyRejected(SetAside::Auth);
            }
            match code {
                429 => Verdict::RateLimited {
                    cool: parse_retry_after(retry_after),
                },
                503 | 529 => Verdict::Fault {
                    retry: true,
                    cool: parse_retry_after(retry_after),
                },
                500..=599 => Verdict::Fault {
                    retry: true,
                    cool: None,
                },
                _ => Verdict::Client,
            }
        }
    }
}

/// OpenAI 429 `insufficient_quota` / `credit_balance_exhausted`, Anthropic 402 or
/// `billing_error`.
fn is_quota(status: u16, body: &[u8]) -> bool {
    if status == 402 {
        return true;
    }
    if !(400..500).contains(&status) {
        return false;
    }
    [
        "insufficient_quota",
        "credit_balance_exhausted",
        "billing_error",
    ]
    .iter()
    .any(|needle| contains(body, needle.as_bytes()))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `retry-after-ms` (milliseconds), else `retry-after` in seconds or as an HTTP date (a date
/// already past is no wait); capped at [`MAX_COOLDOWN`].
pub fn parse_retry_after(headers: &[(HeaderName, HeaderValue)]) -> Option<Duration> {
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
    use crate::providers::WireFormat;
    use bytes::Bytes;
    use http::StatusCode;

    fn status(code: u16, body: &str, retry_after: Option<&str>) -> UpstreamError {
        UpstreamError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            body: Bytes::from(body.to_owned()),
            wire: WireFormat::OpenAi,
            retry_after: retry_after
                .map(|v| {
                    vec![(
                        HeaderName::from_static("retry-after"),
                        HeaderValue::from_str(v).unwrap(),
                    )]
                })
                .unwrap_or_default(),
        }
    }

    #[test]
    fn classifies_like_providers_md() {
        let rl = r#"{"error":{"type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            classify(&status(429, rl, Some("2"))),
            Verdict::RateLimited {
                cool: Some(Duration::from_secs(2))
            }
        );
        let quota = r#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(
            classify(&status(429, quota, None)),
            Verdict::KeyRejected(SetAside::Quota)
        );
        let credit = r#"{"error":{"code":"credit_balance_exhausted"}}"#;
        assert_eq!(
            classify(&status(429, credit, None)),
            Verdict::KeyRejected(SetAside::Quota)
        );
        let billing = r#"{"type":"error","error":{"type":"billing_error"}}"#;
        assert_eq!(
            classify(&status(400, billing, None)),
            Verdict::KeyRejected(SetAside::Quota)
        );
        assert_eq!(
            classify(&status(402, "", None)),
            Verdict::KeyRejected(SetAside::Quota)
        );
        assert_eq!(
            classify(&status(401, "", None)),
            Verdict::KeyRejected(SetAside::Auth)
        );
        assert_eq!(
            classify(&status(529, "", Some("1"))),
            Verdict::Fault {
                retry: true,
                cool: Some(Duration::from_secs(1))
            }
        );
        assert!(classify(&status(500, "", None)).retryable());
        assert_eq!(classify(&status(400, "", None)), Verdict::Client);
        assert_eq!(classify(&status(404, "", None)), Verdict::Client);
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
