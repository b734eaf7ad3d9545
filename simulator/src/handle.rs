//! The handle to a running simulator: its address, stats, and shutdown.
//! Owns the server task; dropping it stops the server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::state::Shared;
use crate::{Mix, Provider, Scenario, Stats};

/// A running simulator. Dropping it stops the server too (without waiting).
pub struct SimHandle {
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    pub(crate) cancel: CancellationToken,
    pub(crate) server: JoinSet<()>,
    pub(crate) _stop_on_drop: DropGuard,
}

impl SimHandle {
    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL in the convention of the provider's own SDK:
    /// `http://ADDR/openai/v1`, `http://ADDR/anthropic`, `http://ADDR/xai/v1`; for Google
    /// (whose SDK adds the API version itself) `http://ADDR/gemini` and `http://ADDR/vertex`;
    /// for the Google OAuth token endpoint its whole URL (a service account's `token_uri`),
    /// `http://ADDR/google-oauth/token`; for the video-only providers the host root under their
    /// prefix (`http://ADDR/kling`), to which their documented paths are appended.
    pub fn base_url(&self, provider: Provider) -> String {
        let (addr, prefix) = (self.addr, provider.path_prefix());
        match provider {
            Provider::OpenAi | Provider::Xai => format!("http://{addr}{prefix}/v1"),
            Provider::Anthropic
            | Provider::Gemini
            | Provider::Vertex
            | Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => format!("http://{addr}{prefix}"),
            Provider::GoogleOAuth => format!("http://{addr}{prefix}/token"),
        }
    }

    /// The Google OAuth token endpoint (`token_uri`) that mints Vertex AI access tokens.
    pub fn google_token_url(&self) -> String {
        self.base_url(Provider::GoogleOAuth)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// The queue and run times the simulator chose for the video task with upstream id `id`
    /// (seeded: same seed and creation order, same timings), if it holds that task.
    pub fn video_timings(&self, id: &str) -> Option<(std::time::Duration, std::time::Duration)> {
        self.shared.video.book.timings(id)
    }

    /// Zeroes the totals; `connections_open` (a live gauge) is kept.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Installs (`Some`) or removes (`None`) a scenario; its rule counters start afresh.
    pub fn set_scenario(&self, scenario: Option<Scenario>) {
        self.shared.faults.set_scenario(scenario);
    }

    /// Installs (`Some`) or removes (`None`) the fault mix; its RNG restarts from the seed.
    pub fn set_mix(&self, mix: Option<Mix>) {
        self.shared.faults.set_mix(mix);
    }

    /// Stops accepting, closes every connection and joins every task.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        while self.server.join_next().await.is_some() {}
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}
