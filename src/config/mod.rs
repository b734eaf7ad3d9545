//! Typed configuration: one struct with defaults, loaded from TOML.
//!
//! Owns: the config schema, its defaults, loading and validation, env overrides for secrets.
//! Must never: hold runtime state, or print a secret (see [`Secret`]).

mod base_url;
mod cluster;
mod media;
mod monitor;
mod prices;
mod routing;
mod secret;
mod store;
mod timeouts;
mod video;

pub use cluster::ClusterConfig;
pub use media::{FamilyConfig, MediaConfig};
pub use monitor::{Level, MonitorConfig, Thresholds};
pub use prices::{image_key, to_units, ModelPrice, PricesConfig};
pub use routing::{BreakerConfig, ChannelTimeouts, OverloadConfig, PanicMode, RoutingConfig};
pub use secret::Secret;
pub use store::{OnSpoolFull, StoreBackend, StoreConfig, UsageConfig};
pub use timeouts::{Limits, Timeouts};
pub use video::VideoConfig;

use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The whole configuration. Every field has a default except channels and tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the relay listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A second listener for the admin surfaces (`/api/*`, `/metrics`): when set they are served
    /// there only, and the public listener answers them 404. Bind it to a private address.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// How long in-flight requests may run after SIGTERM/SIGINT before they are cancelled.
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub overload: OverloadConfig,
    /// Bearer token every caller of the admin surfaces must send (`Authorization: Bearer ...`),
    /// whatever its address. Unset: the admin surfaces are served on `admin_listen` only (and
    /// not at all without it).
    #[serde(default)]
    pub admin_token: Option<Secret>,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// The store (tokens, channels, usage): on when the `[store]` section is present (its
    /// defaults: SQLite under `sluice-data/`); off, the relay authenticates from `[[tokens]]`
    /// alone and records usage in the access log only.
    #[serde(default)]
    pub store: Option<StoreConfig>,
    #[serde(default)]
    pub prices: PricesConfig,
    #[serde(default)]
    pub media: MediaConfig,
    /// Video tasks: the poller, deadlines, callbacks.
    #[serde(default)]
    pub video: VideoConfig,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Xai,
    OpenaiCompatible,
    /// Google's Gemini API (`x-goog-api-key`).
    Gemini,
    /// Gemini models on Google Cloud's Vertex AI (a service account's OAuth access token).
    Vertex,
    /// Kling's video API (a JWT signed from the access and secret key: `key = "AK:SK"`).
    Kling,
    /// Runway's API (`X-Runway-Version`).
    Runway,
    /// Luma's Dream Machine API.
    Luma,
    /// Zhipu's BigModel API (CogVideoX).
    Zhipu,
    /// Alibaba Cloud's DashScope (Wan video models).
    Dashscope,
    /// Viggle's render API (v2).
    Viggle,
}

