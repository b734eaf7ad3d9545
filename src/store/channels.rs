//! Upstream channels as the store keeps them: the relay's `ChannelConfig`, with the keys
//! sealed by the secret box.
//!
//! Owns: the create/update shapes, validation (the config file's own rules), the stored view
//! (key hints only), the conversion to `ChannelConfig` and the merge with the file's channels.
//! Must never: return a key from a read, or accept `${VAR}` references from the admin API
//! (an admin request must not read the relay's environment).

use super::crypto::SecretBox;
use super::tokens::{parse_list, present, present_duration, Source};
use super::StoreError;
use crate::config::{ChannelConfig, ChannelTimeouts, Config, ProviderKind, Secret};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

const MAX_KEYS: usize = 64;

pub fn provider_name(kind: ProviderKind) -> &'static str {
    kind.as_str()
}

fn parse_provider(text: &str) -> Result<ProviderKind, StoreError> {
    serde_json::from_value(serde_json::Value::from(text))
        .map_err(|_| StoreError::Invalid(format!("unknown provider `{text}`")))
}

/// A new channel, in the config file's field names. `keys` are plain values.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub name: String,
    pub provider: ProviderKind,
    pub base_url: String,
    pub keys: Vec<String>,
    pub models: Vec<String>,
    #[serde(default)]
    pub model_mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub anthropic_version: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Requests per `rate_window`; unset: no limit.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per `rate_window`; unset: no limit.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// The window of `rpm` and `tpm` (`"10s"`); unset: a minute.
    #[serde(default, with = "humantime_serde")]
    pub rate_window: Option<Duration>,
    #[serde(default)]
    pub timeouts: ChannelTimeouts,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// A change to a stored channel: absent fields stay; `keys` replaces the whole key list.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    pub provider: Option<ProviderKind>,
    pub base_url: Option<String>,
    pub keys: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    pub model_mapping: Option<BTreeMap<String, String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub anthropic_version: Option<String>,
    pub priority: Option<i32>,
    pub weight: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    pub max_concurrency: Option<Option<usize>>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    pub rpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub tpm: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_duration")]
    pub rate_window: Option<Option<Duration>>,
    pub timeouts: Option<ChannelTimeouts>,
    pub enabled: Option<bool>,
}

/// A stored channel as reads return it: key hints, never keys.
#[derive(Clone, Debug, Serialize)]
pub struct StoredChannel {
    pub id: i64,
    pub name: String,
    pub provider: &'static str,
    pub base_url: String,
    pub key_hints: Vec<String>,
    pub models: Vec<String>,
    pub model_mapping: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub anthropic_version: String,
    pub priority: i32,
    pub weight: u32,
    pub max_concurrency: Option<usize>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    /// The window of `rpm` and `tpm`; unset: a minute.
    #[serde(with = "humantime_serde")]
    pub rate_window: Option<Duration>,
    pub first_byte_ms: Option<i64>,
    pub stream_idle_ms: Option<i64>,
    pub total_ms: Option<i64>,
    pub enabled: bool,
    pub source: Source,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip)]
    pub(crate) keys_enc: Vec<u8>,
    #[serde(skip)]
    pub(crate) kind: ProviderKind,
}

/// The columns a write stores, computed from a validated channel.
pub(crate) struct ChannelValues {
    pub provider: &'static str,
    pub base_url: String,
    pub keys_enc: Vec<u8>,
    pub key_hints: String,
    pub models: String,
    pub model_mapping: String,
    pub headers: String,
    pub anthropic_version: String,
    pub priority: i64,
    pub weight: i64,
    pub max_concurrency: Option<i64>,
    pub first_byte_ms: Option<i64>,
    pub stream_idle_ms: Option<i64>,
    pub total_ms: Option<i64>,
    pub enabled: bool,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub rate_window_ms: Option<i64>,
}

