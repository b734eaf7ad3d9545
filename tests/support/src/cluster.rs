//! Several relay processes as one: N children of the built `sluice` binary on loopback ports,
//! started from one base config (one PostgreSQL database, optionally one Redis and key
//! prefix), each killable (SIGKILL), stoppable (SIGTERM) and restartable on its own ports; the
//! admin calls tests make on them; and a leak check per process from the outside.
//!
//! Owns: the config each instance runs (the listeners, its own data dir and spool, short
//! cluster intervals), the child processes (ended by their own pids, on drop too), a
//! round-robin pick for clients spreading requests, and what "nothing leaked" means for a
//! process this test does not run in: the health JSON's gauges (live tasks, in-flight
//! requests, open streams, inbound and upstream connections, background jobs, CLOSE_WAIT, open
//! fds) back at a baseline, with the process's database and Redis sockets (read from
//! /proc/PID) held to their pool bounds.
//! Must never: signal anything but its own children, talk to anything but loopback, or wait
//! without a deadline.

use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The admin token of every cluster instance.
pub const ADMIN: &str = "cluster-test-admin";

/// How long an instance may take to answer its health after a start.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Most PostgreSQL connections an instance's pool opens (`store.max_connections`).
pub const PG_POOL: u64 = 4;

/// Cluster tests take turns (several relay processes each on a 2-core machine), each on a
/// runtime of its own with two workers.
pub fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) {
    static TURN: Mutex<()> = Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    rt.block_on(test());
    rt.shutdown_timeout(Duration::from_secs(5));
}

/// What the instances run: the generated listeners, store and cluster sections around the
/// test's own TOML.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The relay binary (`env!("CARGO_BIN_EXE_sluice")` in the test).
    pub bin: PathBuf,
    pub instances: usize,
    /// `store.url`: the test database.
    pub store_url: String,
    /// `store.redis_url`, if any.
    pub redis_url: Option<String>,
    /// `store.cluster.redis_prefix`.
    pub redis_prefix: String,
    /// Top-level keys, then tables (channels, prices, video, routing): after the listeners.
    pub body: String,
    /// Per instance (by index): tables appended after `body` (say, a channel of its own).
    pub per_instance: Vec<String>,
    /// More keys of `[store]`.
    pub store: String,
    /// More keys of `[store.cluster]` (the defaults here: heartbeat 300ms, instance_ttl 2s,
    /// quota_push 100ms, redis_retry 250ms, redis_wait 100ms: these tests share two cores with
    /// other tests and builds, where a 5 ms wait would turn scheduling delays into local-share
    /// decisions; what they check is the shared bucket's bound, and local-share decisions are
    /// counted and reported).
    pub cluster: String,
}

impl Spec {
    pub fn new(bin: impl Into<PathBuf>, instances: usize, store_url: &str) -> Self {
        Self {
            bin: bin.into(),
            instances,
            store_url: store_url.to_owned(),
            redis_url: None,
            redis_prefix: "sluice-test:".to_owned(),
            body: String::new(),
            per_instance: Vec::new(),
            store: String::new(),
            cluster: String::new(),
        }
    }

    pub fn redis(mut self, url: &str, prefix: &str) -> Self {
        self.redis_url = Some(url.to_owned());
        self.redis_prefix = prefix.to_owned();
        self
    }

    pub fn body(mut self, toml: &str) -> Self {
        self.body = toml.to_owned();
        self
    }