impl ProviderKind {
    /// The name as the config writes it (`openai-compatible`): in every message, snapshot and
    /// log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Xai => "xai",
            Self::OpenaiCompatible => "openai-compatible",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
            Self::Kling => "kling",
            Self::Runway => "runway",
            Self::Luma => "luma",
            Self::Zhipu => "zhipu",
            Self::Dashscope => "dashscope",
            Self::Viggle => "viggle",
        }
    }

    /// Every kind, in the order the config documents them.
    pub const ALL: [ProviderKind; 12] = [
        Self::Openai,
        Self::Anthropic,
        Self::Xai,
        Self::OpenaiCompatible,
        Self::Gemini,
        Self::Vertex,
        Self::Kling,
        Self::Runway,
        Self::Luma,
        Self::Zhipu,
        Self::Dashscope,
        Self::Viggle,
    ];

    /// Whether its channels serve video tasks only (no text endpoint).
    pub fn video_only(self) -> bool {
        match self {
            Self::Kling
            | Self::Runway
            | Self::Luma
            | Self::Zhipu
            | Self::Dashscope
            | Self::Viggle => true,
            Self::Openai
            | Self::Anthropic
            | Self::Xai
            | Self::OpenaiCompatible
            | Self::Gemini
            | Self::Vertex => false,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub provider: ProviderKind,
    pub base_url: String,
    /// One or more upstream keys, used in rotation. `${VAR}` reads the environment;
    /// `SLUICE_CHANNEL_<NAME>_KEYS` (comma-separated) overrides the list.
    #[serde(default)]
    pub keys: Vec<Secret>,
    /// Model names clients may ask for on this channel.
    pub models: Vec<String>,
    /// Client-facing model name -> upstream model name.
    #[serde(default)]
    pub model_mapping: BTreeMap<String, String>,
    /// Extra headers sent upstream on every request (e.g. `OpenAI-Organization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `anthropic-version` sent to Anthropic channels when the client gives none.
    #[serde(default = "default_anthropic_version")]
    pub anthropic_version: String,
    /// Higher tiers are tried first; lower ones only when no channel above is healthy.
    #[serde(default)]
    pub priority: i32,
    /// Share of traffic within its priority tier (relative to the other channels' weights).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Most requests in flight on this channel at once; unset: no cap.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Requests per `rate_window` this channel takes (across instances with Redis); unset: no
    /// limit. A channel at its limit is skipped for the next candidate.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion: the request's estimate, adjusted to the real count when it
    /// ends) per `rate_window`; unset: no limit.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// The window `rpm` and `tpm` count over (`"10s"`); unset: a minute.
    #[serde(default, with = "humantime_serde")]
    pub rate_window: Option<Duration>,
    /// Deadlines replacing the global `[timeouts]` ones for this channel.
    #[serde(default)]
    pub timeouts: ChannelTimeouts,
    /// A disabled channel gets no traffic until enabled (config or admin API).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Vertex AI: the Google Cloud project (required for `vertex` channels).
    #[serde(default)]
    pub project: Option<String>,
    /// Vertex AI: the region (`us-central1`, or `global`; required for `vertex` channels).
    #[serde(default)]
    pub location: Option<String>,
    /// Vertex AI: a service-account key file (JSON), read at load and used as one more key
    /// (the keys of a `vertex` channel are service-account key files' contents).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

impl ChannelConfig {
    /// The channel's `base_url` checked and in its normal form: the API root ending in `/v1`
    /// (added when the config left it out), no trailing slash; for the video-only providers
    /// the root as written (their paths start at the host: `https://api.klingai.com`).
    pub fn api_base(&self) -> Result<String, ConfigError> {
        let normal = if self.provider.video_only() {
            base_url::normalize_root(&self.base_url)
        } else {
            base_url::normalize(&self.base_url)
        };
        normal.map_err(|e| ConfigError::Invalid(format!("channel `{}`: base_url {e}", self.name)))
    }
}

impl ChannelConfig {
    /// `rpm` and `tpm` above 0, `rate_window` between 1 s and 24 h.
    pub(crate) fn validate_limits(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| {
            Err(ConfigError::Invalid(format!(
                "channel `{}`: {m}",
                self.name
            )))
        };
        if self.rpm == Some(0) || self.tpm == Some(0) {
            return invalid("rpm and tpm must be above 0 (leave them out for no limit)");
        }
        if self.tpm.is_some_and(|t| t > i64::MAX as u64) {
            return invalid("tpm is too large");
        }
        if self
            .rate_window
            .is_some_and(|w| w < Duration::from_secs(1) || w > Duration::from_secs(24 * 3600))
        {
            return invalid("rate_window must be between 1s and 24h");
        }
        Ok(())
    }

    /// A `vertex` channel names its project and location; no other channel does.
    fn validate_google(&self) -> Result<(), ConfigError> {
        let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let vertex = self.provider == ProviderKind::Vertex;
        if vertex && !(named(&self.project) && named(&self.location)) {
            return Err(ConfigError::Invalid(format!(
                "channel `{}`: a vertex channel needs `project` and `location`",
                self.name
            )));
        }
        let google_only =
            self.project.is_some() || self.location.is_some() || self.credentials_file.is_some();
        if !vertex && google_only {
            return Err(ConfigError::Invalid(format!(
                "channel `{}`: `project`, `location` and `credentials_file` are for vertex \
                 channels only",
                self.name
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs; defaults to a hint of the key.
    #[serde(default)]
    pub name: Option<String>,
    pub key: Secret,
    /// When set, the only models this token may use.
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Idle connections kept per upstream host.
    pub pool_max_idle_per_host: usize,
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            pool_max_idle_per_host: 128,
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_grace() -> Duration {
    Duration::from_secs(30)
}
fn default_weight() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_anthropic_version() -> String {
    "2023-06-01".to_owned()
}

impl Config {
    /// Reads, parses and validates a config file, applying environment overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        config.apply_env(|name| std::env::var(name).ok());
        config.read_credentials_files()?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; errors name the key and line.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        for ch in &mut self.channels {
            let var = format!("SLUICE_CHANNEL_{}_KEYS", env_name(&ch.name));
            if let Some(v) = get(&var) {
                ch.keys = v
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(Secret::new)
                    .collect();
            }
        }
    }

    /// Each channel's `credentials_file`, read as one more key.
    fn read_credentials_files(&mut self) -> Result<(), ConfigError> {
        for ch in &mut self.channels {
            if let Some(path) = &ch.credentials_file {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                ch.keys.push(Secret::new(text));
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose().is_empty())
        {
            return Err(ConfigError::Invalid(
                "admin_token must not be empty".to_owned(),
            ));
        }
        if let Some(admin) = self.admin_listen {
            if admin == self.listen && admin.port() != 0 {
                return Err(ConfigError::Invalid(format!(
                    "admin_listen `{admin}` is the same address as listen: give the admin \
                     surfaces their own (private) address, or leave admin_listen out"
                )));
            }
        }
        let mut names = HashSet::new();
        for ch in &self.channels {
            if !names.insert(ch.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "channel name `{}` is used twice",
                    ch.name
                )));
            }
            if ch.keys.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "channel `{}` has no keys (set `keys` or SLUICE_CHANNEL_{}_KEYS)",
                    ch.name,
                    env_name(&ch.name)
                )));
            }
            if ch.models.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "channel `{}` lists no models",
                    ch.name
                )));
            }
            if ch.weight == 0 {
                return Err(ConfigError::Invalid(format!(
                    "channel `{}`: weight must be above 0 (disable it with `enabled = false`)",
                    ch.name
                )));
            }
            if ch.max_concurrency == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "channel `{}`: max_concurrency must be above 0 (leave it out for no cap)",
                    ch.name
                )));
            }
            ch.timeouts.validate(&ch.name)?;
            ch.validate_limits()?;
            ch.api_base()?;
            ch.validate_google()?;
        }
        if self.tokens.is_empty() && self.store.is_none() {
            return Err(ConfigError::Invalid(
                "no [[tokens]] and no [store]: clients could not authenticate".to_owned(),
            ));
        }
        self.limits.validate()?;
        self.timeouts.validate()?;
        self.media.validate()?;
        self.video.validate()?;
        self.routing.validate()?;
        self.overload.validate()?;
        if let Some(store) = &self.store {
            store.validate()?;
        }
        self.prices.validate()?;
        Ok(())
    }
}

fn env_name(channel: &str) -> String {
    channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
