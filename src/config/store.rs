//! The `[store]` section: where tokens, channels and usage live, and the bounds of the usage
//! write path (queue, batches, spool).
//!
//! Owns: the store's settings and their defaults; which backend a URL names.
//! Must never: allow an unbounded queue, spool, pool or wait (zero is rejected where it would
//! mean "none").

use super::{ClusterConfig, ConfigError, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…` / `postgresql://…`. Unset: SQLite at
    /// `data_dir/sluice.db`. May be `"${VAR}"` (a PostgreSQL URL carries a password).
    pub url: Option<Secret>,
    /// `redis://HOST:PORT/DB` (or `rediss://`, `redis+unix://`): with it, several instances on
    /// one PostgreSQL store share their rate limits and quota totals through Redis. May be
    /// `"${VAR}"`.
    pub redis_url: Option<Secret>,
    /// Directory for the SQLite file and the usage spool (`data_dir/spool/`).
    pub data_dir: PathBuf,
    /// PostgreSQL: most connections in the pool.
    pub max_connections: u32,
    /// SQLite: read connections beside the one writer connection.
    pub read_connections: u32,
    /// Longest wait for a pooled connection.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// Deadline of every store call (and PostgreSQL's `statement_timeout`).
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// SQLite: how long a writer waits on a lock before the write fails.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// Deadline for running migrations at start (includes waiting for another instance's
    /// migration lock on PostgreSQL).
    #[serde(with = "humantime_serde")]
    pub migrate_timeout: Duration,
    /// How often each instance looks for admin changes made elsewhere (`store_meta.revision`).
    #[serde(with = "humantime_serde")]
    pub revision_poll: Duration,
    /// How often quota totals are re-read for metered tokens (usage written by other instances).
    #[serde(with = "humantime_serde")]
    pub totals_refresh: Duration,
    pub usage: UsageConfig,
    /// How this instance shares limits and quotas with the others.
    pub cluster: ClusterConfig,
}

/// The usage write path: a bounded queue, batched writes, a bounded on-disk spool.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Records held in memory between the request path and the writer.
    pub queue_capacity: usize,
    /// Most records in one write transaction.
    pub batch_rows: usize,
    /// Longest a record waits for its batch to fill.
    #[serde(with = "humantime_serde")]
    pub batch_interval: Duration,
    /// Largest INSERT statement (bytes of row data); a batch is split into several statements
    /// in the same transaction beyond it.
    pub max_statement_bytes: usize,
    /// Most bytes of all spool segments together.
    pub spool_max_bytes: u64,
    /// A spool segment is sealed (and fsynced) at this size.
    pub spool_segment_bytes: u64,
    /// The open segment is fsynced this often while records arrive.
    #[serde(with = "humantime_serde")]
    pub spool_fsync_interval: Duration,
    /// What metered tokens get while the spool is full: `reject` (503, no unrecorded spend) or
    /// `accept` (serve; records beyond the spool's bound are counted as dropped).
    pub on_spool_full: OnSpoolFull,
    /// First retry delay after a failed write; doubles up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// At shutdown: how long queued records may take to reach the database before the rest go
    /// to the spool.
    #[serde(with = "humantime_serde")]
    pub shutdown_flush: Duration,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnSpoolFull {
    Reject,
    Accept,
}

/// Which database a store URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    Sqlite(PathBuf),
    Postgres(Secret),
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            redis_url: None,
            data_dir: PathBuf::from("sluice-data"),
            max_connections: 10,
            read_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            migrate_timeout: Duration::from_secs(60),
            revision_poll: Duration::from_secs(1),
            totals_refresh: Duration::from_secs(5),
            usage: UsageConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 16 * 1024,
            batch_rows: 500,
            batch_interval: Duration::from_millis(200),
            max_statement_bytes: 1024 * 1024,
            spool_max_bytes: 1024 * 1024 * 1024,
            spool_segment_bytes: 16 * 1024 * 1024,
            spool_fsync_interval: Duration::from_secs(1),
            on_spool_full: OnSpoolFull::Reject,
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            shutdown_flush: Duration::from_secs(5),
        }
    }
}