impl ChannelSpec {
    /// The relay's channel, checked by the same rules as the config file's channels.
    pub fn to_config(&self) -> Result<ChannelConfig, StoreError> {
        if self.keys.len() > MAX_KEYS {
            return Err(StoreError::Invalid(format!(
                "a channel has at most {MAX_KEYS} keys"
            )));
        }
        let channel = ChannelConfig {
            name: self.name.trim().to_owned(),
            provider: self.provider,
            base_url: self.base_url.trim().to_owned(),
            keys: self.keys.iter().map(|k| Secret::new(k.trim())).collect(),
            models: self.models.clone(),
            model_mapping: self.model_mapping.clone(),
            headers: self.headers.clone(),
            anthropic_version: self
                .anthropic_version
                .clone()
                .unwrap_or_else(|| "2023-06-01".to_owned()),
            priority: self.priority,
            weight: self.weight,
            max_concurrency: self.max_concurrency,
            rpm: self.rpm,
            tpm: self.tpm,
            rate_window: self.rate_window,
            timeouts: self.timeouts.clone(),
            enabled: self.enabled,
            // Vertex AI channels are configured in the config file only.
            project: None,
            location: None,
            credentials_file: None,
        };
        validate_channel(&channel)?;
        Ok(channel)
    }
}

impl ChannelPatch {
    pub(crate) fn touches_keys(&self) -> bool {
        self.keys.is_some()
    }

    pub(crate) fn apply(self, mut s: ChannelSpec) -> ChannelSpec {
        if let Some(v) = self.provider {
            s.provider = v;
        }
        if let Some(v) = self.base_url {
            s.base_url = v;
        }
        if let Some(v) = self.keys {
            s.keys = v;
        }
        if let Some(v) = self.models {
            s.models = v;
        }
        if let Some(v) = self.model_mapping {
            s.model_mapping = v;
        }
        if let Some(v) = self.headers {
            s.headers = v;
        }
        if let Some(v) = self.anthropic_version {
            s.anthropic_version = Some(v);
        }
        if let Some(v) = self.priority {
            s.priority = v;
        }
        if let Some(v) = self.weight {
            s.weight = v;
        }
        if let Some(v) = self.max_concurrency {
            s.max_concurrency = v;
        }
        if let Some(v) = self.rpm {
            s.rpm = v;
        }
        if let Some(v) = self.tpm {
            s.tpm = v;
        }
        if let Some(v) = self.rate_window {
            s.rate_window = v;
        }
        if let Some(v) = self.timeouts {
            s.timeouts = v;
        }
        if let Some(v) = self.enabled {
            s.enabled = v;
        }
        s
    }
}

/// The config file's channel rules, applied to one channel.
fn validate_channel(channel: &ChannelConfig) -> Result<(), StoreError> {
    let mut probe = Config::parse("[[tokens]]\nkey = \"validation-only\"")?;
    probe.channels.push(channel.clone());
    probe.validate().map_err(|e| {
        StoreError::Invalid(
            e.to_string()
                .trim_start_matches("invalid config: ")
                .to_owned(),
        )
    })
}

