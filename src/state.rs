//! The relay's shared state: built once at start, read by every request.
//!
//! Owns: config, token table, channels, the upstream client, the overload counters, the
//! supervisor of background jobs, and whether the relay is draining (shutdown has begun).
//! Must never: hold per-request data.

use crate::auth::Tokens;
use crate::config::{Config, ConfigError};
use crate::monitor::Monitor;
use crate::overload::Overload;
use crate::routing::Routes;
use crate::supervisor::{self, Supervisor, SupervisorError};
use crate::upstream::Upstream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub tokens: Tokens,
    pub routes: Routes,
    pub upstream: Upstream,
    pub monitor: Arc<Monitor>,
    pub overload: Overload,
    /// Every background job of this relay runs here; `serve` shuts it down after the drain.
    pub supervisor: Supervisor,
    /// The access tokens of the Vertex AI keys (refreshed by a supervised job).
    pub credentials: Arc<crate::providers::vertex::Credentials>,
    draining: AtomicBool,
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
    #[error(
        "no --config given, and this relay was built without the `demo` feature (the embedded \
         simulator): pass --config FILE, or build with the default features"
    )]
    NoDemo,
    #[error("cannot start a background job: {0}")]
    Job(#[from] SupervisorError),
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
        let monitor = Monitor::new(&config.monitor, &channels);
        Ok(Arc::new(Self {
            tokens: Tokens::new(&config),
            credentials: Arc::new(crate::providers::vertex::Credentials::new(&config)),
            routes: Routes::new(&config)?,
            upstream: Upstream::new(&config, monitor.ledger().clone())?,
            overload: Overload::new(&config.overload),
            supervisor: Supervisor::new(monitor.ledger().clone(), supervisor::MAX_JOBS),
            monitor,
            config,
            draining: AtomicBool::new(false),
        }))
    }

    /// Shutdown has begun: health answers `draining` (503) from now on.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