    fn render(&self, i: usize, public: SocketAddr, admin: SocketAddr, data: &Path) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "listen = \"{public}\"\nadmin_listen = \"{admin}\"");
        let _ = writeln!(t, "admin_token = \"{ADMIN}\"\nshutdown_grace = \"3s\"");
        t.push_str(&self.body);
        t.push('\n');
        if let Some(extra) = self.per_instance.get(i) {
            t.push_str(extra);
            t.push('\n');
        }
        t.push_str("\n[upstream]\npool_idle_timeout = \"200ms\"\n");
        let _ = writeln!(t, "\n[store]\nurl = \"{}\"", self.store_url);
        if let Some(r) = &self.redis_url {
            let _ = writeln!(t, "redis_url = \"{r}\"");
        }
        let _ = writeln!(
            t,
            "data_dir = \"{}\"\nmax_connections = {PG_POOL}\nacquire_timeout = \"800ms\"\n\
             call_timeout = \"3s\"",
            data.display()
        );
        t.push_str(&self.store);
        t.push_str(
            "\n[store.usage]\nbatch_interval = \"20ms\"\nretry_min = \"20ms\"\n\
             retry_max = \"200ms\"\nspool_fsync_interval = \"100ms\"\nshutdown_flush = \"3s\"\n",
        );
        let _ = writeln!(
            t,
            "\n[store.cluster]\nheartbeat = \"300ms\"\ninstance_ttl = \"2s\"\n\
             quota_push = \"100ms\"\nredis_retry = \"250ms\"\nredis_wait = \"100ms\"\n\
             redis_prefix = \"{}\"",
            self.redis_prefix
        );
        t.push_str(&self.cluster);
        t.push('\n');
        t
    }

    /// `store.cluster.quota_push` as the instances run it (100ms unless `cluster` sets it).
    pub fn quota_push(&self) -> Duration {
        self.cluster
            .lines()
            .find_map(|l| {
                let v = l
                    .trim()
                    .strip_prefix("quota_push")?
                    .trim()
                    .strip_prefix('=')?;
                humantime_ms(v.trim().trim_matches('"'))
            })
            .unwrap_or(Duration::from_millis(100))
    }
}

/// `250ms` or `2s` (what the specs here write).
fn humantime_ms(v: &str) -> Option<Duration> {
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    v.strip_suffix('s')?.parse().ok().map(Duration::from_secs)
}

/// The port of a `scheme://…host:port/…` URL.
fn port_of(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit('@').next()?;
    hostport.rsplit_once(':')?.1.parse().ok()
}

/// One relay process.
pub struct Instance {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
    /// Children started on this slot so far (logs are kept per start).
    starts: usize,
}

impl Instance {
    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("relay-{}.log", self.starts))
    }
}

/// A client's answer: which instance, its status, request id and body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub instance: usize,
    pub status: u16,
    pub request_id: String,
    pub body: Value,
}

/// A token made through the admin API.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub id: i64,
    pub name: String,
    pub key: String,
}

pub struct Cluster {
    pub spec: Spec,
    /// A client without a connection pool: inbound connections close with their responses.
    pub client: reqwest::Client,
    instances: Vec<Instance>,
    next: AtomicUsize,
    pg_port: Option<u16>,
    redis_port: Option<u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `spec.instances` relays (the first alone, so it runs the migrations, then the
    /// others) and waits until each answers its health.
    pub async fn start(spec: Spec) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // Held until every port is chosen: no two listeners get the same one.
        let held: Vec<std::net::TcpListener> = (0..2 * spec.instances)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let ports: Vec<SocketAddr> = held
            .iter()
            .map(|l| l.local_addr().expect("its address"))
            .collect();
        drop(held);
        let instances = (0..spec.instances)
            .map(|i| {
                let d = dir.path().join(format!("instance-{i}"));
                std::fs::create_dir_all(&d).expect("instance dir");
                Instance {
                    public: ports[2 * i],
                    admin: ports[2 * i + 1],
                    dir: d,
                    child: None,
                    starts: 0,
                }
            })
            .collect();
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut c = Self {
            pg_port: port_of(&spec.store_url),
            redis_port: spec.redis_url.as_deref().and_then(port_of),
            spec,
            client,
            instances,
            next: AtomicUsize::new(0),
            _dir: dir,
        };
        c.spawn(0);
        c.wait_ready(0).await;
        for i in 1..c.len() {
            c.spawn(i);
        }
        for i in 1..c.len() {
            c.wait_ready(i).await;
        }
        c
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    fn spawn(&mut self, i: usize) {
        let inst = &mut self.instances[i];
        inst.starts += 1;
        let config = inst.dir.join("sluice.toml");
        let text = self
            .spec
            .render(i, inst.public, inst.admin, &inst.dir.join("data"));
        std::fs::write(&config, text).expect("write config");
        let log = std::fs::File::create(inst.log_path()).expect("log file");
        let child = Command::new(&self.spec.bin)
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("SLUICE_LISTEN")
            .env_remove("SLUICE_ADMIN_LISTEN")
            .env_remove("SLUICE_ADMIN_TOKEN")
            .env_remove("SLUICE_CONFIG")
            .env("RUST_LOG", "sluice=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sluice");
        inst.child = Some(child);
    }

    async fn wait_ready(&mut self, i: usize) {
        let deadline = tokio::time::Instant::now() + START_WITHIN;
        loop {
            if let Some(status) = self.exited(i) {
                panic!(
                    "instance {i} exited at start ({status}):\n{}",
                    self.log_tail(i)
                );
            }
            if self.health(i).await.0 == 200 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "instance {i} did not answer within {START_WITHIN:?}:\n{}",
                    self.log_tail(i)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The next instance in round-robin order.
    pub fn next(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.len()
    }

    pub fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}{path}", self.instances[i].public)
    }

    pub fn admin_url(&self, i: usize, path: &str) -> String {
        format!("http://{}{path}", self.instances[i].admin)
    }

    /// The process id of instance `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.instances[i].child.as_ref().map(Child::id)
    }

