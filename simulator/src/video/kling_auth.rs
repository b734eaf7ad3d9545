//! Kling's credential check: `Authorization: Bearer <JWT>`, HS256 with header `typ: JWT`,
//! claims `{iss: access key, exp, nbf}`, signed with the secret key. The simulator's rule:
//! access key `ak-X` has secret key `sk-X` (`ak-sim` / `sk-sim`). Refusals are 401 with
//! Kling's codes: 1001 no Authorization, 1002 invalid (bad form, header or signature), 1003
//! not yet valid (`nbf`), 1004 expired, 1000 an unknown access key.
//! Owns the JWT rules; must never look at the body.

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind as JwtError;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::common::bearer;
use crate::errors::ApiError;
use crate::Provider;

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
}

fn refuse(code: &'static str, message: &str) -> ApiError {
    ApiError::bad_key(Provider::Kling, message).with_code(code)
}

/// The secret key of access key `ak-X` (`sk-X`).
pub(crate) fn secret_of(access_key: &str) -> Option<String> {
    access_key
        .strip_prefix("ak-")
        .filter(|rest| !rest.is_empty())
        .map(|rest| format!("sk-{rest}"))
}

/// Checks the JWT; returns its access key.
pub(crate) fn check(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(refuse("1001", "Authorization is empty"));
    };
    let invalid = || refuse("1002", "Authorization is invalid");
    let header = decode_header(token).map_err(|_| invalid())?;
    if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some("JWT") {
        return Err(invalid());
    }
    let mut peek = Validation::new(Algorithm::HS256);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_nbf = false;
    peek.required_spec_claims.clear();
    let claims = decode::<Claims>(token, &DecodingKey::from_secret(b""), &peek)
        .map_err(|_| invalid())?
        .claims;
    let access_key = claims.iss.unwrap_or_default();
    let Some(secret) = secret_of(&access_key) else {
        return Err(refuse("1000", "Auth failed: unknown access key"));
    };
    let mut strict = Validation::new(Algorithm::HS256);
    strict.leeway = 0;
    strict.validate_nbf = true;
    strict.set_required_spec_claims(&["exp", "iss"]);
    match decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &strict) {
        Ok(_) => Ok(access_key),
        Err(e) => Err(match e.kind() {
            JwtError::ExpiredSignature => refuse("1004", "Authorization is expired"),
            JwtError::ImmatureSignature => refuse("1003", "Authorization is not yet valid"),
            _ => invalid(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn now() -> i64 {
        i64::try_from(crate::gen::ids::unix_now()).unwrap()
    }

    fn headers(iss: &str, secret: &str, exp: i64, nbf: i64) -> HeaderMap {
        let claims = json!({"iss": iss, "exp": exp, "nbf": nbf});
        let jwt = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {jwt}").parse().unwrap());
        h
    }

    fn code(r: Result<String, ApiError>) -> Option<&'static str> {
        r.err().and_then(|e| e.words.and_then(|w| w.code))
    }

    #[test]
    fn the_rule_and_the_codes() {
        let t = now();
        assert_eq!(
            check(&headers("ak-sim", "sk-sim", t + 1800, t - 5)).unwrap(),
            "ak-sim"
        );
        assert_eq!(
            code(check(&headers("ak-sim", "sk-other", t + 1800, t - 5))),
            Some("1002")
        );
        assert_eq!(
            code(check(&headers("ak-sim", "sk-sim", t - 10, t - 100))),
            Some("1004")
        );
        assert_eq!(
            code(check(&headers("ak-sim", "sk-sim", t + 1800, t + 600))),
            Some("1003")
        );
        assert_eq!(
            code(check(&headers("sim", "sk-sim", t + 1800, t - 5))),
            Some("1000")
        );
        assert_eq!(code(check(&HeaderMap::new())), Some("1001"));
    }
}
