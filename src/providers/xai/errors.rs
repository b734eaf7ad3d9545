//! xAI's errors: the OpenAI format's reading, and xAI's way of refusing a key (a 400 whose
//! message is "Incorrect API key provided: ...", where OpenAI answers 401).
//!
//! Owns: that rule. Must never: take another 400 for a refused key.

use super::super::openai::errors as openai;
use crate::upstream::Redactor;
use crate::wire::{FaultKind, UpstreamFault};
use http::{HeaderMap, StatusCode};

const BAD_KEY: &str = "Incorrect API key";

pub(super) fn read(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    r: &Redactor,
) -> UpstreamFault {
    let mut fault = openai::read(Some(status), headers, body, r);
    let refused = status == StatusCode::BAD_REQUEST
        && fault
            .message
            .as_deref()
            .is_some_and(|m| m.contains(BAD_KEY));
    if refused {
        fault.kind = FaultKind::KeyRefused;
    }
    fault
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, body: &str) -> FaultKind {
        let status = StatusCode::from_u16(status).unwrap();
        read(
            status,
            &HeaderMap::new(),
            body.as_bytes(),
            &Redactor::default(),
        )
        .kind
    }

    #[test]
    fn a_bad_key_is_a_400_with_its_words() {
        let xai = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***yz."}"#;
        assert_eq!(kind(400, xai), FaultKind::KeyRefused);
        let context = r#"{"error":{"message":"This model's maximum context length is 8192"}}"#;
        assert_eq!(kind(400, context), FaultKind::InvalidRequest);
        assert_eq!(kind(429, xai), FaultKind::RateLimited);
        assert_eq!(kind(401, ""), FaultKind::KeyRefused);
        assert_eq!(kind(403, "{}"), FaultKind::Permission);
    }
}
