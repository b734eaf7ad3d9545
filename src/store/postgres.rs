//! The PostgreSQL backend: one bounded pool shared by readers and writers.
//!
//! Owns: connection settings (pool size, acquire timeout, `statement_timeout`,
//! `application_name`) and the dedicated connection migrations run on (its session-level
//! advisory lock dies with it, also when a migration fails).
//! Must never: open connections beyond `store.max_connections`.

use super::StoreResult;
use crate::config::{Secret, StoreConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub(crate) type Db = Postgres;

/// The UTC day (`YYYY-MM-DD`) of a ledger row's `created_at` (Unix milliseconds).
pub(crate) const DAY_SQL: &str =
    "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

// The same SQL text, compiled for this backend's `Db` and `Handle` (see `queries/mod.rs`).
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL text compiled once per backend"
)]
#[path = "queries/mod.rs"]
pub(crate) mod queries;

#[derive(Clone, Debug)]
pub(crate) struct Handle {
    pool: Pool<Postgres>,
    options: PgConnectOptions,
}

pub(crate) fn connect_options(config: &StoreConfig, url: &Secret) -> StoreResult<PgConnectOptions> {
    let statement_timeout = config.call_timeout.as_millis().to_string();
    Ok(PgConnectOptions::from_str(url.expose())?
        .application_name("sluice")
        .options([("statement_timeout", statement_timeout.as_str())]))
}

impl Handle {
    pub(crate) async fn connect(config: &StoreConfig, url: &Secret) -> StoreResult<Self> {
        let options = connect_options(config, url)?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options.clone())
            .await?;
        Ok(Self { pool, options })
    }

    pub(crate) fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    pub(crate) fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// `LISTEN sluice_revision` on a connection of its own, reconnected after a failure (at most
/// once a second); off on SQLite or when `store.cluster.listen` is false.
pub(crate) struct RevisionListener {
    pool: Option<Pool<Postgres>>,
    listener: Option<sqlx::postgres::PgListener>,
    failed_at: Option<tokio::time::Instant>,
}

const RELISTEN_AFTER: Duration = Duration::from_secs(1);

impl RevisionListener {
    pub(crate) fn new(h: &Handle) -> Self {
        Self {
            pool: Some(h.pool.clone()),
            listener: None,
            failed_at: None,
        }
    }

    pub(crate) fn off() -> Self {
        Self {
            pool: None,
            listener: None,
            failed_at: None,
        }
    }

    /// The next notified revision; pending forever when off.
    pub(crate) async fn next(&mut self) -> Option<i64> {
        let Some(pool) = &self.pool else {
            return std::future::pending().await;
        };
        if let Some(at) = self.failed_at {
            tokio::time::sleep_until(at + RELISTEN_AFTER).await;
            self.failed_at = None;
        }
        if self.listener.is_none() {
            let started = async {
                let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
                l.listen("sluice_revision").await?;
                Ok::<_, sqlx::Error>(l)
            };
            match started.await {
                Ok(l) => self.listener = Some(l),
                Err(e) => {
                    tracing::debug!(target: "sluice::store", error = %e, "LISTEN failed; polling the revision meanwhile");
                    self.failed_at = Some(tokio::time::Instant::now());
                    return None;
                }
            }
        }
        let listener = self.listener.as_mut()?;
        match listener.try_recv().await {
            Ok(Some(n)) => n.payload().parse().ok(),
            Ok(None) | Err(_) => {
                // The connection was lost (notifications meanwhile are missed: the poll finds
                // the revision).
                self.listener = None;
                self.failed_at = Some(tokio::time::Instant::now());
                None
            }
        }
    }
}
