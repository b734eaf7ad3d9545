//! Google's OAuth 2.0 token endpoint for service accounts (`POST /google-oauth/token`, the
//! `token_uri` a service-account key names): the JWT-bearer grant of RFC 7523. It checks the
//! assertion (RS256; `iss` a service account; `aud` Google's token URL, which google-auth
//! always sends, or this endpoint's own; the `cloud-platform` scope; `iat`/`exp` at most an
//! hour apart around now; the signature when the account's key was given) and issues a
//! `ya29.` access token that Vertex AI then accepts until it expires.
//! Owns the grant and its refusals (`{"error","error_description"}`, 400); must never serve
//! Vertex AI requests.

use std::collections::HashSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::header::HOST;
use http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::Provider;

/// The grant type of a service account's assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The scope Vertex AI needs.
pub(crate) const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token URL, the audience google-auth puts in every assertion.
pub(crate) const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Longest span between `iat` and `exp`.
const MAX_SPAN: i64 = 3600;
/// Clock skew allowed around `iat` and `exp`.
const SKEW: i64 = 300;

/// The token endpoint's route, relative to `/google-oauth`.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new().route("/token", post(token)).with_state(ctx)
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<Value>,
    aud: Option<Value>,
    scope: Option<Value>,
    iat: Option<Value>,
    exp: Option<Value>,
}

/// A refused token request: the OAuth error word and its description (sent with 400).
#[derive(Debug)]
struct Refusal {
    error: &'static str,
    description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

impl Refusal {
    fn reply(self) -> SimReply {
        let body = json!({"error": self.error, "error_description": self.description});
        crate::errors::json_reply(Provider::GoogleOAuth, StatusCode::BAD_REQUEST, &body)
    }
}

async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let reply = match grant(&ctx, &headers, &body, now) {
        Ok(token) => {
            let lifetime = ctx.shared.google_oauth.token_lifetime;
            ctx.shared
                .tokens
                .issue(token.clone(), lifetime, Instant::now());
            ctx.shared.stats.token_issued();
            let body = json!({"access_token": token, "expires_in": lifetime.as_secs(),
                "token_type": "Bearer"});
            crate::errors::json_reply(Provider::GoogleOAuth, StatusCode::OK, &body)
        }
        Err(refusal) => refusal.reply(),
    };
    respond(ctx.provider, &ctx.shared.ids, started, Ok(reply))
}

/// The access token to issue for a token request at Unix time `now`, or the refusal.
fn grant(ctx: &Ctx, headers: &HeaderMap, body: &[u8], now: i64) -> Result<String, Refusal> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| refuse("invalid_request", "The request body is not a form."))?;
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match param("grant_type") {
        None => {
            return Err(refuse(
                "invalid_request",
                "Missing required parameter: grant_type",
            ))
        }
        Some(JWT_BEARER) => {}
        Some(other) => {
            return Err(refuse(
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            ))
        }
    }
    let assertion = param("assertion")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| refuse("invalid_request", "Missing required parameter: assertion"))?;
    let claims = check_assertion(assertion, &own_url(ctx, headers), now)?;
    let keys = &ctx.shared.google_oauth.service_accounts;
    if !keys.is_empty() {
        let key = keys
            .iter()
            .find(|k| Some(k.client_email.as_str()) == claims.iss.as_ref().and_then(Value::as_str))
            .ok_or_else(|| refuse("invalid_grant", "Invalid grant: account not found"))?;
        verify(assertion, &key.key)
            .map_err(|()| refuse("invalid_grant", "Invalid JWT Signature."))?;
    }
    Ok(ctx.shared.ids.next("ya29.c.sim"))
}

/// This endpoint's own URL, as the request reached it.
fn own_url(ctx: &Ctx, headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}{}/token", ctx.provider.path_prefix())
}

