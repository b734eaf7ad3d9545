//! Channels and the choice of one for a request.
//!
//! Owns: the runtime channel list built from config, model lookup, model mapping and key
//! rotation.
//! Must never: do I/O, or hand out a channel that cannot serve the endpoint.

use crate::config::{ChannelConfig, Config, ConfigError, ProviderKind, Secret};
use crate::error::RelayError;
use crate::providers::{adaptor_for, Adaptor, Endpoint, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One configured upstream, ready to serve.
pub struct Channel {
    pub name: String,
    pub kind: ProviderKind,
    pub adaptor: &'static dyn Adaptor,
    base_url: String,
    keys: Vec<Secret>,
    next_key: AtomicUsize,
    models: HashSet<String>,
    mapping: HashMap<String, String>,
    headers: HeaderMap,
    anthropic_version: String,
}

impl Channel {
    fn from_config(c: &ChannelConfig) -> Result<Self, ConfigError> {
        let mut headers = HeaderMap::new();
        for (k, v) in &c.headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|_| {
                ConfigError::Invalid(format!("channel `{}`: bad header name `{k}`", c.name))
            })?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| {
                ConfigError::Invalid(format!("channel `{}`: bad value for header `{k}`", c.name))
            })?;
            headers.insert(name, value);
        }
        Ok(Self {
            name: c.name.clone(),
            kind: c.provider,
            adaptor: adaptor_for(c.provider),
            base_url: c.base_url.trim_end_matches('/').to_owned(),
            keys: c.keys.clone(),
            next_key: AtomicUsize::new(0),
            models: c.models.iter().cloned().collect(),
            mapping: c.model_mapping.clone().into_iter().collect(),
            headers,
            anthropic_version: c.anthropic_version.clone(),
        })
    }

    pub fn serves(&self, model: &str) -> bool {
        self.models.contains(model)
    }

    /// The model name to send upstream for a client's model name.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.mapping.get(model).map(String::as_str).unwrap_or(model)
    }

    /// The next key in rotation.
    fn next_key(&self) -> &Secret {
        let i = self.next_key.fetch_add(1, Ordering::Relaxed);
        &self.keys[i % self.keys.len()]
    }

    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(String::as_str)
    }
}

/// The channel and key picked for one attempt.
pub struct Selected {
    pub channel: Arc<Channel>,
    pub key: Secret,
    pub upstream_model: String,
}

impl Selected {
    pub fn target(&self) -> Target<'_> {
        Target {
            base_url: &self.channel.base_url,
            key: &self.key,
            extra_headers: &self.channel.headers,
            anthropic_version: &self.channel.anthropic_version,
        }
    }
}

pub struct Routes {
    channels: Vec<Arc<Channel>>,
}

impl Routes {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let channels = config
            .channels
            .iter()
            .map(|c| Channel::from_config(c).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { channels })
    }

    /// The first channel (in config order) that lists the model and can serve the endpoint.
    pub fn select(&self, model: &str, endpoint: Endpoint) -> Result<Selected, RelayError> {
        let mut listed = false;
        for ch in &self.channels {
            if !ch.serves(model) {
                continue;
            }
            listed = true;
            if ch.adaptor.supports(endpoint) && !ch.keys.is_empty() {
                return Ok(Selected {
                    key: ch.next_key().clone(),
                    upstream_model: ch.upstream_model(model).to_owned(),
                    channel: Arc::clone(ch),
                });
            }
        }
        if listed {
            Err(RelayError::EndpointNotSupported {
                model: model.to_owned(),
                endpoint: endpoint.path(),
            })
        } else {
            Err(RelayError::ModelNotFound(model.to_owned()))
        }
    }

    pub fn channels(&self) -> &[Arc<Channel>] {
        &self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let cfg = Config::parse(
            r#"
            [[channels]]
            name = "a"
            provider = "anthropic"
            base_url = "http://127.0.0.1:1/"
            keys = ["k1", "k2"]
            models = ["claude-x", "shared"]
            model_mapping = { "claude-x" = "claude-real" }
            [[channels]]
            name = "o"
            provider = "openai"
            base_url = "http://127.0.0.1:2/v1"
            keys = ["o1"]
            models = ["shared", "emb"]
            [[tokens]]
            key = "t"
        "#,
        )
        .unwrap();
        Routes::new(&cfg).unwrap()
    }

    #[test]
    fn maps_models_and_rotates_keys() {
        let r = routes();
        let a = r.select("claude-x", Endpoint::Chat).unwrap();
        assert_eq!(a.upstream_model, "claude-real");
        assert_eq!(a.target().base_url, "http://127.0.0.1:1");
        let b = r.select("claude-x", Endpoint::Chat).unwrap();
        assert_ne!(a.key.expose(), b.key.expose());
    }

    #[test]
    fn skips_channels_that_cannot_serve_the_endpoint() {
        let r = routes();
        assert_eq!(
            r.select("shared", Endpoint::Embeddings)
                .unwrap()
                .channel
                .name,
            "o"
        );
        assert_eq!(
            r.select("shared", Endpoint::Chat).unwrap().channel.name,
            "a"
        );
        assert!(matches!(
            r.select("claude-x", Endpoint::Embeddings),
            Err(RelayError::EndpointNotSupported { .. })
        ));
        assert!(matches!(
            r.select("nope", Endpoint::Chat),
            Err(RelayError::ModelNotFound(_))
        ));
    }
}
