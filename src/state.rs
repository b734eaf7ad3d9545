//! The relay's shared state: built once at start, read by every request.
//!
//! Owns: config, token table, channels, the upstream client, the overload counters, the
//! supervisor of background jobs, the store when one is configured (`metered`) and with it the
//! video task poller (its job started here, `task_poller`, critical), and whether the relay is
//! draining (shutdown has begun).
//! Must never: hold per-request data.

mod metered;

pub use metered::Metered;

use crate::auth::Tokens;
use crate::config::{Config, ConfigError};
use crate::limits::PriceTable;
use crate::monitor::Monitor;
use crate::overload::Overload;
use crate::routing::Routes;
use crate::supervisor::{self, Supervisor, SupervisorError};
use crate::tasks::poller::{self, Poller, PollerParts};
use crate::upstream::Upstream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    /// The config file's `[[tokens]]` (the request path's tokens when no store is configured).
    pub tokens: Tokens,
    /// The store, its limits and its usage sink: `Some` when `[store]` is configured (or in
    /// demo mode); then it authenticates every request.
    pub metered: Option<Metered>,
    pub routes: Arc<Routes>,
    pub upstream: Upstream,
    pub monitor: Arc<Monitor>,
    pub overload: Overload,
    /// Every background job of this relay runs here; `serve` shuts it down after the drain.
    pub supervisor: Supervisor,
    /// The access tokens of the Vertex AI keys (refreshed by a supervised job).
    pub credentials: Arc<crate::providers::vertex::Credentials>,
    /// Signed callback URLs of video tasks (the key lives as long as the relay).
    pub callbacks: crate::tasks::callback::Callbacks,
    /// The video task poller (`Some` with a store): its job runs on the supervisor; the video
    /// front asks it for on-demand refreshes and hands it callback reports.
    pub poller: Option<Arc<Poller>>,
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
    #[error("the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("invalid price table: {0}")]
    Prices(#[from] globset::Error),
    #[error("[store] is configured: build the relay's state with AppState::open")]
    StoreNeedsOpen,
    #[error("store.redis_url: {0}")]
    Cluster(String),
}

impl AppState {
    /// The state of a relay without a store (`[store]` unset); with one, use [`AppState::open`].
    pub fn new(config: Config) -> Result<Arc<Self>, StartError> {
        if config.store.is_some() {
            return Err(StartError::StoreNeedsOpen);
        }
        config.validate()?;
        Ok(Arc::new(Self::build(config, None)?))
    }

    /// The state of any relay: with `[store]` set, the store is opened (and migrated), the
    /// config file's tokens synced to it, its channels merged with the file's, and its jobs
    /// started on the state's supervisor.
    pub async fn open(mut config: Config) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let Some((metered, writer)) = Metered::open(&mut config).await? else {
            return Ok(Arc::new(Self::build(config, None)?));
        };
        let state = Self::build(config, Some(metered))?;
        if let Some(m) = &state.metered {
            m.start_jobs(
                &state.config,
                writer,
                state.routes.clone(),
                &state.supervisor,
            )?;
        }
        if let Some(poller) = &state.poller {
            let poller = poller.clone();
            state
                .supervisor
                .spawn_critical(poller::JOB, move |cancel| poller.clone().run(cancel))?;
        }
        Ok(Arc::new(state))
    }

    fn build(config: Config, metered: Option<Metered>) -> Result<Self, StartError> {
        let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
        let monitor = Monitor::new(&config.monitor, &channels);
        let credentials = Arc::new(crate::providers::vertex::Credentials::new(&config));
        let routes = Arc::new(Routes::new(&config)?);
        let upstream = Upstream::new(&config, monitor.ledger().clone())?;
        let poller = match &metered {
            Some(m) => Some(Arc::new(Poller::new(PollerParts {
                store: m.store.clone(),
                routes: routes.clone(),
                upstream: upstream.clone(),
                credentials: credentials.clone(),
                sink: m.sink.clone(),
                prices: Arc::new(PriceTable::new(&config.prices)?),
                config: config.video.clone(),
                gauges: monitor.video().clone(),
            }))),
            None => None,
        };
        Ok(Self {
            tokens: Tokens::new(&config),
            credentials,
            callbacks: crate::tasks::callback::Callbacks::new(&config.video),
            metered,
            routes,
            upstream,
            poller,
            overload: Overload::new(&config.overload),
            supervisor: Supervisor::new(monitor.ledger().clone(), supervisor::MAX_JOBS),
            monitor,
            config,
            draining: AtomicBool::new(false),
        })
    }

    /// The usage sink, when a store is configured.
    pub fn sink(&self) -> Option<&crate::store::UsageSink> {
        self.metered.as_ref().map(|m| &m.sink)
    }

    /// Shutdown has begun: health answers `draining` (503) from now on.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_relay_with_a_store_runs_the_task_poller_and_one_without_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::parse("[[tokens]]\nkey = \"sk-client-0123456789\"\n").unwrap();
        config.store = Some(crate::config::StoreConfig::in_dir(dir.path()));
        let state = AppState::open(config).await.unwrap();
        assert!(state.poller.is_some());
        let job = state
            .supervisor
            .jobs()
            .into_iter()
            .find(|j| j.name == poller::JOB)
            .expect("the poller's job");
        assert!(job.critical);
        state
            .supervisor
            .shutdown(std::time::Duration::from_secs(5))
            .await;
        let file = Config::parse("[[tokens]]\nkey = \"sk-client-0123456789\"\n").unwrap();
        let bare = AppState::new(file).unwrap();
        assert!(bare.poller.is_none());
        assert!(bare.supervisor.jobs().iter().all(|j| j.name != poller::JOB));
    }
}
