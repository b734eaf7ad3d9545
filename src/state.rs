//! The relay's shared state: built once at start, read by every request.
//!
//! Owns: config, token table, channels, the upstream client and the overload counters.
//! Must never: hold per-request data.

use crate::auth::Tokens;
use crate::config::{Config, ConfigError};
use crate::monitor::Monitor;
use crate::overload::Overload;
use crate::routing::Routes;
use crate::upstream::Upstream;
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub tokens: Tokens,
    pub routes: Routes,
    pub upstream: Upstream,
    pub monitor: Arc<Monitor>,
    pub overload: Overload,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(#[from] crate::upstream::ClientError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the embedded simulator: {0}")]
    Simulator(std::io::Error),
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
        let mut monitor_config = config.monitor.clone();
        monitor_config.admin_token = config.admin_token.clone();
        let monitor = Monitor::new(&monitor_config, &channels);
        Ok(Arc::new(Self {
            tokens: Tokens::new(&config),
            routes: Routes::new(&config)?,
            upstream: Upstream::new(&config, monitor.ledger().clone())?,
            overload: Overload::new(&config.overload),
            monitor,
            config,
        }))
    }
}
