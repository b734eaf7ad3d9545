//! The connection to Redis: one multiplexed connection, whether it is usable now, and getting
//! it back after a loss.
//!
//! Owns: the connection (replaced, never shared past a call), the link's state (`off`, `down`,
//! `up`) and its counters, every call's deadline, and the reconnect loop (a supervised job).
//! Must never: make a caller wait longer than the deadline it gives, connect from the request
//! path (a request only ever uses a connection that is already up), or log the URL's password.

use crate::config::Secret;
use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a Redis call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("redis is down")]
    Down,
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

pub struct RedisLink {
    client: redis::Client,
    url_hint: String,
    conn: ArcSwapOption<MultiplexedConnection>,
    up: AtomicBool,
    timeout: Duration,
    retry: Duration,
    errors: AtomicU64,
    reconnects: AtomicU64,
}

impl RedisLink {
    pub fn new(url: &Secret, timeout: Duration, retry: Duration) -> Result<Self, LinkError> {
        let client = redis::Client::open(url.expose())?;
        Ok(Self {
            client,
            url_hint: url.hint(),
            conn: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            timeout,
            retry,
            errors: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        })
    }

    /// The background calls' deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Calls that failed or timed out so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    /// Times the link came (back) up.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Relaxed)
    }

    /// Runs `call` on the connection within `wait`. A Redis error marks the link down (the
    /// reconnect loop takes over); a timeout does only when `wait` is the background deadline
    /// (a request's short wait may just be unlucky).
    pub async fn call<T, F, Fut>(&self, wait: Duration, call: F) -> Result<T, LinkError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.is_up() {
            return Err(LinkError::Down);
        }
        let Some(conn) = self.conn.load_full() else {
            return Err(LinkError::Down);
        };
        match tokio::time::timeout(wait, call((*conn).clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.errors.fetch_add(1, Relaxed);
                self.lost(&e.to_string());
                Err(LinkError::Redis(e))
            }
            Err(_) => {
                self.errors.fetch_add(1, Relaxed);
                if wait >= self.timeout {
                    self.lost("no answer within the deadline");
                }
                Err(LinkError::Timeout(wait))
            }
        }
    }

    /// A call with the background deadline.
    pub async fn background<T, F, Fut>(&self, call: F) -> Result<T, LinkError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.call(self.timeout, call).await
    }

    fn lost(&self, why: &str) {
        if self.up.swap(false, Relaxed) {
            tracing::warn!(target: "sluice::cluster", redis = %self.url_hint, reason = why, "redis lost: limits fall back to this instance's share");
        }
        self.conn.store(None);
    }

    async fn connect(&self) -> Result<MultiplexedConnection, LinkError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let attempt = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(self.timeout.saturating_mul(2), attempt).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(LinkError::Timeout(self.timeout.saturating_mul(2))),
        }
    }

    /// Keeps the link up until `cancel`: connects, runs `on_up` (reseeding what Redis may have
    /// lost) before the link is used, pings every `retry` while up, and tries again every
    /// `retry` while down. A background job.
    pub async fn run<F, Fut>(self: Arc<Self>, on_up: F, cancel: CancellationToken)
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<(), LinkError>>,
    {
        let mut first = true;
        loop {
            if self.is_up() {
                let ping = self
                    .background(|mut c| async move {
                        redis::cmd("PING").query_async::<()>(&mut c).await
                    })
                    .await;
                if let Err(e) = ping {
                    tracing::debug!(target: "sluice::cluster", error = %e, "redis ping failed");
                }
            } else {
                match self.connect().await {
                    Ok(conn) => match on_up(conn.clone()).await {
                        Ok(()) => {
                            self.conn.store(Some(Arc::new(conn)));
                            self.up.store(true, Relaxed);
                            self.reconnects.fetch_add(1, Relaxed);
                            tracing::info!(target: "sluice::cluster", redis = %self.url_hint, "redis up: limits and quota totals shared");
                        }
                        Err(e) => {
                            self.errors.fetch_add(1, Relaxed);
                            tracing::warn!(target: "sluice::cluster", error = %e, "redis reseed failed; trying again");
                        }
                    },
                    Err(e) => {
                        if first {
                            tracing::warn!(target: "sluice::cluster", redis = %self.url_hint, error = %e, "redis unreachable; limits use this instance's share until it is");
                        }
                        self.errors.fetch_add(1, Relaxed);
                    }
                }
                first = false;
            }
            tokio::select! {
                () = cancel.cancelled() => {
                    self.up.store(false, Relaxed);
                    self.conn.store(None);
                    return;
                }
                () = tokio::time::sleep(self.retry) => {}
            }
        }
    }
}
