//! Client tokens as the store keeps them: keys made here, shown once, stored as SHA-256.
//!
//! Owns: key generation and hashing, the token's fields and their validation (globs, CIDRs,
//! limits), the create/update shapes the admin API and CLI accept.
//! Must never: keep or return a plain key after creation (`NewToken` is the only holder).

use super::{now_ms, StoreError};
use crate::config::Secret;
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Every key made by the store starts with this.
pub const KEY_PREFIX: &str = "sk-sluice-";
const KEY_RANDOM_CHARS: usize = 40;
const NAME_MAX: usize = 64;
const LIST_MAX: usize = 256;

/// SHA-256 of a token key: how the store and the request path know a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        hex::decode(text).ok()?.try_into().ok().map(Self)
    }
}

/// A new random key: `sk-sluice-` and 40 alphanumerics (about 238 bits).
pub fn generate_key() -> Secret {
    let random = Alphanumeric.sample_string(&mut rand::rng(), KEY_RANDOM_CHARS);
    Secret::new(format!("{KEY_PREFIX}{random}"))
}

/// What lists show of a key: its first characters.
pub fn key_prefix(key: &str) -> String {
    let head: String = key.chars().take(KEY_PREFIX.len() + 4).collect();
    format!("{head}…")
}

/// Where an item comes from: the config file (read-only in the admin API) or the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    File,
    Store,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Store => "store",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "file" => Ok(Source::File),
            "store" => Ok(Source::Store),
            other => Err(StoreError::Invalid(format!("unknown source `{other}`"))),
        }
    }
}

/// A token as reads return it (never its key).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub key_prefix: String,
    pub enabled: bool,
    /// Unix milliseconds; unset: never expires.
    pub expires_at: Option<i64>,
    /// Cost units this token may spend in all; unset: unlimited.
    pub quota_limit: Option<i64>,
    /// Cost units spent so far (written by the usage writer).
    pub used_units: i64,
    pub requests: i64,
    /// Model globs this token may use; unset: all.
    pub models: Option<Vec<String>>,
    /// Client addresses (IPs or CIDRs) this token may be used from; unset: any.
    pub allow_ips: Option<Vec<String>>,
    /// Requests per minute; unset: no limit.
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute; unset: no limit.
    pub tpm: Option<u64>,
    /// The window `rpm` and `tpm` count over (`"10s"`); unset: a minute.
    #[serde(with = "humantime_serde")]
    pub rate_window: Option<Duration>,
    pub source: Source,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    #[serde(skip)]
    pub key_hash: String,
}

impl Token {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A token just created, with its key: shown once, then only its hash exists.
pub struct NewToken {
    pub token: Token,
    pub key: Secret,
}

/// The fields of a new token.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub name: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub quota_limit: Option<i64>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub allow_ips: Option<Vec<String>>,
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub tpm: Option<u64>,
    /// The window `rpm` and `tpm` count over; unset: a minute.
    #[serde(default, with = "humantime_serde")]
    pub rate_window: Option<Duration>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            expires_at: None,
            quota_limit: None,
            models: None,
            allow_ips: None,
            rpm: None,
            tpm: None,
            rate_window: None,
            enabled: true,
        }
    }
}

/// A change to a token: absent fields stay; `null` clears an optional field.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub quota_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub allow_ips: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub rpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub tpm: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_duration")]
    pub rate_window: Option<Option<Duration>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A field that is present (maybe `null`) deserializes to `Some(value)`.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A humantime duration that is present (maybe `null`) deserializes to `Some(value)`.
pub(crate) fn present_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    Option::<humantime_serde::Serde<Duration>>::deserialize(d)
        .map(|v| Some(v.map(humantime_serde::Serde::into_inner)))
}

impl TokenPatch {
    /// The token with this patch applied (validated by the caller).
    pub(crate) fn apply(self, mut t: TokenSpec) -> TokenSpec {
        if let Some(v) = self.name {
            t.name = v;
        }
        if let Some(v) = self.expires_at {
            t.expires_at = v;
        }
        if let Some(v) = self.quota_limit {
            t.quota_limit = v;
        }
        if let Some(v) = self.models {
            t.models = v;
        }
        if let Some(v) = self.allow_ips {
            t.allow_ips = v;
        }
        if let Some(v) = self.rpm {
            t.rpm = v;
        }
        if let Some(v) = self.tpm {
            t.tpm = v;
        }
        if let Some(v) = self.rate_window {
            t.rate_window = v;
        }
        if let Some(v) = self.enabled {
            t.enabled = v;
        }
        t
    }
}

impl From<&Token> for TokenSpec {
    fn from(t: &Token) -> Self {
        Self {
            name: t.name.clone(),
            expires_at: t.expires_at,
            quota_limit: t.quota_limit,
            models: t.models.clone(),
            allow_ips: t.allow_ips.clone(),
            rpm: t.rpm,
            tpm: t.tpm,
            rate_window: t.rate_window,
            enabled: t.enabled,
        }
    }
}

