//! Channel keys at rest: XChaCha20-Poly1305 with a 32-byte key from `SLUICE_SECRET_KEY`.
//!
//! Owns: the secret box, its key's format (64 hex characters) and the sealed layout
//! (`version byte || 24-byte nonce || ciphertext+tag`).
//! Must never: print the key or a plaintext, or reuse a nonce (each seal draws a fresh random
//! 192-bit nonce).

use super::StoreError;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;

/// The environment variable holding the key.
pub const SECRET_KEY_ENV: &str = "SLUICE_SECRET_KEY";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Binds ciphertexts to their use, so a sealed value cannot be replayed as another kind.
const CONTEXT: &[u8] = b"sluice/channel-keys/v1";

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// From 64 hex characters (32 bytes).
    pub fn from_hex(hex_key: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| StoreError::NoSecretKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| StoreError::NoSecretKey)?;
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        })
    }

    /// From `SLUICE_SECRET_KEY`: `Ok(None)` when unset, an error when set but malformed.
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::from_hex(&v).map(Some),
            _ => Ok(None),
        }
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: CONTEXT,
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".to_owned()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let wrong = || {
            StoreError::Crypto(format!(
                "cannot decrypt stored channel keys: {SECRET_KEY_ENV} is not the key they were \
                 stored with, or the value is damaged"
            ))
        };
        let (version, rest) = sealed.split_first().ok_or_else(wrong)?;
        if *version != VERSION || rest.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: CONTEXT,
                },
            )
            .map_err(|_| wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn round_trips_and_never_repeats_a_ciphertext() {
        let b = SecretBox::from_hex(KEY).unwrap();
        let one = b.seal(b"sk-live-secret").unwrap();
        let two = b.seal(b"sk-live-secret").unwrap();
        assert_ne!(one, two, "fresh nonce per seal");
        assert_eq!(b.open(&one).unwrap(), b"sk-live-secret");
        assert!(!one.windows(4).any(|w| w == b"live"));
    }

    #[test]
    fn another_key_or_a_damaged_value_is_refused() {
        let b = SecretBox::from_hex(KEY).unwrap();
        let other = SecretBox::from_hex(&"ab".repeat(32)).unwrap();
        let mut sealed = b.seal(b"k").unwrap();
        assert!(other.open(&sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(b.open(&sealed).is_err());
        assert!(b.open(&[]).is_err());
    }

    #[test]
    fn malformed_keys_are_refused_with_the_fix() {
        for bad in ["", "abc", &"zz".repeat(32), &"00".repeat(31)] {
            let err = SecretBox::from_hex(bad).unwrap_err().to_string();
            assert!(err.contains("SLUICE_SECRET_KEY"), "{err}");
        }
        assert_eq!(
            format!("{:?}", SecretBox::from_hex(KEY).unwrap()),
            "SecretBox(***)"
        );
    }
}
