//! Redis for the cluster tests: a throwaway `redis-server` of a test's own on a free loopback
//! port (stopped and restarted mid-load: a restart loses every key, as a real one without
//! persistence does), or a key prefix of a test's own on the machine's shared server.
//!
//! Owns: finding `redis-server` (or the shared server: `REDIS_URL`, else 127.0.0.1:6379), the
//! skip-or-fail rule (a missing server skips with the reason; under `CI=true` it fails the
//! test), the child process of a throwaway server (ended by its own pid), and removing a
//! shared prefix's keys on drop. A minimal RESP client for that (PING, SCAN, DEL).
//! Must never: stop, restart or flush the shared server, talk to anything but loopback, or
//! wait without a deadline.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";
const SERVER: &str = "redis-server";

fn skip_or_fail<T>(reason: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Redis is required under CI=true: {reason}");
    }
    eprintln!("skipped: no Redis ({reason}); set REDIS_URL or install redis-server");
    None
}

/// A RESP reply, as far as these tests read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad RESP reply");
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    match kind {
        "+" => Ok(Reply::Simple(rest.to_owned())),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => Ok(Reply::Int(rest.parse().map_err(|_| bad())?)),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut buf = vec![0; usize::try_from(n).map_err(|_| bad())? + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(buf.len() - 2);
            Ok(Reply::Bulk(Some(buf)))
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                items.push(read_reply(r)?);
            }
            Ok(Reply::Array(items))
        }
        _ => Err(bad()),
    }
}

/// One connection speaking RESP, with a deadline on every read and write.
pub struct RespConn {
    reader: BufReader<TcpStream>,
}

impl RespConn {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.set_write_timeout(Some(Duration::from_secs(2)))?;
        Ok(Self {
            reader: BufReader::new(s),
        })
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.reader.get_mut().write_all(&out)?;
        read_reply(&mut self.reader)
    }
}

/// Whether a Redis server answers PING at `addr`.
pub fn answers(addr: SocketAddr) -> bool {
    RespConn::connect(addr)
        .and_then(|mut c| c.call(&["PING"]))
        .is_ok_and(|r| r == Reply::Simple("PONG".to_owned()))
}

/// `host:port` and database number of a `redis://host:port/db` URL (defaults 6379, 0).
fn parse_url(url: &str) -> Option<(SocketAddr, u32)> {
    let rest = url.strip_prefix("redis://")?;
    let (authority, db) = match rest.split_once('/') {
        Some((a, d)) => (a, d.split('?').next().unwrap_or("")),
        None => (rest, ""),
    };
    let hostport = authority.rsplit('@').next()?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (hostport, 6379),
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let db = if db.is_empty() { 0 } else { db.parse().ok()? };
    Some((format!("{host}:{port}").parse().ok()?, db))
}