fn millis(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// The sealed keys and their hints, for a validated channel.
pub(crate) fn seal_keys(
    c: &ChannelConfig,
    secrets: Option<&SecretBox>,
) -> Result<(Vec<u8>, String), StoreError> {
    let secrets = secrets.ok_or(StoreError::NoSecretKey)?;
    let plain: Vec<&str> = c.keys.iter().map(Secret::expose).collect();
    let hints: Vec<String> = c.keys.iter().map(Secret::hint).collect();
    Ok((secrets.seal(json(&plain).as_bytes())?, json(&hints)))
}

/// The columns for a validated channel, with its sealed keys.
pub(crate) fn values(c: &ChannelConfig, keys_enc: Vec<u8>, key_hints: String) -> ChannelValues {
    ChannelValues {
        provider: provider_name(c.provider),
        base_url: c.base_url.clone(),
        keys_enc,
        key_hints,
        models: json(&c.models),
        model_mapping: json(&c.model_mapping),
        headers: json(&c.headers),
        anthropic_version: c.anthropic_version.clone(),
        priority: i64::from(c.priority),
        weight: i64::from(c.weight),
        max_concurrency: c.max_concurrency.map(|m| m as i64),
        first_byte_ms: millis(c.timeouts.first_byte),
        stream_idle_ms: millis(c.timeouts.stream_idle),
        total_ms: millis(c.timeouts.total),
        enabled: c.enabled,
        rpm: c.rpm.map(i64::from),
        tpm: c.tpm.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        rate_window_ms: millis(c.rate_window),
    }
}

/// The columns after `patch`: keys re-sealed when the patch replaces them, kept sealed as
/// they are otherwise (no secret key needed then).
pub(crate) fn patched(
    current: &StoredChannel,
    patch: ChannelPatch,
    secrets: Option<&SecretBox>,
) -> Result<ChannelValues, StoreError> {
    let replaces_keys = patch.touches_keys();
    let config = patch.apply(current.spec_without_keys()).to_config()?;
    if replaces_keys {
        let (keys_enc, key_hints) = seal_keys(&config, secrets)?;
        return Ok(values(&config, keys_enc, key_hints));
    }
    Ok(values(
        &config,
        current.keys_enc.clone(),
        json(&current.key_hints),
    ))
}

impl StoredChannel {
    /// Its fields as a spec, with a stand-in key (validation needs one; it is never stored).
    fn spec_without_keys(&self) -> ChannelSpec {
        let ms = |v: Option<i64>| v.map(|v| Duration::from_millis(v.max(0) as u64));
        ChannelSpec {
            name: self.name.clone(),
            provider: self.kind,
            base_url: self.base_url.clone(),
            keys: vec!["unchanged".to_owned()],
            models: self.models.clone(),
            model_mapping: self.model_mapping.clone(),
            headers: self.headers.clone(),
            anthropic_version: Some(self.anthropic_version.clone()),
            priority: self.priority,
            weight: self.weight,
            max_concurrency: self.max_concurrency,
            rpm: self.rpm,
            tpm: self.tpm,
            rate_window: self.rate_window,
            timeouts: ChannelTimeouts {
                first_byte: ms(self.first_byte_ms),
                stream_idle: ms(self.stream_idle_ms),
                total: ms(self.total_ms),
            },
            enabled: self.enabled,
        }
    }

    /// The relay's `ChannelConfig` for this channel, keys decrypted.
    pub fn to_config(&self, secrets: Option<&SecretBox>) -> Result<ChannelConfig, StoreError> {
        let secrets = secrets.ok_or(StoreError::NoSecretKey)?;
        let plain = secrets.open(&self.keys_enc)?;
        let keys: Vec<String> = serde_json::from_slice(&plain)
            .map_err(|_| StoreError::Crypto("stored channel keys are damaged".to_owned()))?;
        let mut spec = self.spec_without_keys();
        spec.keys = keys;
        spec.to_config()
    }
}

/// The file's channels, then the stored channels whose names the file does not use. The file
/// wins a name clash; the shadowed stored names are returned for the start-up log.
pub fn merge_channels(
    file: &[ChannelConfig],
    stored: Vec<ChannelConfig>,
) -> (Vec<ChannelConfig>, Vec<String>) {
    let names: HashSet<&str> = file.iter().map(|c| c.name.as_str()).collect();
    let mut merged = file.to_vec();
    let mut shadowed = Vec::new();
    for c in stored {
        if names.contains(c.name.as_str()) {
            shadowed.push(c.name);
        } else {
            merged.push(c);
        }
    }
    (merged, shadowed)
}

/// A channel row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: i64,
    name: String,
    provider: String,
    base_url: String,
    keys_enc: Vec<u8>,
    key_hints: String,
    models: String,
    model_mapping: String,
    headers: String,
    anthropic_version: String,
    priority: i64,
    weight: i64,
    max_concurrency: Option<i64>,
    first_byte_ms: Option<i64>,
    stream_idle_ms: Option<i64>,
    total_ms: Option<i64>,
    enabled: bool,
    rpm: Option<i64>,
    tpm: Option<i64>,
    rate_window_ms: Option<i64>,
    revision: i64,
    created_at: i64,
    updated_at: i64,
}

fn parse_json<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Invalid(format!("stored {field}: {e}")))
}

impl TryFrom<ChannelRow> for StoredChannel {
    type Error = StoreError;

