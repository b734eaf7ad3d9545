//! Real databases for the store's tests: a SQLite file in a temporary directory, a PostgreSQL
//! database of its own per test, and a TCP proxy that can cut the database away.
//!
//! Owns: finding a PostgreSQL server (`DATABASE_URL`, else 127.0.0.1:5432 when it answers,
//! else a throwaway server from `initdb`/`pg_ctl` when they exist, else a skip with the
//! reason; under `CI=true` a missing server fails the test), one uniquely named database per
//! [`TestPg`] dropped on drop, and the store configs tests use (short deadlines).
//! Must never: talk to anything but loopback, or leave a database or server behind.

mod pg;
mod proxy;

pub use pg::TestPg;
pub use proxy::TcpProxy;

use sluice::config::{Secret, StoreConfig};
use sluice::store::{SecretBox, Store};
use std::time::Duration;

/// The channel-key secret of every test store.
pub const TEST_SECRET_HEX: &str =
    "5c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9eaf0";

pub fn test_secret() -> SecretBox {
    SecretBox::from_hex(TEST_SECRET_HEX).expect("test secret")
}

/// Store settings with deadlines short enough for outage tests.
pub fn quick(mut c: StoreConfig) -> StoreConfig {
    c.acquire_timeout = Duration::from_millis(800);
    c.call_timeout = Duration::from_secs(3);
    c.busy_timeout = Duration::from_millis(200);
    c.usage.batch_interval = Duration::from_millis(20);
    c.usage.retry_min = Duration::from_millis(20);
    c.usage.retry_max = Duration::from_millis(200);
    c.usage.spool_fsync_interval = Duration::from_millis(100);
    c.usage.shutdown_flush = Duration::from_secs(3);
    c
}

/// A SQLite store in its own temporary directory (a real file: WAL and locks are exercised).
pub struct TestSqlite {
    pub dir: tempfile::TempDir,
}

impl TestSqlite {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn config(&self) -> StoreConfig {
        quick(StoreConfig::in_dir(self.dir.path()))
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("sluice.db")
    }

    pub async fn store(&self) -> Store {
        Store::open_with(&self.config(), Some(test_secret()))
            .await
            .expect("sqlite store")
    }

    /// Takes SQLite's write lock from a connection of its own and holds it while the returned
    /// connection lives: the store's writes fail (busy) until it is dropped.
    pub async fn lock_writes(&self) -> sqlx::SqliteConnection {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.db_path().display());
        let mut c = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("sqlite connection");
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut c)
            .await
            .expect("write lock");
        c
    }
}

impl Default for TestSqlite {
    fn default() -> Self {
        Self::new()
    }
}

/// A PostgreSQL store config for `url`, with its spool in `dir`.
pub fn pg_config(url: &str, dir: &std::path::Path) -> StoreConfig {
    let mut c = quick(StoreConfig::in_dir(dir));
    c.url = Some(Secret::new(url));
    c.max_connections = 4;
    c
}
