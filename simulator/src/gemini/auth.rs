//! The Gemini API's key check: an `AIza` key in `x-goog-api-key` or the `key` query
//! parameter.
//! Owns the refusals' wording and details; must never look at the body.

use http::{HeaderMap, StatusCode};

use crate::errors::{error_info, localized, ApiError, ErrorKind};
use crate::Provider;

const SERVICE: &str = "generativelanguage.googleapis.com";

/// The `key` query parameter, decoded.
pub(crate) fn query_key(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "key").then_some(v))
}

/// Checks the key: none is 403 `PERMISSION_DENIED` (unconfirmed wording, from public
/// reports), a bad one 400 `INVALID_ARGUMENT` with `ErrorInfo` reason `API_KEY_INVALID`.
pub(crate) fn check(headers: &HeaderMap, query: Option<&str>) -> Result<(), ApiError> {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.and_then(query_key));
    match key.as_deref().map(str::trim) {
        None | Some("") => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        )),
        Some(k) if !Provider::Gemini.accepts_key(k) => {
            let message = "API key not valid. Please pass a valid API key.";
            Err(ApiError::bad_key(Provider::Gemini, message)
                .with_detail(error_info("API_KEY_INVALID", SERVICE))
                .with_detail(localized(message)))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_or_query() {
        let mut h = HeaderMap::new();
        assert_eq!(check(&h, None).map_err(|e| e.status.as_u16()), Err(403));
        assert!(check(&h, Some("alt=sse&key=AIzaGood")).is_ok());
        assert_eq!(
            check(&h, Some("key=bad")).map_err(|e| e.status.as_u16()),
            Err(400)
        );
        h.insert("x-goog-api-key", "AIzaGood".parse().unwrap());
        assert!(check(&h, None).is_ok());
        h.insert("x-goog-api-key", "sk-wrong".parse().unwrap());
        let e = check(&h, None).unwrap_err();
        assert_eq!(e.details[0]["reason"], "API_KEY_INVALID");
        assert_eq!(query_key("a=1&key=AIza%2Bx"), Some("AIza+x".to_owned()));
    }
}
