//! A PostgreSQL database per test, on the machine's server or a throwaway one.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One database of its own on a PostgreSQL server; dropped (with its server, if this test
/// started one) on drop.
pub struct TestPg {
    /// The test database's URL.
    pub url: String,
    /// The server's address (for a [`super::TcpProxy`] in front of it).
    pub addr: SocketAddr,
    admin_url: String,
    name: String,
    server: Option<Throwaway>,
    /// Holds the spool and data dir of stores opened on this database.
    pub dir: tempfile::TempDir,
}

fn skip_or_fail(reason: &str) -> Option<TestPg> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL is required under CI=true: {reason}");
    }
    eprintln!("skipped: no PostgreSQL ({reason}); set DATABASE_URL or install initdb/pg_ctl");
    None
}

/// The `host:port` of a `postgres://user@host:port/db` URL (defaults: 127.0.0.1, 5432).
fn addr_of(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit('@').next()?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (hostport, 5432),
    };
    let host = if host.is_empty() || host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().ok()
}

/// `url` with its database name replaced.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = main.split('/').next().unwrap_or(main);
    format!("{scheme}://{authority}/{db}{query}")
}

/// `url` with its `host:port` replaced (user, password, database and options kept).
pub(crate) fn with_host(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}{tail}")
}

fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Runs `sql` on the server's admin database, on a thread of its own (usable from `Drop`).
fn admin(url: &str, sql: String) -> Result<(), String> {
    let url = url.to_owned();
    #[expect(
        clippy::disallowed_methods,
        reason = "test support: a short-lived thread joined before this returns (usable from Drop)"
    )]
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "admin thread panicked".to_owned())?
}

impl TestPg {
    /// A fresh database, or `None` (printed reason) when no server can be had.
    pub fn new() -> Option<Self> {
        let (admin_url, server) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, None),
            _ if reachable(addr_of(DEFAULT_URL)?) => (DEFAULT_URL.to_owned(), None),
            _ => match Throwaway::start() {
                Ok(t) => (t.url.clone(), Some(t)),
                Err(reason) => return skip_or_fail(&reason),
            },
        };
        let Some(addr) = addr_of(&admin_url) else {
            return skip_or_fail(&format!("cannot read host and port from {admin_url}"));
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sluice_test_{}_{}_{:08x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        if let Err(e) = admin(&admin_url, format!("CREATE DATABASE \"{name}\"")) {
            return skip_or_fail(&format!("cannot create a database: {e}"));
        }
        Some(Self {
            url: with_database(&admin_url, &name),
            addr,
            admin_url,
            name,
            server,
            dir: tempfile::tempdir().expect("tempdir"),
        })
    }

    /// A fresh database on a PostgreSQL server of this test's own (never the shared one), for
    /// tests that stop and restart the server ([`Self::stop`], [`Self::start`]). Commits are
    /// acknowledged once in the WAL, so an immediate stop loses none of them. `None`
    /// (printed reason) without `initdb`/`pg_ctl`, a failure under `CI=true`.
    pub fn throwaway() -> Option<Self> {
        let server = match Throwaway::start_with(true) {
            Ok(t) => t,
            Err(reason) => return skip_or_fail(&reason),
        };
        let admin_url = server.url.clone();
        let addr = addr_of(&admin_url)?;
        let name = format!("sluice_test_{}", std::process::id());
        if let Err(e) = admin(&admin_url, format!("CREATE DATABASE \"{name}\"")) {
            return skip_or_fail(&format!("cannot create a database: {e}"));
        }
        Some(Self {
            url: with_database(&admin_url, &name),
            addr,
            admin_url,
            name,
            server: Some(server),
            dir: tempfile::tempdir().expect("tempdir"),
        })
    }

    /// Stops this test's own server at once (`pg_ctl -m immediate stop`: connections are cut,
    /// as in a crash). Panics on the shared server: it is never stopped.
    pub fn stop(&self) {
        let server = self
            .server
            .as_ref()
            .expect("only a throwaway server (TestPg::throwaway) is stopped");
        server.stop().expect("pg_ctl stop");
    }

    /// Starts this test's own server again, on the same port and data (after [`Self::stop`]).
    pub fn start(&self) {
        let server = self
            .server
            .as_ref()
            .expect("only a throwaway server (TestPg::throwaway) is restarted");
        server.start_again().expect("pg_ctl start");
    }

    /// The test database's URL, reached through `addr` instead (a proxy).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        with_host(&self.url, addr)
    }

    pub fn config(&self) -> sluice::config::StoreConfig {
        super::pg_config(&self.url, self.dir.path())
    }

    pub async fn store(&self) -> sluice::store::Store {
        sluice::store::Store::open_with(&self.config(), Some(super::test_secret()))
            .await
            .expect("postgres store")
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = admin(&self.admin_url, sql) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
        drop(self.server.take());
    }
}

