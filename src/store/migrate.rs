//! Schema migrations: embedded, forward-only, run by every instance at start.
//!
//! Owns: the two migration sets (`migrations/sqlite`, `migrations/postgres`), running them
//! (PostgreSQL: on a dedicated connection, under sqlx's `pg_advisory_lock`, so instances
//! starting together migrate once; the lock dies with the connection even if a migration
//! fails), refusing a schema newer than this binary, and the `--check` report.
//! Must never: change the schema from `check`, or run with a migration it does not know.

use super::{postgres, sqlite, StoreError, StoreResult};
use crate::config::{StoreBackend, StoreConfig};
use serde::Serialize;
use sqlx::migrate::{AppliedMigration, Migrate, MigrateError, Migrator};
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::time::Duration;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The newest migration this binary knows (the same for both backends).
pub const SCHEMA_VERSION: i64 = 20261202000002;

const TABLE: &str = "_sqlx_migrations";

fn newer(e: MigrateError) -> StoreError {
    match e {
        MigrateError::VersionMissing(v) => StoreError::SchemaNewer(v),
        other => StoreError::Migrate(other),
    }
}

async fn within<T>(limit: Duration, f: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or(Err(StoreError::Timeout(limit)))
}

pub(super) async fn run_sqlite(h: &sqlite::Handle, limit: Duration) -> StoreResult<()> {
    within(limit, async { SQLITE.run(h.writer()).await.map_err(newer) }).await
}

pub(super) async fn run_postgres(h: &postgres::Handle, limit: Duration) -> StoreResult<()> {
    within(limit, async {
        let mut conn = PgConnection::connect_with(h.options()).await?;
        let result = POSTGRES.run(&mut conn).await.map_err(newer);
        let _ = conn.close().await;
        result
    })
    .await
}

/// What `sluice migrate --check` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    pub backend: &'static str,
    pub applied: Vec<i64>,
    /// Known here, not yet applied (a start runs them).
    pub pending: Vec<i64>,
    /// Applied by a newer sluice: this one refuses to start.
    pub unknown: Vec<i64>,
    /// Applied with a different text than this binary's (edited after release).
    pub changed: Vec<i64>,
}

impl MigrationReport {
    pub fn up_to_date(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.changed.is_empty()
    }

    fn from(backend: &'static str, known: &Migrator, applied: Vec<AppliedMigration>) -> Self {
        let mut r = Self {
            backend,
            ..Self::default()
        };
        for a in &applied {
            r.applied.push(a.version);
            match known.iter().find(|m| m.version == a.version) {
                None => r.unknown.push(a.version),
                Some(m) if m.checksum != a.checksum => r.changed.push(a.version),
                Some(_) => {}
            }
        }
        for m in known.iter() {
            if !applied.iter().any(|a| a.version == m.version) {
                r.pending.push(m.version);
            }
        }
        r
    }
}

pub(super) async fn check(config: &StoreConfig) -> StoreResult<MigrationReport> {
    within(config.migrate_timeout, async {
        match config.backend()? {
            StoreBackend::Sqlite(path) => {
                let h = sqlite::Handle::connect(config, &path).await?;
                let mut conn = h.reader().acquire().await?;
                let exists: Option<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
                )
                .bind(TABLE)
                .fetch_optional(&mut *conn)
                .await?;
                let applied = match exists {
                    Some(_) => conn.list_applied_migrations(TABLE).await?,
                    None => Vec::new(),
                };
                drop(conn);
                h.close().await;
                Ok(MigrationReport::from("sqlite", &SQLITE, applied))
            }
            StoreBackend::Postgres(url) => {
                let options = postgres::connect_options(config, &url)?;
                let mut conn = PgConnection::connect_with(&options).await?;
                let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                    .bind(TABLE)
                    .fetch_one(&mut conn)
                    .await?;
                let applied = match exists {
                    Some(_) => conn.list_applied_migrations(TABLE).await?,
                    None => Vec::new(),
                };
                let _ = conn.close().await;
                Ok(MigrationReport::from("postgres", &POSTGRES, applied))
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_know_the_same_versions() {
        let s: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        let p: Vec<i64> = POSTGRES.iter().map(|m| m.version).collect();
        assert_eq!(s, p);
        assert_eq!(s.last(), Some(&SCHEMA_VERSION));
    }

    #[test]
    fn the_report_names_pending_unknown_and_changed() {
        let known = &SQLITE;
        let first = known.iter().next().unwrap();
        let applied = vec![
            AppliedMigration {
                version: first.version,
                checksum: vec![0u8; 4].into(),
            },
            AppliedMigration {
                version: 99990101000000,
                checksum: Vec::new().into(),
            },
        ];
        let r = MigrationReport::from("sqlite", known, applied);
        assert_eq!(r.changed, [first.version]);
        assert_eq!(r.unknown, [99990101000000]);
        assert!(!r.up_to_date());
        let fresh = MigrationReport::from("sqlite", known, Vec::new());
        assert_eq!(fresh.pending.len(), known.iter().count());
    }
}
