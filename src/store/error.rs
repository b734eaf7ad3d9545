//! The store's errors, by cause, so callers can map them (admin API: 400/404/409/503).
//!
//! Owns: `StoreError` and the conversion of database errors into it.
//! Must never: carry a secret (database URLs, channel keys, token keys) in a message.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database schema has migration {0}, which this sluice does not know: \
         it was migrated by a newer version; run that version (or newer)"
    )]
    SchemaNewer(i64),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "channel keys are stored encrypted: set SLUICE_SECRET_KEY to 64 hex characters \
         (32 random bytes, e.g. `openssl rand -hex 32`)"
    )]
    NoSecretKey,
    #[error("{0}")]
    Crypto(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(format!("already exists ({})", db.message()));
            }
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Whether the database (not the request) failed: worth a retry later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::Timeout(_))
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
