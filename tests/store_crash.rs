//! SIGKILL of a relay process mid-batch, on a SQLite store: what is lost is at most the records
//! queued and not yet committed (the documented window: one batch), everything committed before
//! survives once, and a restart on the same store charges nothing twice.
//!
//! The relay is the built `sluice` binary in a child process (killed by its own pid); the
//! simulator runs in the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use serde_json::json;
use sluice::config::StoreConfig;
use sluice::store::usage::query::{UsageFilter, UsageQuery};
use sluice::store::Store;
use sluice_sim::{Provider, SimConfig};
use sluice_test_support::eventually;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const KEY: &str = "sk-crash-test-token";
const ADMIN: &str = "crash-test-admin";
const WITHIN: Duration = Duration::from_secs(30);

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

struct Relay {
    child: Child,
    public: SocketAddr,
    admin: SocketAddr,
}

impl Relay {
    /// Starts `sluice serve` on the config in `dir` and waits until it answers.
    async fn start(dir: &Path, client: &reqwest::Client) -> Self {
        let (public, admin) = (free_port(), free_port());
        let config = dir.join("sluice.toml");
        let text = std::fs::read_to_string(dir.join("base.toml")).unwrap();
        std::fs::write(
            &config,
            format!("listen = \"{public}\"\nadmin_listen = \"{admin}\"\n{text}"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("relay.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("SLUICE_LISTEN")
            .env_remove("SLUICE_ADMIN_LISTEN")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sluice");
        let relay = Self {
            child,
            public,
            admin,
        };
        let health = format!("http://{admin}/api/monitor/health");
        eventually(WITHIN, "the relay answers", || {
            let req = client.get(&health).bearer_auth(ADMIN).send();
            async move { req.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        relay
    }

    async fn chat(&self, client: &reqwest::Client) -> u16 {
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]});
        let r = client
            .post(format!("http://{}/v1/chat/completions", self.public))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let _ = r.bytes().await;
        status
    }

    /// `sluice_usage_rows_written_total` from `/metrics`.
    async fn rows_written(&self, client: &reqwest::Client) -> u64 {
        let text = client
            .get(format!("http://{}/metrics", self.admin))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("sluice_usage_rows_written_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL, by the child's own pid.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the graceful end flushes the queue.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Ledger rows and the ledger's cost sum, and the token's committed total.
async fn ledger(dir: &Path) -> (i64, i64, i64) {
    let store = Store::open_with(&StoreConfig::in_dir(dir), None)
        .await
        .unwrap();
    let token = store.find_token("crash").await.unwrap().id;
    let filter = UsageFilter {
        token_id: Some(token),
        ..UsageFilter::default()
    };
    let rows = store.count_usage(&filter).await.unwrap();
    let q = UsageQuery {
        filter,
        group_by: Vec::new(),
    };
    let sum = store
        .usage_summary(&q)
        .await
        .unwrap()
        .first()
        .map_or(0, |s| s.cost_units);
    let total = store
        .token_totals()
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == token)
        .map_or(0, |(_, used)| used);
    store.close().await;
    (rows, sum, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_loses_at_most_the_queued_batch_and_a_restart_never_double_charges() {
    let sim = sluice_sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A long batch interval: the second burst is certainly queued, not committed, at the kill.
    std::fs::write(
        dir.path().join("base.toml"),
        format!(
            r#"
admin_token = "{ADMIN}"
shutdown_grace = "2s"

[[channels]]
name = "sim"
provider = "openai"
base_url = "{base}"
keys = ["sk-sim"]
models = ["gpt-4o-mini"]

[[tokens]]
name = "crash"
key = "{KEY}"

[store]
data_dir = "{data}"

[store.usage]
batch_interval = "3s"

[[prices.models]]
match = ["gpt-4o-mini"]
input = 1.0
output = 2.0
"#,
            base = sim.base_url(Provider::OpenAi),
            data = dir.path().display(),
        ),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // Committed before the kill: survives once.
    let relay = Relay::start(dir.path(), &client).await;
    const COMMITTED: u64 = 20;
    for _ in 0..COMMITTED {
        assert_eq!(relay.chat(&client).await, 200);
    }
    eventually(WITHIN, "the first burst committed", || {
        let n = relay.rows_written(&client);
        async move { n.await >= COMMITTED }
    })
    .await;
    // Queued at the kill: the window that may be lost.
    const QUEUED: u64 = 20;
    let answers = futures_util::future::join_all((0..QUEUED).map(|_| relay.chat(&client))).await;
    assert!(answers.iter().all(|s| *s == 200));
    relay.kill();

    let (rows, sum, total) = ledger(dir.path()).await;
    let lost = (COMMITTED + QUEUED) as i64 - rows;
    eprintln!(
        "after SIGKILL: {rows} rows of {}, {lost} lost",
        COMMITTED + QUEUED
    );
    assert!(rows >= COMMITTED as i64, "a committed row was lost: {rows}");
    assert!(
        (0..=QUEUED as i64).contains(&lost),
        "lost {lost}: more than the queued batch"
    );
    assert_eq!(sum, total, "the totals are the ledger's sum");

    // A restart on the same store: new requests are recorded once, nothing is charged twice.
    let relay = Relay::start(dir.path(), &client).await;
    const AFTER: u64 = 10;
    for _ in 0..AFTER {
        assert_eq!(relay.chat(&client).await, 200);
    }
    relay.stop();
    let (rows2, sum2, total2) = ledger(dir.path()).await;
    assert_eq!(
        rows2,
        rows + AFTER as i64,
        "the restart recorded each request once"
    );
    assert_eq!(sum2, total2, "nothing charged twice");
    assert!(sum2 > sum);
    sim.shutdown().await;
}
