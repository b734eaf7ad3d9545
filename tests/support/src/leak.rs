//! The leak checker behind every leak test: a [`Baseline`] taken once the relay is warm and
//! quiet, and [`Baseline::assert_returns`], which waits (bounded) for quiescence after traffic
//! and then requires every count to be back: the relay's ledger, the simulator's view, the
//! tokio runtime's live tasks, and the kernel's view of this process (fds, TCP sockets).
//!
//! Owns: what "nothing leaked" means, the report that names each count that did not return,
//! and [`run`], which gives each leak test its own runtime and its turn at the process.
//! Must never: pass a check it did not make (a count it cannot read is a failure), or wait
//! without a deadline.

pub mod traffic;

use crate::Harness;
use sluice::monitor::procfs::{self, TcpSocket, TcpState};
use sluice::monitor::Counts;
use sluice::AppState;
use sluice_sim::SimHandle;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The upstream pool's idle timeout in leak harnesses: idle pooled connections close quickly,
/// so "back to baseline" can mean zero upstream connections rather than "up to the pool bound".
pub const POOL_IDLE: Duration = Duration::from_millis(200);

/// A relay for leak tests: the demo channels, short pool idle timeout, and a client that keeps
/// no connection alive after its response, so inbound connections return to zero as well.
pub async fn harness(
    tweak: impl FnOnce(&mut sluice::Config, &sluice_sim::SimHandle) + 'static,
) -> Harness {
    let mut h = Harness::builder()
        .config(|c, _| {
            c.upstream.pool_idle_timeout = POOL_IDLE;
            // One attempt per request and no circuit breaking: each request meets its fault
            // (the fail-over paths have their own leak checks in tests/failover.rs).
            c.routing.max_attempts = 1;
            c.routing.breaker.consecutive_failures = u32::MAX;
            c.routing.breaker.min_requests = u32::MAX;
        })
        .config(tweak)
        .start()
        .await;
    h.client = client();
    h
}

/// A client without a connection pool: every request has its own connection, closed when its
/// response is read to the end or dropped.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// Process-wide figures (fds, sockets) are shared by every test of a binary, so leak tests take
/// turns. Each test also gets its own runtime, dropped before the next test starts: its live-task
/// count is its own, and nothing a finished test left behind is still closing when the next one
/// takes its baseline. (A tokio mutex held inside `#[tokio::test]` is released before that test's
/// runtime, and the sockets its tasks own, are torn down.)
pub fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) {
    static TURN: Mutex<()> = Mutex::new(());
    // A test that panicked poisons the lock; its runtime was torn down during the unwind.
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    rt.block_on(test());
    rt.shutdown_timeout(Duration::from_secs(5));
}

/// What the process held when the relay was warm and quiet.
#[derive(Clone, Debug)]
pub struct Baseline {
    live_tasks: u64,
    open_fds: u64,
    inbound: u64,
    jobs: u64,
    requests: u64,
}

/// One reading of every count the checker compares.
#[derive(Debug)]
struct Reading {
    counts: Counts,
    sim_open: u64,
    live_tasks: Option<u64>,
    open_fds: Option<u64>,
    sockets: Option<Vec<TcpSocket>>,
}

impl Reading {
    fn take(state: &AppState, sim: &SimHandle) -> Self {
        Self {
            counts: state.monitor.ledger().counts(),
            sim_open: sim.stats().connections_open,
            live_tasks: procfs::runtime().map(|r| r.live_tasks),
            open_fds: procfs::open_fds(),
            sockets: procfs::sockets(),
        }
    }

    fn close_wait(&self) -> Option<usize> {
        let sockets = self.sockets.as_ref()?;
        Some(
            sockets
                .iter()
                .filter(|s| s.state == TcpState::CloseWait)
                .count(),
        )
    }

    /// What keeps the relay from being quiet: a request, stream or connection in either
    /// direction, a simulator connection, or a CLOSE_WAIT socket. Empty when quiet.
    fn noise(&self) -> Vec<String> {
        let c = &self.counts;
        let mut out = Vec::new();
        let mut expect_zero = |what: &str, n: u64| {
            if n != 0 {
                out.push(format!("{what}: {n}, expected 0"));
            }
        };
        expect_zero("in-flight requests", c.in_flight_total());
        expect_zero("open streams", c.open_streams);
        expect_zero("inbound connections", c.inbound_connections);
        expect_zero(
            "upstream connections (relay ledger)",
            c.upstream_connections,
        );
        expect_zero("upstream connections seen by the simulator", self.sim_open);
        match self.close_wait() {
            Some(n) => expect_zero("CLOSE_WAIT sockets", n as u64),
            None => out.push("TCP sockets: /proc/self/net/tcp unreadable".to_owned()),
        }
        out
    }
}