    /// How instance `i` ended, if it has (a crash shows here); `None` while it runs.
    pub fn exited(&mut self, i: usize) -> Option<ExitStatus> {
        self.instances[i].child.as_mut()?.try_wait().ok().flatten()
    }

    /// Panics (with its log) unless every started instance still runs.
    pub fn assert_running(&mut self) {
        for i in 0..self.len() {
            if self.instances[i].child.is_some() {
                if let Some(status) = self.exited(i) {
                    panic!("instance {i} ended ({status}):\n{}", self.log_tail(i));
                }
            }
        }
    }

    /// The last 60 lines of instance `i`'s current log (access lines left out).
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.instances[i].log_path()).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("sluice::access"))
            .collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// SIGKILL (by the child's own pid), and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.instances[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (by the child's own pid) and waits up to 15 s for the graceful end (then
    /// SIGKILL, and a panic: a relay that does not stop is a bug). Its exit status.
    pub async fn stop(&mut self, i: usize) -> ExitStatus {
        let Some(mut c) = self.instances[i].child.take() else {
            panic!("instance {i} is not running");
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status;
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("instance {i} did not stop within 15s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts instance `i` again on its ports, data dir and config (after `kill` or `stop`).
    pub async fn restart(&mut self, i: usize) {
        assert!(self.instances[i].child.is_none(), "instance {i} still runs");
        self.spawn(i);
        self.wait_ready(i).await;
    }

    /// Calls the admin API of instance `i`: its status and JSON answer (`null` when not JSON;
    /// status 0 when the instance does not answer).
    pub async fn admin_json(
        &self,
        i: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.admin_url(i, path))
            .bearer_auth(ADMIN)
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or_default())
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// The full health JSON of instance `i` (status 0 when it does not answer).
    pub async fn health(&self, i: usize) -> (u16, Value) {
        self.admin_json(i, reqwest::Method::GET, "/api/monitor/health", None)
            .await
    }

    /// The health JSON's `cluster` object of instance `i` (`null` when it has none).
    pub async fn cluster_state(&self, i: usize) -> Value {
        self.health(i).await.1["cluster"].clone()
    }

    /// Creates a token through instance `i`'s admin API (`spec`: the JSON of
    /// `POST /api/tokens`, with its `name`).
    pub async fn create_token(&self, i: usize, spec: Value) -> NewToken {
        let (s, v) = self
            .admin_json(i, reqwest::Method::POST, "/api/tokens", Some(spec))
            .await;
        assert_eq!(s, 201, "create token: {v}");
        NewToken {
            id: v["id"].as_i64().expect("token id"),
            name: v["name"].as_str().expect("token name").to_owned(),
            key: v["key"].as_str().expect("token key").to_owned(),
        }
    }

    /// Revokes a token through instance `i`'s admin API.
    pub async fn revoke_token(&self, i: usize, name: &str) {
        let (s, v) = self
            .admin_json(
                i,
                reqwest::Method::DELETE,
                &format!("/api/tokens/{name}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "revoke token: {v}");
    }

    /// POSTs JSON with a bearer key to instance `i`; the body read to its end.
    pub async fn post(&self, i: usize, path: &str, key: &str, body: &Value) -> Answer {
        let r = self
            .client
            .post(self.url(i, path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("instance {i} unreachable: {e}"));
        let status = r.status().as_u16();
        let request_id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = r.json().await.unwrap_or_default();
        Answer {
            instance: i,
            status,
            request_id,
            body,
        }
    }

    /// GET with a bearer key on instance `i`: status and JSON.
    pub async fn get(&self, i: usize, path: &str, key: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(i, path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("instance {i} unreachable: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    /// One reading of instance `i` for the leak check.
    async fn reading(&self, i: usize) -> Option<ProcReading> {
        let pid = self.pid(i)?;
        let (status, h) = self.health(i).await;
        if status == 0 {
            return None;
        }
        let g = &h["gauges"];
        let n = |k: &str| g[k].as_u64();
        let socks = sockets_of(pid)?;
        let to = |port: Option<u16>| {
            port.map_or(0, |p| {
                socks.iter().filter(|s| s.remote_port == p).count() as u64
            })
        };
        Some(ProcReading {
            live_tasks: n("live_tasks")?,
            open_fds: n("open_fds")?,
            inbound: n("inbound_connections")?,
            upstream: n("upstream_connections")?,
            in_flight: n("in_flight_requests")?,
            open_streams: n("open_streams")?,
            jobs: n("background_jobs")?,
            close_wait: n("tcp_close_wait")?,
            pg: to(self.pg_port),
            redis: to(self.redis_port),
        })
    }

    /// Waits (up to 10 s) until instance `i` is warm and quiet (no request, stream, upstream
    /// connection or CLOSE_WAIT; the same tasks and fds twice in a row) and records its
    /// figures. Take it after a few requests, so pools and lazy state exist.
    pub async fn baseline(&self, i: usize) -> ProcBaseline {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut last: Option<ProcReading> = None;
        loop {
            let r = self.reading(i).await;
            if let Some(r) = &r {
                let stable = last.as_ref().is_some_and(|l| {
                    (l.live_tasks, l.open_fds, l.pg, l.redis)
                        == (r.live_tasks, r.open_fds, r.pg, r.redis)
                });
                if r.quiet().is_empty() && stable {
                    eprintln!("instance {i} baseline: {r:?}");
                    return ProcBaseline(r.clone());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "instance {i}: no quiet baseline within 10s: {r:?} {:?}",
                    r.as_ref().map(ProcReading::quiet)
                );
            }
            last = r;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits up to `within` for instance `i`'s counts to return to `base`; panics naming each
    /// one that did not. Database sockets may be anywhere in the pool's bound (its idle
    /// connections stay), every other fd must be closed again.
    pub async fn assert_no_leak(&self, i: usize, base: &ProcBaseline, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.reading(i).await;
            let problems = match &r {
                Some(r) => base.problems(r),
                None => vec![format!("instance {i} cannot be read (not running?)")],
            };
            if problems.is_empty() {
                eprintln!("instance {i} leak check: back at baseline: {r:?}");
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "instance {i} leak: counts did not return within {within:?}:\n  {}\nbaseline \
                     {:?}\nnow {r:?}\nsockets {:?}",
                    problems.join("\n  "),
                    base.0,
                    self.pid(i).and_then(sockets_of)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        for i in 0..self.len() {
            if panicking && self.instances[i].child.is_some() {
                eprintln!(
                    "--- instance {i} log (last lines) ---\n{}",
                    self.log_tail(i)
                );
            }
            self.kill(i);
        }
    }
}

/// One reading of a relay process: its health gauges and its sockets to the database and
/// Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcReading {
    pub live_tasks: u64,
    pub open_fds: u64,
    pub inbound: u64,
    pub upstream: u64,
    pub in_flight: u64,
    pub open_streams: u64,
    pub jobs: u64,
    pub close_wait: u64,
    /// TCP sockets of the process to the database's port.
    pub pg: u64,
    /// TCP sockets of the process to Redis's port.
    pub redis: u64,
}

impl ProcReading {
    /// What keeps the process from being quiet.
    fn quiet(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (what, n) in [
            ("in-flight requests", self.in_flight),
            ("open streams", self.open_streams),
            ("upstream connections", self.upstream),
            ("CLOSE_WAIT sockets", self.close_wait),
        ] {
            if n != 0 {
                out.push(format!("{what}: {n}, expected 0"));
            }
        }
        out
    }

    /// Open fds other than database and Redis sockets.
    fn other_fds(&self) -> u64 {
        self.open_fds.saturating_sub(self.pg + self.redis)
    }
}

/// A process's figures when it was warm and quiet.
#[derive(Clone, Debug)]
pub struct ProcBaseline(pub ProcReading);

impl ProcBaseline {
    fn problems(&self, r: &ProcReading) -> Vec<String> {
        let b = &self.0;
        let mut out = r.quiet();
        let mut at_most = |what: &str, now: u64, bound: u64| {
            if now > bound {
                out.push(format!("{what}: {now}, baseline {bound}"));
            }
        };
        at_most("inbound connections", r.inbound, b.inbound);
        at_most("background jobs", r.jobs, b.jobs);
        at_most("live tasks", r.live_tasks, b.live_tasks);
        at_most(
            "open fds (besides database and Redis sockets)",
            r.other_fds(),
            b.other_fds(),
        );
        at_most("Redis sockets", r.redis, b.redis);
        at_most("database sockets (the pool's bound)", r.pg, PG_POOL + 1);
        out
    }
}

/// A TCP socket of another process.
#[derive(Clone, Debug)]
pub struct ProcSocket {
    pub remote_port: u16,
    /// The state's hex code in /proc/net/tcp (`01` established, `08` close-wait).
    pub state: String,
}

/// The TCP sockets of process `pid` (its fds' socket inodes joined with its TCP tables).
pub fn sockets_of(pid: u32) -> Option<Vec<ProcSocket>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let inodes: HashSet<u64> = dir
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|t| {
            t.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) = (cols.get(2), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let Ok(inode) = inode.parse::<u64>() else {
                continue;
            };
            if inode == 0 || !inodes.contains(&inode) {
                continue;
            }
            let Some(port) = remote
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            else {
                continue;
            };
            out.push(ProcSocket {
                remote_port: port,
                state: (*state).to_owned(),
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_intervals_are_read() {
        assert_eq!(port_of("postgres://postgres@127.0.0.1:5432/x"), Some(5432));
        assert_eq!(port_of("redis://127.0.0.1:6390/0"), Some(6390));
        assert_eq!(port_of("redis://h/0"), None);
        let mut s = Spec::new("sluice", 3, "postgres://127.0.0.1:1/x");
        assert_eq!(s.quota_push(), Duration::from_millis(100));
        s.cluster = "quota_push = \"250ms\"\n".to_owned();
        assert_eq!(s.quota_push(), Duration::from_millis(250));
    }

    #[test]
    fn the_rendered_config_parses() {
        let s = Spec::new("sluice", 2, "postgres://postgres@127.0.0.1:5432/x")
            .redis("redis://127.0.0.1:6379/0", "p:")
            .body("[routing]\nmax_attempts = 1\n[[tokens]]\nkey = \"k\"\n");
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let text = s.render(0, a, a, Path::new("/tmp/x"));
        let c = sluice::Config::parse(&text).unwrap();
        let store = c.store.unwrap();
        assert_eq!(store.cluster.redis_prefix, "p:");
        assert_eq!(store.cluster.quota_push, Duration::from_millis(100));
    }
}
