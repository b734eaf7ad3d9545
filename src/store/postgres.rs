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