impl StoreConfig {
    /// A store whose SQLite file and spool live in `dir` (demo mode, tests).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: dir.into(),
            ..Self::default()
        }
    }

    /// The backend named by `url`, or the default SQLite file under `data_dir`.
    pub fn backend(&self) -> Result<StoreBackend, ConfigError> {
        let Some(url) = &self.url else {
            return Ok(StoreBackend::Sqlite(self.data_dir.join("sluice.db")));
        };
        let raw = url.expose();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(StoreBackend::Postgres(url.clone()));
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(ConfigError::Invalid(
                    "store.url `sqlite://` needs a file path (sqlite://PATH)".to_owned(),
                ));
            }
            return Ok(StoreBackend::Sqlite(Path::new(path).to_owned()));
        }
        Err(ConfigError::Invalid(format!(
            "store.url must start with sqlite:// or postgres:// (got `{}`)",
            url.hint()
        )))
    }

    /// Where the usage spool's segments are kept.
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.backend()?;
        self.cluster.validate()?;
        if let Some(url) = &self.redis_url {
            let raw = url.expose();
            if !["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|s| raw.starts_with(s))
            {
                return Err(ConfigError::Invalid(format!(
                    "store.redis_url must start with redis://, rediss:// or redis+unix:// (got `{}`)",
                    url.hint()
                )));
            }
        }
        let u = &self.usage;
        let positive = [
            ("store.max_connections", self.max_connections as u64),
            ("store.read_connections", self.read_connections as u64),
            ("store.usage.queue_capacity", u.queue_capacity as u64),
            ("store.usage.batch_rows", u.batch_rows as u64),
            (
                "store.usage.max_statement_bytes",
                u.max_statement_bytes as u64,
            ),
            ("store.usage.spool_max_bytes", u.spool_max_bytes),
            ("store.usage.spool_segment_bytes", u.spool_segment_bytes),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be above 0")));
            }
        }
        let durations = [
            ("store.acquire_timeout", self.acquire_timeout),
            ("store.call_timeout", self.call_timeout),
            ("store.busy_timeout", self.busy_timeout),
            ("store.migrate_timeout", self.migrate_timeout),
            ("store.revision_poll", self.revision_poll),
            ("store.totals_refresh", self.totals_refresh),
            ("store.usage.batch_interval", u.batch_interval),
            ("store.usage.spool_fsync_interval", u.spool_fsync_interval),
            ("store.usage.retry_min", u.retry_min),
            ("store.usage.shutdown_flush", u.shutdown_flush),
        ];
        for (key, value) in durations {
            if value.is_zero() {
                return Err(ConfigError::Invalid(format!("{key} must be above 0")));
            }
        }
        if u.retry_max < u.retry_min {
            return Err(ConfigError::Invalid(
                "store.usage.retry_max must be at least store.usage.retry_min".to_owned(),
            ));
        }
        if u.spool_segment_bytes > u.spool_max_bytes {
            return Err(ConfigError::Invalid(
                "store.usage.spool_segment_bytes must not exceed store.usage.spool_max_bytes"
                    .to_owned(),
            ));
        }
        if u.batch_rows > 5000 {
            return Err(ConfigError::Invalid(
                "store.usage.batch_rows must be at most 5000 (bind-parameter limits)".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> StoreConfig {
        StoreConfig {
            url: Some(Secret::new(url)),
            ..StoreConfig::default()
        }
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            StoreConfig::in_dir("/d").backend().unwrap(),
            StoreBackend::Sqlite(PathBuf::from("/d/sluice.db"))
        );
        assert_eq!(
            with_url("sqlite:///var/lib/s.db?mode=rwc")
                .backend()
                .unwrap(),
            StoreBackend::Sqlite(PathBuf::from("/var/lib/s.db"))
        );
        assert!(matches!(
            with_url("postgresql://u:pw@db/sluice").backend().unwrap(),
            StoreBackend::Postgres(_)
        ));
        let err = with_url("mysql://u:secretpassword@db/x")
            .backend()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sqlite://") && !err.contains("secretpassword"),
            "{err}"
        );
        assert!(with_url("sqlite://").backend().is_err());
    }

    #[test]
    fn zero_bounds_are_rejected() {
        let mut c = StoreConfig::default();
        assert!(c.validate().is_ok());
        c.usage.spool_max_bytes = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("spool_max_bytes"));
        let mut c = StoreConfig::default();
        c.usage.spool_segment_bytes = c.usage.spool_max_bytes + 1;
        assert!(c.validate().is_err());
        let c = StoreConfig {
            call_timeout: Duration::ZERO,
            ..StoreConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
