//! The providers' errors as routing classifies them: each provider's own error bodies, read by
//! that provider, give the verdicts providers.md describes.

use crate::config::ProviderKind::{self, Anthropic, Openai, Xai};
use crate::routing::{classify, SetAside, Verdict};
use crate::upstream::{Redactor, UpstreamError};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::time::Duration;

#[test]
fn provider_errors_classify_like_providers_md() {
    let read = |kind: ProviderKind, code: u16, body: &str, retry_after: Option<&str>| {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert("retry-after", HeaderValue::from_str(v).unwrap());
        }
        let status = StatusCode::from_u16(code).unwrap();
        let r = Redactor::default();
        let f = super::provider_for(kind).fault(status, &headers, body.as_bytes(), &r);
        classify(&UpstreamError::Status(Box::new(f)))
    };
    let rl = r#"{"error":{"type":"requests","code":"rate_limit_exceeded"}}"#;
    assert_eq!(
        read(Openai, 429, rl, Some("2")),
        Verdict::RateLimited {
            cool: Some(Duration::from_secs(2))
        }
    );
    let quota = r#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#;
    assert_eq!(
        read(Openai, 429, quota, None),
        Verdict::KeyRejected(SetAside::Quota)
    );
    let credit = r#"{"error":{"code":"credit_balance_exhausted"}}"#;
    assert_eq!(
        read(Openai, 429, credit, None),
        Verdict::KeyRejected(SetAside::Quota)
    );
    let billing = r#"{"type":"error","error":{"type":"billing_error"}}"#;
    assert_eq!(
        read(Anthropic, 400, billing, None),
        Verdict::KeyRejected(SetAside::Quota)
    );
    for kind in [Openai, Anthropic, Xai] {
        assert_eq!(
            read(kind, 402, "", None),
            Verdict::KeyRejected(SetAside::Quota)
        );
        assert_eq!(
            read(kind, 401, "", None),
            Verdict::KeyRejected(SetAside::Auth)
        );
        assert!(read(kind, 500, "", None).retryable());
        assert_eq!(read(kind, 400, "", None), Verdict::Client);
        assert_eq!(read(kind, 404, "", None), Verdict::Client);
    }
    let bad_key = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***yz."}"#;
    assert_eq!(
        read(Xai, 400, bad_key, None),
        Verdict::KeyRejected(SetAside::Auth)
    );
    assert_eq!(
        read(Openai, 400, bad_key, None),
        Verdict::Client,
        "xAI's words"
    );
    assert_eq!(
        read(Anthropic, 529, "", Some("1")),
        Verdict::Fault {
            retry: true,
            cool: Some(Duration::from_secs(1))
        }
    );
}