impl Baseline {
    /// Waits (up to 5 s) until the warmed-up relay is quiet, then records the process's figures.
    /// Call it after a few requests, so pools, their idle timers and lazy statics exist.
    pub async fn take(h: &Harness) -> Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut last: Option<(u64, u64)> = None;
        loop {
            let r = Reading::take(&h.state, &h.sim);
            let figures = r.live_tasks.zip(r.open_fds);
            // Quiet, and the same figures twice in a row: nothing is still winding down.
            let noise = r.noise();
            if noise.is_empty() && figures.is_some() && figures == last {
                let (live_tasks, open_fds) = figures.unwrap_or_default();
                return Self {
                    live_tasks,
                    open_fds,
                    inbound: r.counts.inbound_connections,
                    jobs: r.counts.background_jobs,
                    requests: requests_total(h),
                };
            }
            if tokio::time::Instant::now() >= deadline {
                let mut report =
                    "leak: the warmed-up relay did not become quiet for a baseline within 5s \
                     (a leak in the warm-up itself?):\n"
                        .to_owned();
                for p in &noise {
                    let _ = writeln!(report, "  {p}");
                }
                report.push_str(&details(&r));
                panic!("{report}");
            }
            last = figures;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Requests the relay has answered (or seen abandoned) since the baseline, from the ledger's
    /// per-status counters: each request is counted once, when its record is dropped.
    pub fn requests_since(&self, h: &Harness) -> u64 {
        requests_total(h) - self.requests
    }

    /// Waits up to `within` for every count to return to this baseline; panics with a report
    /// naming each count that did not.
    pub async fn assert_returns(&self, h: &Harness, within: Duration) {
        self.assert_returns_to(&h.state, &h.sim, within).await;
    }

    /// [`Self::assert_returns`] for a relay whose `Server` is gone (after `shutdown`): its
    /// state and the simulator are enough.
    pub async fn assert_returns_to(&self, state: &AppState, sim: &SimHandle, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = Reading::take(state, sim);
            let problems = self.problems(&r);
            if problems.is_empty() {
                // Shown with --nocapture: the figures a passing leak test ended on.
                eprintln!(
                    "leak check: back at baseline: live tasks {} (baseline {}), open fds {} \
                     (baseline {}), inbound {}, upstream {}, simulator {}, CLOSE_WAIT 0",
                    r.live_tasks.unwrap_or_default(),
                    self.live_tasks,
                    r.open_fds.unwrap_or_default(),
                    self.open_fds,
                    r.counts.inbound_connections,
                    r.counts.upstream_connections,
                    r.sim_open,
                );
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let mut report =
                    format!("leak: counts did not return to baseline within {within:?}:\n");
                for p in &problems {
                    let _ = writeln!(report, "  {p}");
                }
                report.push_str(&details(&r));
                panic!("{report}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn problems(&self, r: &Reading) -> Vec<String> {
        let mut out = Vec::new();
        let c = &r.counts;
        if c.in_flight_total() != 0 {
            out.push(format!(
                "in-flight requests: {}, expected 0",
                c.in_flight_total()
            ));
        }
        if c.open_streams != 0 {
            out.push(format!("open streams: {}, expected 0", c.open_streams));
        }
        if c.inbound_connections > self.inbound {
            out.push(format!(
                "inbound connections: {}, baseline {}",
                c.inbound_connections, self.inbound
            ));
        }
        // Background jobs never depend on traffic (design.md §3 rule 4).
        if c.background_jobs > self.jobs {
            out.push(format!(
                "background jobs: {}, baseline {}",
                c.background_jobs, self.jobs
            ));
        }
        // The pool's idle timeout is short in leak harnesses: idle connections go too.
        if c.upstream_connections != 0 {
            out.push(format!(
                "upstream connections: {} (relay ledger), baseline 0",
                c.upstream_connections
            ));
        }
        if r.sim_open != c.upstream_connections || r.sim_open != 0 {
            out.push(format!(
                "upstream connections seen by the simulator: {}, relay ledger {}, baseline 0",
                r.sim_open, c.upstream_connections
            ));
        }
        match r.close_wait() {
            Some(0) => {}
            Some(n) => out.push(format!("CLOSE_WAIT sockets: {n}, expected 0")),
            None => out.push("TCP sockets: /proc/self/net/tcp unreadable".to_owned()),
        }
        match r.live_tasks {
            Some(n) if n <= self.live_tasks => {}
            Some(n) => out.push(format!("live tasks: {n}, baseline {}", self.live_tasks)),
            None => out.push("live tasks: no tokio runtime to read".to_owned()),
        }
        // Exact: every fd the traffic opened must be closed again (no tolerance).
        match r.open_fds {
            Some(n) if n <= self.open_fds => {}
            Some(n) => out.push(format!("open fds: {n}, baseline {}", self.open_fds)),
            None => out.push("open fds: /proc/self/fd unreadable".to_owned()),
        }
        out
    }
}

fn requests_total(h: &Harness) -> u64 {
    h.state.monitor.ledger().counters().requests.values().sum()
}

/// The sockets (with addresses and states) and the ledger, for a report.
fn details(r: &Reading) -> String {
    let mut s = String::new();
    match &r.sockets {
        Some(sockets) => {
            let _ = writeln!(s, "TCP sockets of this process ({}):", sockets.len());
            let mut sorted: Vec<&TcpSocket> = sockets.iter().collect();
            sorted.sort_by_key(|t| (t.state, t.local, t.remote));
            for t in sorted {
                let _ = writeln!(s, "  {} -> {} {}", t.local, t.remote, t.state.name());
            }
        }
        None => s.push_str("TCP sockets: unreadable\n"),
    }
    let _ = writeln!(
        s,
        "live tasks: {:?}; open fds: {:?}; simulator connections_open: {}",
        r.live_tasks, r.open_fds, r.sim_open
    );
    let _ = writeln!(s, "ledger: {:?}", r.counts);
    s
}