/// A PostgreSQL server of this test's own, from `initdb` and `pg_ctl`, on a loopback port.
struct Throwaway {
    url: String,
    data: tempfile::TempDir,
    /// The server's `-o` options (its port among them): a restart reuses them.
    opts: String,
}

fn as_postgres(cmd: &str) -> Command {
    // initdb refuses to run as root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]);
        c
    } else {
        Command::new(cmd)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Throwaway {
    fn start() -> Result<Self, String> {
        Self::start_with(false)
    }

    /// With `crash_safe`, commits are acknowledged only once in the WAL
    /// (`synchronous_commit=on`): an immediate stop loses no committed transaction (the WAL
    /// stays in the OS cache even with `fsync=off`). Without, the last few hundred ms of
    /// commits may vanish at an immediate stop.
    fn start_with(crash_safe: bool) -> Result<Self, String> {
        for tool in ["initdb", "pg_ctl"] {
            if Command::new(tool).arg("--version").output().is_err() {
                return Err(format!(
                    "127.0.0.1:5432 does not answer and `{tool}` is not installed"
                ));
            }
        }
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pgdata = data.path().join("pg");
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(data.path())
            .output();
        let mut init = as_postgres("initdb");
        init.args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&pgdata);
        run(init, "initdb")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -k {} -c fsync=off \
             -c synchronous_commit={} -c full_page_writes=off",
            socket_dir(data.path()),
            if crash_safe { "on" } else { "off" },
        );
        let server = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            data,
            opts,
        };
        server.start_again()?;
        Ok(server)
    }

    /// `pg_ctl start` on this server's data and options (waits until it accepts connections).
    fn start_again(&self) -> Result<(), String> {
        let mut start = as_postgres("pg_ctl");
        start
            .args(["-w", "-s", "-D"])
            .arg(self.data.path().join("pg"))
            // A log file of its own: the server must not hold this process's pipes open.
            .arg("-l")
            .arg(self.data.path().join("server.log"))
            .args(["-o", &self.opts, "start"]);
        run(start, "pg_ctl start")
    }

    /// `pg_ctl -m immediate stop`: the server ends at once, as in a crash.
    fn stop(&self) -> Result<(), String> {
        let mut stop = as_postgres("pg_ctl");
        stop.args(["-w", "-s", "-m", "immediate", "-D"])
            .arg(self.data.path().join("pg"))
            .arg("stop");
        run(stop, "pg_ctl stop")
    }
}

fn socket_dir(p: &Path) -> String {
    p.display().to_string()
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let mut stop = as_postgres("pg_ctl");
        stop.args(["-w", "-s", "-m", "immediate", "-D"])
            .arg(self.data.path().join("pg"))
            .arg("stop");
        let _ = stop.output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_and_rebuilt() {
        assert_eq!(
            addr_of(DEFAULT_URL),
            Some("127.0.0.1:5432".parse().unwrap())
        );
        assert_eq!(
            addr_of("postgres://u:p@localhost:6000/x?sslmode=disable"),
            Some("127.0.0.1:6000".parse().unwrap())
        );
        assert_eq!(
            with_database("postgres://u@h:1/postgres?a=b", "t1"),
            "postgres://u@h:1/t1?a=b"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "t1"),
            "postgres://u@h:1/t1"
        );
        let a: SocketAddr = "127.0.0.1:7".parse().unwrap();
        assert_eq!(
            with_host("postgres://u:p@h:1/db?x=1", a),
            "postgres://u:p@127.0.0.1:7/db?x=1"
        );
        assert_eq!(with_host("postgres://h/db", a), "postgres://127.0.0.1:7/db");
    }
}
