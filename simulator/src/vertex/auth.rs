//! Vertex AI's credential check: `Authorization: Bearer <access token>`, where the token must
//! be one the simulated OAuth endpoint issued and not expired.
//! Owns the 401 refusals and their details; must never look at the body.

use std::time::Instant;

use http::header::AUTHORIZATION;
use http::HeaderMap;

use super::tokens::{TokenBook, TokenState};
use crate::errors::{error_info, ApiError};
use crate::Provider;

const SERVICE: &str = "aiplatform.googleapis.com";
const SEE: &str = "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// Checks the bearer token against the book at `now`: none is 401 `CREDENTIALS_MISSING`,
/// an expired one 401 `ACCESS_TOKEN_EXPIRED`, an unknown one 401
/// `ACCESS_TOKEN_TYPE_UNSUPPORTED` (the last reason unconfirmed), all `UNAUTHENTICATED`.
pub(crate) fn check(headers: &HeaderMap, book: &TokenBook, now: Instant) -> Result<(), ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::bad_key(
            Provider::Vertex,
            format!("Request is missing required authentication credential. {SEE}"),
        )
        .with_detail(error_info("CREDENTIALS_MISSING", SERVICE)));
    };
    let reason = match book.check(token, now) {
        TokenState::Valid => return Ok(()),
        TokenState::Expired => "ACCESS_TOKEN_EXPIRED",
        TokenState::Unknown => "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    };
    Err(ApiError::bad_key(
        Provider::Vertex,
        format!("Request had invalid authentication credentials. {SEE}"),
    )
    .with_detail(error_info(reason, SERVICE)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bearer_tokens() {
        let book = TokenBook::default();
        let now = Instant::now();
        book.issue("ya29.good".into(), Duration::from_secs(60), now);
        book.issue("ya29.old".into(), Duration::ZERO, now);
        let mut h = HeaderMap::new();
        let reason = |h: &HeaderMap| {
            check(h, &book, now)
                .err()
                .map(|e| e.details[0]["reason"].clone())
        };
        assert_eq!(reason(&h), Some("CREDENTIALS_MISSING".into()));
        h.insert(AUTHORIZATION, "Bearer ya29.good".parse().unwrap());
        assert!(check(&h, &book, now).is_ok());
        h.insert(AUTHORIZATION, "Bearer ya29.old".parse().unwrap());
        assert_eq!(reason(&h), Some("ACCESS_TOKEN_EXPIRED".into()));
        h.insert(AUTHORIZATION, "Bearer ya29.forged".parse().unwrap());
        assert_eq!(reason(&h), Some("ACCESS_TOKEN_TYPE_UNSUPPORTED".into()));
        assert_eq!(check(&h, &book, now).unwrap_err().status, 401);
    }
}
