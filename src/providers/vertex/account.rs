//! A Google service account, as its key file (JSON) gives it: the email, the RSA private key
//! and its id, and the `token_uri` where its signed assertions are exchanged for access tokens.
//!
//! Owns: reading the key file and signing the assertion of the JWT-bearer grant (RFC 7523):
//! RS256, `kid` the key's id, claims `iss` (the email), `scope` (`cloud-platform`), `aud` (the
//! token URI), `iat` and `exp` (an hour later, the most Google allows).
//! Must never: print the private key (`Debug` shows the email only), or read the clock (callers
//! pass the time).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;

/// The scope Vertex AI needs.
pub(crate) const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Google's token endpoint, when a key file names none.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Lifetime asked of each assertion, in seconds.
const ASSERTION_LIFE: u64 = 3600;

/// A service account that can sign assertions.
pub(crate) struct ServiceAccount {
    pub(crate) client_email: String,
    pub(crate) token_uri: String,
    key_id: Option<String>,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// The account of a key file's text, or what is wrong with it (no secret in the message).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let f: KeyFile = serde_json::from_str(text)
            .map_err(|_| "the key is not a service-account key file (JSON)".to_owned())?;
        if f.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err("the key file is not of type service_account".to_owned());
        }
        let client_email = f
            .client_email
            .filter(|e| e.contains('@'))
            .ok_or_else(|| "the key file has no client_email".to_owned())?;
        let pem = f
            .private_key
            .ok_or_else(|| "the key file has no private_key".to_owned())?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| "the key file's private_key is not an RSA key in PEM".to_owned())?;
        Ok(Self {
            client_email,
            token_uri: f.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
            key_id: f.private_key_id,
            key,
        })
    }

    /// The signed assertion for Unix time `now`.
    pub(crate) fn assertion(&self, now: u64) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let claims = Claims {
            iss: &self.client_email,
            scope: CLOUD_PLATFORM,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFE,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("cannot sign the service account's assertion: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_FILE: &str = include_str!("../../../fixtures/google/test-only-service-account.json");

    #[test]
    fn a_key_file_signs_assertions_with_its_claims() {
        let sa = ServiceAccount::parse(KEY_FILE).unwrap();
        assert!(sa.client_email.ends_with(".iam.gserviceaccount.com"));
        assert!(!format!("{sa:?}").contains("PRIVATE"));
        let jwt = sa.assertion(1_750_000_000).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert!(header.kid.is_some());
        let payload = jwt.split('.').nth(1).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.insecure_disable_signature_validation();
        v.validate_aud = false;
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(&[]),
            &v,
        )
        .unwrap()
        .claims;
        assert!(!payload.is_empty());
        assert_eq!(claims["iss"], sa.client_email.as_str());
        assert_eq!(claims["scope"], CLOUD_PLATFORM);
        assert_eq!(claims["exp"], 1_750_003_600u64);
    }

    #[test]
    fn what_is_not_a_key_file_says_so_without_echoing_it() {
        for bad in [
            "AIzaNotJson",
            "{}",
            r#"{"type":"authorized_user"}"#,
            r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}"#,
        ] {
            let e = ServiceAccount::parse(bad).unwrap_err();
            assert!(!e.contains("nope") && !e.contains("AIza"), "{e}");
        }
    }
}
