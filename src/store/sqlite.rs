//! The SQLite backend: one file under the data directory, WAL, one writer connection.
//!
//! Owns: connection settings (WAL, `foreign_keys`, busy timeout, `synchronous=NORMAL`), the
//! single writer connection (writes begin with `BEGIN IMMEDIATE`, so two writers never
//! deadlock on a lock upgrade) and a small read pool.
//! Must never: write through the read pool (its connections are `query_only`).

use super::{StoreError, StoreResult};
use crate::config::StoreConfig;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};
use std::path::Path;

pub(crate) type Db = Sqlite;

/// The UTC day (`YYYY-MM-DD`) of a ledger row's `created_at` (Unix milliseconds).
pub(crate) const DAY_SQL: &str = "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')";

// The same SQL text, compiled for this backend's `Db` and `Handle` (see `queries/mod.rs`).
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL text compiled once per backend"
)]
#[path = "queries/mod.rs"]
pub(crate) mod queries;

#[derive(Clone, Debug)]
pub(crate) struct Handle {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
}

impl Handle {
    pub(crate) async fn connect(config: &StoreConfig, path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(config.read_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.pragma("query_only", "ON"))
            .await?;
        Ok(Self { writer, reader })
    }

    pub(crate) fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    pub(crate) fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    /// A write transaction that takes the write lock up front.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