/// Reads the assertion's header and claims (not its signature) and checks them.
fn check_assertion(assertion: &str, own_url: &str, now: i64) -> Result<Claims, Refusal> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        refuse(
            "invalid_grant",
            "Invalid JWT: the assertion is not a signed JWT (header.payload.signature).",
        )
    })?;
    if header.alg != Algorithm::RS256 {
        return Err(refuse(
            "invalid_grant",
            format!(
                "Invalid JWT: alg {:?} is not allowed, use RS256.",
                header.alg
            ),
        ));
    }
    let mut unchecked = Validation::new(Algorithm::RS256);
    unchecked.insecure_disable_signature_validation();
    unchecked.validate_exp = false;
    unchecked.validate_aud = false;
    unchecked.required_spec_claims = HashSet::new();
    let claims =
        jsonwebtoken::decode::<Claims>(assertion, &DecodingKey::from_secret(&[]), &unchecked)
            .map_err(|_| {
                refuse(
                    "invalid_grant",
                    "Invalid JWT: the claims are not a JSON object.",
                )
            })?
            .claims;
    let iss = claims.iss.as_ref().and_then(Value::as_str).unwrap_or("");
    if !iss.contains('@') {
        return Err(refuse(
            "invalid_grant",
            "Invalid JWT: iss must be the service account's email.",
        ));
    }
    let aud = claims.aud.as_ref().and_then(Value::as_str).unwrap_or("");
    if aud != GOOGLE_TOKEN_URL && aud != own_url {
        return Err(refuse(
            "invalid_grant",
            format!("Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_URL}"),
        ));
    }
    let (iat, exp) = (
        claims.iat.as_ref().and_then(Value::as_i64),
        claims.exp.as_ref().and_then(Value::as_i64),
    );
    let timely = matches!((iat, exp), (Some(iat), Some(exp))
        if iat < exp && exp - iat <= MAX_SPAN && iat <= now + SKEW && now <= exp + SKEW);
    if !timely {
        return Err(refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."));
    }
    let scoped = claims
        .scope
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|s| s.split_whitespace().any(|s| s == CLOUD_PLATFORM));
    if !scoped {
        return Err(refuse(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok(claims)
}

/// Checks the assertion's RS256 signature with `key`.
fn verify(assertion: &str, key: &DecodingKey) -> Result<(), ()> {
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Value>(assertion, key, &v)
        .map(drop)
        .map_err(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vertex::account::TestServiceAccount;

    const NOW: i64 = 1_750_000_000;
    const OWN: &str = "http://127.0.0.1:1/google-oauth/token";

    fn claims(edit: impl FnOnce(&mut Value)) -> String {
        let sa = TestServiceAccount::load();
        let mut c = sa.claims(GOOGLE_TOKEN_URL, NOW as u64);
        edit(&mut c);
        sa.assertion(&c).unwrap()
    }

    fn error(assertion: &str) -> Option<&'static str> {
        check_assertion(assertion, OWN, NOW).err().map(|r| r.error)
    }

    #[test]
    fn claims_are_checked() {
        assert_eq!(error(&claims(|_| {})), None);
        assert_eq!(error(&claims(|c| c["aud"] = OWN.into())), None);
        assert_eq!(
            error(&claims(|c| c["aud"] = "https://example.com".into())),
            Some("invalid_grant")
        );
        assert_eq!(
            error(&claims(|c| c["iss"] = "nobody".into())),
            Some("invalid_grant")
        );
        assert_eq!(
            error(&claims(
                |c| c["scope"] = "https://www.googleapis.com/auth/drive".into()
            )),
            Some("invalid_scope")
        );
        assert_eq!(
            error(&claims(|c| c["exp"] = (NOW + 7200).into())),
            Some("invalid_grant")
        );
        assert_eq!(
            error(&claims(|c| {
                c["iat"] = (NOW - 9000).into();
                c["exp"] = (NOW - 5400).into();
            })),
            Some("invalid_grant")
        );
        assert_eq!(error("not-a-jwt"), Some("invalid_grant"));
    }

    #[test]
    fn signatures_are_checked() {
        let sa = TestServiceAccount::load();
        let key = sa.key().unwrap();
        let good = claims(|_| {});
        assert!(verify(&good, &key.key).is_ok());
        let (head, sig) = good.rsplit_once('.').unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
        let forged = format!("{head}.{}", sig.into_iter().collect::<String>());
        assert!(verify(&forged, &key.key).is_err());
    }
}
