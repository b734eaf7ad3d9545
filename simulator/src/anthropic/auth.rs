//! Anthropic's header checks: an `sk-ant-` key in `x-api-key` (or, as recent official SDKs
//! send it, `Authorization: Bearer`), and `anthropic-version`.
//! Owns those two checks and their error wording; must never look at the body.

use http::HeaderMap;

use crate::errors::ApiError;
use crate::Provider;

/// Checks the key first (401), then the version header (400).
pub(crate) fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    match key {
        None | Some("") => {
            return Err(ApiError::bad_key(
                Provider::Anthropic,
                "x-api-key header is required",
            ))
        }
        Some(k) if !Provider::Anthropic.accepts_key(k.trim()) => {
            return Err(ApiError::bad_key(Provider::Anthropic, "invalid x-api-key"))
        }
        Some(_) => {}
    }
    if headers.get("anthropic-version").is_none() {
        return Err(ApiError::invalid("anthropic-version: header is required"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_then_version() {
        let mut h = HeaderMap::new();
        assert_eq!(check(&h).map_err(|e| e.status.as_u16()), Err(401));
        h.insert("x-api-key", "sk-ant-x".parse().unwrap());
        assert_eq!(check(&h).map_err(|e| e.status.as_u16()), Err(400));
        h.insert("anthropic-version", "2023-06-01".parse().unwrap());
        assert!(check(&h).is_ok());
        h.insert("x-api-key", "sk-x".parse().unwrap());
        assert_eq!(check(&h).map_err(|e| e.status.as_u16()), Err(401));
        h.remove("x-api-key");
        h.insert("authorization", "Bearer sk-ant-y".parse().unwrap());
        assert!(check(&h).is_ok());
    }
}
