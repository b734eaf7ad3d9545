//! The two-instance bench's shared servers: a fresh PostgreSQL database on the server at
//! `DATABASE_URL` (else 127.0.0.1:5432) and a key prefix of its own on the Redis at `REDIS_URL`
//! (else 127.0.0.1:6379).
//!
//! Owns: creating the database and dropping it, counting and deleting the keys under the prefix.
//! Must never: stop, restart or reconfigure either server, touch a database or a key it did not
//! create, or wait on either without a deadline.

use std::time::Duration;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379/0";
/// Deadline of every call to either server.
const CALL: Duration = Duration::from_secs(10);

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {CALL:?}")),
    }
}

/// A database created for this run on the PostgreSQL server; [`Database::drop_it`] removes it.
pub struct Database {
    /// The database's URL, for `store.url`.
    pub url: String,
    admin_url: String,
    name: String,
}

impl Database {
    /// `CREATE DATABASE` of a fresh name on the server of `DATABASE_URL` (or the default).
    pub async fn create() -> Result<Self, String> {
        let admin_url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_PG.to_owned());
        let name = format!(
            "sluice_bench_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        admin(&admin_url, &format!("CREATE DATABASE \"{name}\""))
            .await
            .map_err(|e| format!("PostgreSQL ({}): {e}; set DATABASE_URL", hint(&admin_url)))?;
        Ok(Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `DROP DATABASE … WITH (FORCE)` (the relays are stopped by then; FORCE covers a straggler).
    pub async fn drop_it(self) -> Result<(), String> {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        admin(&self.admin_url, &sql).await
    }
}

async fn admin(url: &str, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let mut conn = bounded("connect", sqlx::PgConnection::connect(url)).await?;
    let done = bounded(
        sql,
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn),
    )
    .await;
    let _ = tokio::time::timeout(CALL, conn.close()).await;
    done.map(|_| ())
}

/// `url` with its database name replaced (user, password, host and options kept).
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = main.split('/').next().unwrap_or(main);
    format!("{scheme}://{authority}/{db}{query}")
}

/// A URL without its user and password, for messages.
fn hint(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{host}")
}

/// The Redis server and the key prefix of this run.
pub struct Redis {
    /// For `store.redis_url`.
    pub url: String,
    /// For `store.cluster.redis_prefix`.
    pub prefix: String,
    conn: redis::aio::MultiplexedConnection,
}

impl Redis {
    /// Connects to `REDIS_URL` (or the default) and picks a prefix no other run uses.
    pub async fn connect() -> Result<Self, String> {
        let url = std::env::var("REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_REDIS.to_owned());
        let client = redis::Client::open(url.as_str())
            .map_err(|e| format!("Redis ({}): {e}; set REDIS_URL", hint(&url)))?;
        let mut conn = bounded(
            &format!("Redis ({}); set REDIS_URL", hint(&url)),
            client.get_multiplexed_async_connection(),
        )
        .await?;
        let pong: String = bounded("Redis PING", redis::cmd("PING").query_async(&mut conn)).await?;
        if pong != "PONG" {
            return Err(format!("Redis PING answered {pong:?}"));
        }
        let prefix = format!(
            "sluice-bench-{}-{:08x}:",
            std::process::id(),
            rand::random::<u32>()
        );
        Ok(Self { url, prefix, conn })
    }

    /// The keys under the prefix (SCAN, at most `limit` of them).
    pub async fn keys(&mut self, limit: usize) -> Result<Vec<String>, String> {
        let pattern = format!("{}*", self.prefix);
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        // Bounded: each SCAN has a deadline, and the walk stops at `limit` keys or 10,000 calls.
        for _ in 0..10_000 {
            let (next, batch): (u64, Vec<String>) = bounded(
                "Redis SCAN",
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut self.conn),
            )
            .await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= limit {
                break;
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }

    /// Deletes every key under the prefix; returns how many.
    pub async fn clear(&mut self) -> Result<usize, String> {
        let mut deleted = 0;
        for _ in 0..1000 {
            let keys = self.keys(1000).await?;
            if keys.is_empty() {
                break;
            }
            let n: usize = bounded(
                "Redis DEL",
                redis::cmd("DEL").arg(&keys).query_async(&mut self.conn),
            )
            .await?;
            deleted += n;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_credentials_are_hidden() {
        assert_eq!(
            with_database("postgres://u:p@h:5433/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5433/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            hint("redis://:secret@10.0.0.1:6379/0"),
            "redis://10.0.0.1:6379/0"
        );
        assert_eq!(hint("postgres://u:p@h/db"), "postgres://h/db");
    }
}
