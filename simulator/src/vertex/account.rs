//! The test-only Google service account (`fixtures/google/test-only-service-account.json`,
//! an RSA key generated for sluice's tests; it belongs to no Google project and is valid
//! nowhere else): its key file for clients, its public key for the simulator, and signed
//! assertions for tests that speak to the token endpoint themselves.
//! Owns access to that fixture; must never be mistaken for a real credential.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::oauth::CLOUD_PLATFORM;
use crate::ServiceAccountKey;

const KEY_FILE: &str = include_str!("../../../fixtures/google/test-only-service-account.json");
const PUBLIC_KEY: &str = include_str!("../../../fixtures/google/test-only-service-account.pub.pem");

/// The test-only service account of `fixtures/google/`.
#[derive(Clone, Debug)]
pub struct TestServiceAccount {
    file: Value,
}

impl TestServiceAccount {
    /// Loads the fixture (compiled in).
    pub fn load() -> TestServiceAccount {
        TestServiceAccount {
            file: serde_json::from_str(KEY_FILE).unwrap_or(Value::Null),
        }
    }

    fn field(&self, name: &str) -> &str {
        self.file[name].as_str().unwrap_or("")
    }

    /// The account's email (`client_email`, the assertions' `iss`).
    pub fn client_email(&self) -> &str {
        self.field("client_email")
    }

    /// The project the key file names (`project_id`).
    pub fn project_id(&self) -> &str {
        self.field("project_id")
    }

    /// The RSA public key (PEM) that checks this account's signatures.
    pub fn public_key_pem(&self) -> &'static str {
        PUBLIC_KEY
    }

    /// The account as the simulator's `GoogleOAuthConfig::service_accounts` takes it, so the
    /// token endpoint checks signatures.
    pub fn key(&self) -> Result<ServiceAccountKey, jsonwebtoken::errors::Error> {
        ServiceAccountKey::from_pem(self.client_email(), PUBLIC_KEY)
    }

    /// The service-account key file (JSON) with `token_uri` pointing at `token_uri` (the
    /// simulator's `SimHandle::google_token_url()`), as clients load it.
    pub fn key_file(&self, token_uri: &str) -> String {
        let mut file = self.file.clone();
        file["token_uri"] = Value::String(token_uri.to_owned());
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// The claims google-auth puts in an assertion issued at Unix time `now`: this account
    /// as `iss`, `aud`, the `cloud-platform` scope, and an hour's life.
    pub fn claims(&self, aud: &str, now: u64) -> Value {
        json!({"iss": self.client_email(), "aud": aud, "scope": CLOUD_PLATFORM,
            "iat": now, "exp": now + 3600})
    }

    /// `claims` signed with the account's private key (RS256, its `private_key_id` as `kid`).
    pub fn assertion(&self, claims: &Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.field("private_key_id").to_owned());
        let key = EncodingKey::from_rsa_pem(self.field("private_key").as_bytes())?;
        jsonwebtoken::encode(&header, claims, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_loads_and_signs() {
        let sa = TestServiceAccount::load();
        assert!(sa.client_email().ends_with(".iam.gserviceaccount.com"));
        assert!(sa.key().is_ok());
        let file: Value = serde_json::from_str(&sa.key_file("http://x/token")).unwrap();
        assert_eq!(file["token_uri"], "http://x/token");
        let jwt = sa.assertion(&sa.claims("aud", 1)).unwrap();
        assert_eq!(jwt.split('.').count(), 3);
    }
}
