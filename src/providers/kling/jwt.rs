//! Kling's bearer token: a JWT (HS256, header `typ: JWT`, claims `iss` = access key,
//! `exp` = now + 1800 s, `nbf` = now - 5 s) signed with the secret key, cached per access key
//! and signed again when less than five minutes of it remain.
//!
//! Owns: splitting the channel key `"<access key>:<secret key>"`, signing, and the bounded
//! cache ([`CAPACITY`] keys; the one nearest expiry makes room). Reads no clock: callers pass
//! `now` (seconds since the epoch).
//! Must never: run in the background, grow without bound, or hand out a token signed with
//! another secret than the one asked with.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// A token's life (Kling's documented 30 minutes).
pub(super) const LIFETIME: u64 = 1800;
/// Signed again when less than this is left.
pub(super) const REFRESH_BEFORE: u64 = 300;
/// `nbf` this far back, for clocks a little ahead of Kling's.
pub(super) const SKEW: u64 = 5;
/// Access keys kept.
pub(super) const CAPACITY: usize = 64;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Claims {
    pub(super) iss: String,
    pub(super) exp: u64,
    pub(super) nbf: u64,
}

/// The access and secret key of a channel key `"AK:SK"`, both non-empty.
pub(super) fn split(key: &str) -> Option<(&str, &str)> {
    let (ak, sk) = key.split_once(':')?;
    let (ak, sk) = (ak.trim(), sk.trim());
    (!ak.is_empty() && !sk.is_empty()).then_some((ak, sk))
}

/// A fresh token for `ak`, signed with `sk`, valid from `now - SKEW` to `now + LIFETIME`.
pub(super) fn sign(ak: &str, sk: &str, now: u64) -> Option<String> {
    let claims = Claims {
        iss: ak.to_owned(),
        exp: now + LIFETIME,
        nbf: now.saturating_sub(SKEW),
    };
    // `Header::new` writes `typ: JWT`.
    let header = Header::new(Algorithm::HS256);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(sk.as_bytes())).ok()
}

struct Cached {
    /// The secret the token was signed with, hashed: a changed secret signs a new one.
    secret: [u8; 32],
    token: String,
    exp: u64,
}

/// The tokens signed so far, one per access key.
pub(super) struct Tokens {
    cache: Mutex<BTreeMap<String, Cached>>,
}

impl Tokens {
    pub(super) const fn new() -> Self {
        Self {
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The token for a channel key at `now`: the cached one while more than
    /// [`REFRESH_BEFORE`] of it is left, else a new one; `None` for a key that is not
    /// `"AK:SK"`.
    pub(super) fn bearer(&self, key: &str, now: u64) -> Option<String> {
        let (ak, sk) = split(key)?;
        let secret: [u8; 32] = Sha256::digest(sk.as_bytes()).into();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cache.get(ak) {
            if c.secret == secret && c.exp > now.saturating_add(REFRESH_BEFORE) {
                return Some(c.token.clone());
            }
        }
        let token = sign(ak, sk, now)?;
        if cache.len() >= CAPACITY && !cache.contains_key(ak) {
            let nearest = cache
                .iter()
                .min_by_key(|(_, c)| c.exp)
                .map(|(k, _)| k.clone());
            if let Some(k) = nearest {
                cache.remove(&k);
            }
        }
        cache.insert(
            ak.to_owned(),
            Cached {
                secret,
                token: token.clone(),
                exp: now + LIFETIME,
            },
        );
        Some(token)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    const NOW: u64 = 1_800_000_000;

    fn decode(token: &str, sk: &str) -> Claims {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let mut v = Validation::new(Algorithm::HS256);
        // The claims are checked below against the `now` the token was signed at.
        v.validate_exp = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(sk.as_bytes()), &v)
            .unwrap()
            .claims
    }

    #[test]
    fn the_token_carries_kling_claims_signed_with_the_secret_key() {
        let t = Tokens::new();
        let token = t.bearer("ak-sim:sk-sim", NOW).unwrap();
        assert_eq!(
            decode(&token, "sk-sim"),
            Claims {
                iss: "ak-sim".into(),
                exp: NOW + 1800,
                nbf: NOW - 5
            }
        );
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        assert!(
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(b"other"), &v)
                .is_err(),
            "signed with the secret key, not another"
        );
    }

    #[test]
    fn a_cached_token_is_reused_until_five_minutes_are_left() {
        let t = Tokens::new();
        let first = t.bearer("ak-sim:sk-sim", NOW).unwrap();
        let later = NOW + LIFETIME - REFRESH_BEFORE - 1;
        assert_eq!(t.bearer("ak-sim:sk-sim", later).unwrap(), first);
        let refreshed = t.bearer("ak-sim:sk-sim", later + 1).unwrap();
        assert_ne!(refreshed, first);
        assert_eq!(decode(&refreshed, "sk-sim").exp, later + 1 + LIFETIME);
        assert_eq!(t.bearer("ak-sim:sk-sim", later + 2).unwrap(), refreshed);
    }

    #[test]
    fn a_changed_secret_signs_a_new_token() {
        let t = Tokens::new();
        let a = t.bearer("ak-x:sk-one", NOW).unwrap();
        let b = t.bearer("ak-x:sk-two", NOW).unwrap();
        assert_ne!(a, b);
        assert_eq!(decode(&b, "sk-two").iss, "ak-x");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let t = Tokens::new();
        for i in 0..(CAPACITY as u64 * 3) {
            assert!(t.bearer(&format!("ak-{i}:sk-{i}"), NOW + i).is_some());
            assert!(t.len() <= CAPACITY);
        }
        assert_eq!(t.len(), CAPACITY);
    }

    #[test]
    fn keys_that_are_not_ak_sk_sign_nothing() {
        let t = Tokens::new();
        for bad in ["", "no-colon", ":sk", "ak:", " : "] {
            assert_eq!(t.bearer(bad, NOW), None, "{bad:?}");
        }
        assert_eq!(
            split("ak-sim:sk:with:colons"),
            Some(("ak-sim", "sk:with:colons"))
        );
    }
}