/// A loopback port nothing listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A `redis-server` of this test's own on a free loopback port, without persistence. Killed
/// (by its pid) on drop.
pub struct TestRedis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts one, or `None` (printed reason) when `redis-server` is not installed; under
    /// `CI=true` that fails the test.
    pub fn start() -> Option<Self> {
        if Command::new(SERVER)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            return skip_or_fail(&format!("`{SERVER}` is not installed"));
        }
        let port = match free_port() {
            Ok(p) => p,
            Err(e) => return skip_or_fail(&format!("no free port: {e}")),
        };
        let mut r = Self {
            port,
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        if let Err(e) = r.spawn() {
            return skip_or_fail(&e);
        }
        Some(r)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log =
            std::fs::File::create(self.dir.path().join("redis.log")).map_err(|e| e.to_string())?;
        let child = Command::new(SERVER)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{SERVER}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(self.addr()) {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("{SERVER} exited at start: {status}"));
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("{SERVER} did not answer within 10s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether the server runs (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL by its pid) and waits for it: every connection to it drops,
    /// and its keys are gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a new server on the same port (empty: a real restart), once it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().expect("redis-server restart");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A key prefix of this test's own on the shared Redis (`REDIS_URL`, else 127.0.0.1:6379),
/// for tests that never stop the server. Its keys are deleted on drop.
pub struct SharedRedis {
    pub url: String,
    pub prefix: String,
    addr: SocketAddr,
    db: u32,
}

impl SharedRedis {
    /// A fresh prefix, or `None` (printed reason) when the shared server does not answer;
    /// under `CI=true` that fails the test.
    pub fn new() -> Option<Self> {
        let url = std::env::var("REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let Some((addr, db)) = parse_url(&url) else {
            return skip_or_fail(&format!("cannot read host and port from {url}"));
        };
        if !answers(addr) {
            return skip_or_fail(&format!("{addr} does not answer PING"));
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "sluice-test:{}:{}:{:08x}:",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        Some(Self {
            url,
            prefix,
            addr,
            db,
        })
    }

    /// The shared server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The keys under this prefix (at most 10,000: a bounded scan).
    pub fn keys(&self) -> std::io::Result<Vec<String>> {
        let mut c = RespConn::connect(self.addr)?;
        c.call(&["SELECT", &self.db.to_string()])?;
        let pattern = format!("{}*", self.prefix);
        let mut cursor = "0".to_owned();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let Reply::Array(parts) =
                c.call(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", "500"])?
            else {
                break;
            };
            let mut parts = parts.into_iter();
            let (Some(Reply::Bulk(Some(next))), Some(Reply::Array(keys))) =
                (parts.next(), parts.next())
            else {
                break;
            };
            out.extend(keys.into_iter().filter_map(|k| match k {
                Reply::Bulk(Some(b)) => String::from_utf8(b).ok(),
                _ => None,
            }));
            cursor = String::from_utf8_lossy(&next).into_owned();
            if cursor == "0" || out.len() >= 10_000 {
                break;
            }
        }
        Ok(out)
    }
}

impl Drop for SharedRedis {
    fn drop(&mut self) {
        let Ok(keys) = self.keys() else { return };
        let Ok(mut c) = RespConn::connect(self.addr) else {
            return;
        };
        let _ = c.call(&["SELECT", &self.db.to_string()]);
        for chunk in keys.chunks(100) {
            let mut args = vec!["DEL"];
            args.extend(chunk.iter().map(String::as_str));
            let _ = c.call(&args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_are_read() {
        assert_eq!(
            parse_url("redis://127.0.0.1:6379/0"),
            Some(("127.0.0.1:6379".parse().unwrap(), 0))
        );
        assert_eq!(
            parse_url("redis://:pw@localhost:7000/3"),
            Some(("127.0.0.1:7000".parse().unwrap(), 3))
        );
        assert_eq!(
            parse_url("redis://127.0.0.1"),
            Some(("127.0.0.1:6379".parse().unwrap(), 0))
        );
        assert_eq!(parse_url("http://x"), None);
    }

    #[test]
    fn a_throwaway_server_stops_and_restarts_empty_on_its_port() {
        let Some(mut r) = TestRedis::start() else {
            return;
        };
        let mut c = RespConn::connect(r.addr()).unwrap();
        assert_eq!(
            c.call(&["SET", "k", "v"]).unwrap(),
            Reply::Simple("OK".into())
        );
        r.stop();
        assert!(!answers(r.addr()));
        assert!(!r.is_running());
        r.restart();
        let mut c = RespConn::connect(r.addr()).unwrap();
        assert_eq!(
            c.call(&["GET", "k"]).unwrap(),
            Reply::Bulk(None),
            "a restart loses every key"
        );
    }

    #[test]
    fn a_shared_prefix_is_removed_on_drop() {
        let Some(shared) = SharedRedis::new() else {
            return;
        };
        let (addr, db) = parse_url(&shared.url).unwrap();
        let mut c = RespConn::connect(addr).unwrap();
        c.call(&["SELECT", &db.to_string()]).unwrap();
        let key = format!("{}k", shared.prefix);
        c.call(&["SET", &key, "v"]).unwrap();
        assert_eq!(shared.keys().unwrap(), vec![key.clone()]);
        drop(shared);
        assert_eq!(c.call(&["EXISTS", &key]).unwrap(), Reply::Int(0));
    }

    #[test]
    fn resp_replies_are_parsed() {
        let text = b"*2\r\n$1\r\n0\r\n*2\r\n$3\r\nabc\r\n$-1\r\n";
        let r = read_reply(&mut &text[..]).unwrap();
        assert_eq!(
            r,
            Reply::Array(vec![
                Reply::Bulk(Some(b"0".to_vec())),
                Reply::Array(vec![Reply::Bulk(Some(b"abc".to_vec())), Reply::Bulk(None)])
            ])
        );
        assert_eq!(read_reply(&mut &b":5\r\n"[..]).unwrap(), Reply::Int(5));
    }
}
