//! Client authentication by API token.
//!
//! Owns: the config file's token table (used when no store is configured), reading the key
//! from `Authorization: Bearer`, `x-api-key` or `x-goog-api-key` (the Gemini routes move a
//! `?key=` there; for the store's table too), and each file token's model allowlist.
//! Must never: log or return a token's value.

use crate::config::Config;
use crate::error::RelayError;
use http::HeaderMap;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub struct Token {
    pub name: String,
    models: Option<HashSet<String>>,
}

impl Token {
    pub fn allows(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }
}

pub struct Tokens {
    by_key: HashMap<String, Arc<Token>>,
}

impl Tokens {
    pub fn new(config: &Config) -> Self {
        let by_key = config
            .tokens
            .iter()
            .map(|t| {
                let token = Token {
                    name: t.name.clone().unwrap_or_else(|| t.key.hint()),
                    models: t.models.as_ref().map(|m| m.iter().cloned().collect()),
                };
                (t.key.expose().to_owned(), Arc::new(token))
            })
            .collect();
        Self { by_key }
    }

    /// The token a request carries, from `Authorization: Bearer` (OpenAI SDKs) or
    /// `x-api-key` (Anthropic SDKs) or `x-goog-api-key` (Google's SDKs; the Gemini routes put a
    /// `?key=` query parameter there).
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Token>, RelayError> {
        client_key(headers)
            .and_then(|k| self.by_key.get(k.trim()))
            .cloned()
            .ok_or(RelayError::Unauthorized)
    }
}

/// The client key a request carries: `Authorization: Bearer` (OpenAI SDKs), `x-api-key`
/// (Anthropic SDKs) or `x-goog-api-key` (Google's SDKs; the Gemini routes put a `?key=` query
/// parameter there). Whether it is valid is the token table's (or the store's) to say.
pub(crate) fn client_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    bearer.or_else(|| {
        ["x-api-key", "x-goog-api-key"]
            .into_iter()
            .find_map(|h| headers.get(h).and_then(|v| v.to_str().ok()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let cfg = Config::parse(
            r#"
            [[tokens]]
            name = "all"
            key = "sk-all"
            [[tokens]]
            key = "sk-limited-token"
            models = ["m1"]
        "#,
        )
        .unwrap();
        Tokens::new(&cfg)
    }

    #[test]
    fn accepts_bearer_and_x_api_key() {
        let t = tokens();
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk-all".parse().unwrap());
        assert_eq!(t.authenticate(&h).unwrap().name, "all");
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "sk-limited-token".parse().unwrap());
        let tok = t.authenticate(&h).unwrap();
        assert!(tok.allows("m1") && !tok.allows("m2"));
        assert_eq!(tok.name, "sk-***en");
        let mut h = HeaderMap::new();
        h.insert("x-goog-api-key", "sk-all".parse().unwrap());
        assert_eq!(t.authenticate(&h).unwrap().name, "all");
    }

    #[test]
    fn rejects_missing_and_unknown_tokens() {
        let t = tokens();
        assert!(t.authenticate(&HeaderMap::new()).is_err());
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk-nope".parse().unwrap());
        assert!(t.authenticate(&h).is_err());
    }
}
