//! The Vertex AI access tokens the OAuth endpoint issued, each with its expiry.
//! Owns the book of tokens (bounded: expired ones go first); must never read the clock
//! (callers pass `now`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most tokens remembered; past it, expired tokens are forgotten, then the oldest.
const MAX_TOKENS: usize = 10_000;

/// What a presented token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenState {
    Valid,
    /// Issued here, but its lifetime is over.
    Expired,
    /// Never issued here (or long forgotten).
    Unknown,
}

/// Issued tokens and when each expires.
#[derive(Default)]
pub(crate) struct TokenBook {
    tokens: Mutex<HashMap<String, Instant>>,
}

impl TokenBook {
    /// Records `token`, valid for `lifetime` from `now`.
    pub(crate) fn issue(&self, token: String, lifetime: Duration, now: Instant) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, expiry| *expiry > now);
        }
        if tokens.len() >= MAX_TOKENS {
            let oldest = tokens
                .iter()
                .min_by_key(|(_, expiry)| **expiry)
                .map(|(t, _)| t.clone());
            if let Some(t) = oldest {
                tokens.remove(&t);
            }
        }
        tokens.insert(token, now + lifetime);
    }

    /// Whether `token` is one issued here and still valid at `now`.
    pub(crate) fn check(&self, token: &str, now: Instant) -> TokenState {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            None => TokenState::Unknown,
            Some(expiry) if now < *expiry => TokenState::Valid,
            Some(_) => TokenState::Expired,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expired_unknown() {
        let book = TokenBook::default();
        let t0 = Instant::now();
        book.issue("a".into(), Duration::from_secs(10), t0);
        book.issue("z".into(), Duration::ZERO, t0);
        assert_eq!(book.check("a", t0), TokenState::Valid);
        assert_eq!(
            book.check("a", t0 + Duration::from_secs(10)),
            TokenState::Expired
        );
        assert_eq!(book.check("z", t0), TokenState::Expired);
        assert_eq!(book.check("b", t0), TokenState::Unknown);
    }

    #[test]
    fn bounded() {
        let book = TokenBook::default();
        let t0 = Instant::now();
        for i in 0..MAX_TOKENS + 5 {
            book.issue(format!("t{i}"), Duration::from_secs(60 + i as u64), t0);
        }
        assert_eq!(book.len(), MAX_TOKENS);
        assert_eq!(book.check("t0", t0), TokenState::Unknown);
        assert_eq!(
            book.check(&format!("t{}", MAX_TOKENS + 4), t0),
            TokenState::Valid
        );
    }
}
