//! The access tokens of every Vertex AI key in the config, and the one supervised job that
//! keeps them fresh.
//!
//! Owns: one `Credential` per service-account key of the `vertex` channels (a key used by two
//! channels shares its token), the token a request needs ([`Credentials::access`]: the cached
//! one; only a key's very first token, or one the refresher could not renew in time, is
//! exchanged on the request path, under the request's deadline), and the refresher
//! ([`refresh`]): one job for all Vertex keys (the supervisor's one-job-per-credential-kind
//! bound; its work never depends on request count), which exchanges each token when it is due
//! (three quarters into its life; after a failure, `RETRY_AFTER_FAILURE` later) and sleeps
//! until the next is due or it is cancelled.
//! Must never: exchange per request when a valid token is cached, or keep running after its
//! cancellation.

use super::token::{Credential, RETRY_AFTER_FAILURE};
use crate::config::{Config, ProviderKind, Secret};
use crate::upstream::{Upstream, UpstreamError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The refresher's name in the supervisor's jobs list.
pub const REFRESHER: &str = "vertex-token-refresher";

/// Longest the refresher sleeps, and its deadline for one exchange.
const MAX_NAP: Duration = Duration::from_secs(60);
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(30);
/// Shortest nap, so a token endpoint that keeps failing is not called in a loop.
const MIN_NAP: Duration = Duration::from_millis(50);

/// Every Vertex key's token.
#[derive(Default)]
pub struct Credentials {
    by_key: HashMap<Secret, Arc<Credential>>,
}

impl Credentials {
    /// The credentials of the config's `vertex` channels.
    pub fn new(config: &Config) -> Self {
        let by_key = config
            .channels
            .iter()
            .filter(|c| c.provider == ProviderKind::Vertex)
            .flat_map(|c| c.keys.iter())
            .map(|k| (k.clone(), Arc::new(Credential::new(k))))
            .collect();
        Self { by_key }
    }

    /// Whether there is anything to refresh.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The access token a request on a channel of `kind` with `key` sends (`None` for
    /// providers without one), within `deadline`.
    pub async fn access(
        &self,
        kind: ProviderKind,
        key: &Secret,
        upstream: &Upstream,
        deadline: Instant,
    ) -> Result<Option<Arc<str>>, UpstreamError> {
        match kind {
            ProviderKind::Vertex => {}
            ProviderKind::Openai
            | ProviderKind::Anthropic
            | ProviderKind::Xai
            | ProviderKind::OpenaiCompatible
            | ProviderKind::Gemini
            | ProviderKind::Kling
            | ProviderKind::Runway
            | ProviderKind::Luma
            | ProviderKind::Zhipu
            | ProviderKind::Dashscope
            | ProviderKind::Viggle => return Ok(None),
        }
        match self.by_key.get(key) {
            Some(c) => c.get(upstream, deadline).await.map(Some),
            // A key the config did not give (none today): sent without a token, refused upstream.
            None => Ok(None),
        }
    }
}

/// The refresher: exchanges each token when due, until cancelled.
pub async fn refresh(credentials: Arc<Credentials>, upstream: Upstream, cancel: CancellationToken) {
    loop {
        let mut next = Instant::now() + MAX_NAP;
        for c in credentials.by_key.values() {
            let now = Instant::now();
            if c.due_at(now) <= now {
                let exchanged = tokio::select! {
                    () = cancel.cancelled() => return,
                    r = c.refresh(&upstream, now + EXCHANGE_DEADLINE) => r,
                };
                if let Err(e) = exchanged {
                    tracing::warn!(error = %e, retry_in = ?RETRY_AFTER_FAILURE,
                        "a Vertex AI access token could not be refreshed");
                }
            }
            next = next.min(c.due_at(Instant::now()));
        }
        let nap = next.max(Instant::now() + MIN_NAP);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(nap) => {}
        }
    }
}