    fn try_from(r: ChannelRow) -> Result<Self, StoreError> {
        let kind = parse_provider(&r.provider)?;
        Ok(StoredChannel {
            id: r.id,
            name: r.name,
            provider: provider_name(kind),
            base_url: r.base_url,
            key_hints: parse_list(Some(r.key_hints))?.unwrap_or_default(),
            models: parse_json("models", &r.models)?,
            model_mapping: parse_json("model_mapping", &r.model_mapping)?,
            headers: parse_json("headers", &r.headers)?,
            anthropic_version: r.anthropic_version,
            priority: i32::try_from(r.priority).unwrap_or_default(),
            weight: u32::try_from(r.weight).unwrap_or(1),
            max_concurrency: r.max_concurrency.map(|m| m.max(1) as usize),
            rpm: r.rpm.and_then(|v| u32::try_from(v).ok()),
            tpm: r.tpm.and_then(|v| u64::try_from(v).ok()),
            rate_window: r
                .rate_window_ms
                .and_then(|v| u64::try_from(v).ok())
                .map(Duration::from_millis),
            first_byte_ms: r.first_byte_ms,
            stream_idle_ms: r.stream_idle_ms,
            total_ms: r.total_ms,
            enabled: r.enabled,
            source: Source::Store,
            revision: r.revision,
            created_at: r.created_at,
            updated_at: r.updated_at,
            keys_enc: r.keys_enc,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec(name: &str) -> ChannelSpec {
        serde_json::from_value(serde_json::json!({
            "name": name, "provider": "openai", "base_url": "https://api.openai.com/v1",
            "keys": ["sk-live-abcdefghijkl"], "models": ["gpt-4o"],
            "timeouts": {"first_byte": "30s"}
        }))
        .unwrap()
    }

    #[test]
    fn a_spec_becomes_the_relays_channel_and_back() {
        let box_ = SecretBox::from_hex(&"11".repeat(32)).unwrap();
        let config = spec("main").to_config().unwrap();
        assert_eq!(config.timeouts.first_byte, Some(Duration::from_secs(30)));
        let (keys_enc, key_hints) = seal_keys(&config, Some(&box_)).unwrap();
        assert!(!String::from_utf8_lossy(&keys_enc).contains("abcdefghijkl"));
        assert!(key_hints.contains("sk-***kl"));
        assert!(matches!(
            seal_keys(&config, None),
            Err(StoreError::NoSecretKey)
        ));
        let v = values(&config, keys_enc, key_hints);
        assert_eq!(v.provider, "openai");
    }

    #[test]
    fn the_file_rules_apply() {
        let mut s = spec("x");
        s.keys.clear();
        assert!(s.to_config().unwrap_err().to_string().contains("no keys"));
        let mut s = spec("x");
        s.base_url = "ftp://host".into();
        assert!(s.to_config().is_err());
        let mut s = spec("x");
        s.weight = 0;
        assert!(s.to_config().is_err());
        let bad: Result<ChannelSpec, _> = serde_json::from_value(serde_json::json!({
            "name": "x", "provider": "nope", "base_url": "https://h", "keys": ["k"], "models": ["m"]
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn limits_are_stored_patched_and_read_back() {
        let mut s = spec("l");
        s.rpm = Some(4);
        s.tpm = Some(800);
        s.rate_window = Some(Duration::from_secs(10));
        let config = s.to_config().unwrap();
        assert_eq!((config.rpm, config.tpm), (Some(4), Some(800)));
        let v = values(&config, Vec::new(), "[]".into());
        assert_eq!(
            (v.rpm, v.tpm, v.rate_window_ms),
            (Some(4), Some(800), Some(10_000))
        );
        let patch: ChannelPatch =
            serde_json::from_str(r#"{"rpm": null, "rate_window": "30s"}"#).unwrap();
        let after = patch.apply(s.clone());
        assert_eq!(
            (after.rpm, after.tpm, after.rate_window),
            (None, Some(800), Some(Duration::from_secs(30)))
        );
        let unchanged = ChannelPatch::default().apply(s.clone());
        assert_eq!(unchanged.rpm, Some(4));
        s.tpm = Some(0);
        assert!(s.to_config().unwrap_err().to_string().contains("above 0"));
    }

    #[test]
    fn the_file_wins_name_clashes() {
        let file = vec![spec("a").to_config().unwrap()];
        let stored = vec![
            spec("a").to_config().unwrap(),
            spec("b").to_config().unwrap(),
        ];
        let (merged, shadowed) = merge_channels(&file, stored);
        let names: Vec<&str> = merged.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(shadowed, ["a"]);
    }

    #[test]
    fn every_provider_round_trips_its_name() {
        for kind in [
            ProviderKind::Openai,
            ProviderKind::Anthropic,
            ProviderKind::Xai,
            ProviderKind::OpenaiCompatible,
            ProviderKind::Gemini,
            ProviderKind::Vertex,
        ] {
            assert_eq!(parse_provider(provider_name(kind)).unwrap(), kind);
        }
    }
}