impl TokenSpec {
    /// Checks every field and normalizes addresses (`10.0.0.1` -> `10.0.0.1/32`).
    pub fn validated(mut self) -> Result<Self, StoreError> {
        let invalid = |m: String| Err(StoreError::Invalid(m));
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return invalid(format!("name must be 1 to {NAME_MAX} characters"));
        }
        self.name = name.to_owned();
        if self.quota_limit.is_some_and(|q| q < 0) {
            return invalid("quota_limit must not be negative".to_owned());
        }
        if self.rpm == Some(0) || self.tpm == Some(0) {
            return invalid("rpm and tpm must be above 0 (leave them out for no limit)".to_owned());
        }
        if let Some(w) = self.rate_window {
            if w < Duration::from_secs(1) || w > Duration::from_secs(24 * 3600) {
                return invalid("rate_window must be between 1s and 24h".to_owned());
            }
        }
        if self.tpm.is_some_and(|t| t > i64::MAX as u64) {
            return invalid("tpm is too large".to_owned());
        }
        if let Some(models) = &self.models {
            check_list("models", models)?;
            for m in models {
                globset::Glob::new(m)
                    .map_err(|e| StoreError::Invalid(format!("models: `{m}`: {e}")))?;
            }
        }
        if let Some(ips) = self.allow_ips.take() {
            check_list("allow_ips", &ips)?;
            let nets = ips
                .iter()
                .map(|ip| parse_net(ip).map(|n| n.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            self.allow_ips = Some(nets);
        }
        Ok(self)
    }

    /// Refuses an expiry already past (a new token that can never be used).
    pub(crate) fn check_not_expired(&self) -> Result<(), StoreError> {
        match self.expires_at {
            Some(at) if at <= now_ms() => {
                Err(StoreError::Invalid("expires_at is in the past".to_owned()))
            }
            _ => Ok(()),
        }
    }
}

fn check_list(field: &str, items: &[String]) -> Result<(), StoreError> {
    if items.len() > LIST_MAX {
        return Err(StoreError::Invalid(format!(
            "{field} lists more than {LIST_MAX} entries"
        )));
    }
    if items.iter().any(|i| i.trim().is_empty() || i.len() > 256) {
        return Err(StoreError::Invalid(format!(
            "{field} entries must be 1 to 256 characters"
        )));
    }
    Ok(())
}

/// An IP address (a one-address network) or a CIDR.
pub fn parse_net(text: &str) -> Result<ipnet::IpNet, StoreError> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| StoreError::Invalid(format!("allow_ips: `{text}` is not an IP or a CIDR")))
}

/// A token row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: i64,
    key_hash: String,
    key_prefix: String,
    name: String,
    enabled: bool,
    expires_at: Option<i64>,
    quota_limit: Option<i64>,
    models: Option<String>,
    allow_ips: Option<String>,
    rpm: Option<i64>,
    tpm: Option<i64>,
    rate_window_ms: Option<i64>,
    source: String,
    revision: i64,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    used_units: i64,
    requests: i64,
}

pub(crate) fn json_list(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|l| serde_json::Value::from(l.clone()).to_string())
}

pub(crate) fn parse_list(text: Option<String>) -> Result<Option<Vec<String>>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Invalid(format!("stored list: {e}")))
    })
    .transpose()
}

impl TryFrom<TokenRow> for Token {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(Token {
            id: r.id,
            name: r.name,
            key_prefix: r.key_prefix,
            enabled: r.enabled,
            expires_at: r.expires_at,
            quota_limit: r.quota_limit,
            used_units: r.used_units,
            requests: r.requests,
            models: parse_list(r.models)?,
            allow_ips: parse_list(r.allow_ips)?,
            rpm: r.rpm.and_then(|v| u32::try_from(v).ok()),
            tpm: r.tpm.and_then(|v| u64::try_from(v).ok()),
            rate_window: r
                .rate_window_ms
                .and_then(|v| u64::try_from(v).ok())
                .map(Duration::from_millis),
            source: Source::parse(&r.source)?,
            revision: r.revision,
            created_at: r.created_at,
            updated_at: r.updated_at,
            revoked_at: r.revoked_at,
            key_hash: r.key_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        let h = KeyHash::of(a.expose());
        assert_eq!(KeyHash::from_hex(&h.to_hex()), Some(h));
        assert_ne!(h, KeyHash::of(b.expose()));
        assert!(key_prefix(a.expose()).starts_with("sk-sluice-"));
        assert!(key_prefix(a.expose()).chars().count() < 20);
    }

    #[test]
    fn specs_are_validated_and_normalized() {
        let spec = TokenSpec {
            name: " team-a ".into(),
            allow_ips: Some(vec![
                "10.1.2.3".into(),
                "192.168.7.9/16".into(),
                "::1".into(),
            ]),
            models: Some(vec!["gpt-4o*".into()]),
            ..TokenSpec::default()
        }
        .validated()
        .unwrap();
        assert_eq!(spec.name, "team-a");
        assert_eq!(
            spec.allow_ips.unwrap(),
            ["10.1.2.3/32", "192.168.0.0/16", "::1/128"]
        );
        let bad = [
            TokenSpec {
                name: "".into(),
                ..TokenSpec::default()
            },
            TokenSpec {
                name: "x".into(),
                rpm: Some(0),
                ..TokenSpec::default()
            },
            TokenSpec {
                name: "x".into(),
                quota_limit: Some(-1),
                ..TokenSpec::default()
            },
            TokenSpec {
                name: "x".into(),
                allow_ips: Some(vec!["nope".into()]),
                ..TokenSpec::default()
            },
            TokenSpec {
                name: "x".into(),
                models: Some(vec!["a[".into()]),
                ..TokenSpec::default()
            },
        ];
        for spec in bad {
            assert!(spec.validated().is_err());
        }
    }

    #[test]
    fn a_patch_distinguishes_absent_from_null() {
        let patch: TokenPatch = serde_json::from_str(r#"{"quota_limit": null, "rpm": 5}"#).unwrap();
        let before = TokenSpec {
            name: "n".into(),
            quota_limit: Some(10),
            tpm: Some(100),
            ..TokenSpec::default()
        };
        let after = patch.apply(before);
        assert_eq!(after.quota_limit, None);
        assert_eq!(after.rpm, Some(5));
        assert_eq!(after.tpm, Some(100), "absent field kept");
        assert!(serde_json::from_str::<TokenPatch>(r#"{"bogus": 1}"#).is_err());
    }
}
