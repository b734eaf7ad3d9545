//! `sluice-load cluster`: two relay instances on one PostgreSQL store, the same closed-loop load
//! spread over both, with each instance limiting on its own (A: no `store.redis_url`) and with
//! the limits shared through Redis (B), the two pairs measured alternately (A B, B A, A B …) in
//! one run; a token with a quota and rpm/tpm limits that never refuse, so every request takes the
//! limit path. Then whether B really used Redis (its health's `cluster` block, keys under its
//! prefix) and A did not.
//!
//! Owns: the four relays' configs, the token, the order of runs, the health readings.
//! Must never: let two pairs run load at the same time, turn a timing into an assertion (the run
//! fails only on a broken comparison: refusals, errors, or B not on Redis), run unbounded, or
//! leave its database or Redis keys behind.

mod backing;
mod report;

use super::driver::{self, Run};
use super::{merge_into, proc_cpu_secs};
use crate::client::{self, Auth, Call};
use crate::probe::Probe;
use crate::relay::{self, Relay, Spawn, Tuning};
use backing::{Database, Redis};
use clap::Args as ClapArgs;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Measured time of each run (one pair, one round).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Warm-up of each run, not measured.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Rounds of (A, B) per scenario.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// CPU of the relays (all four: one pair runs load at a time).
    #[arg(long, default_value_t = 0)]
    pub relay_cpu: usize,
    /// CPU of the simulator and the load generator.
    #[arg(long, default_value_t = 1)]
    pub load_cpu: usize,
    /// Do not pin.
    #[arg(long)]
    pub no_pin: bool,
    /// Report directory (OUT/cluster/: configs, logs, spools, cluster.md, cluster.json).
    #[arg(long, default_value = "bench-report")]
    pub out: PathBuf,
    /// The relay binary (default: built by cargo next to this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// RUST_LOG of the relays.
    #[arg(long, default_value = "info")]
    pub relay_log: String,
    /// `upstream.pool_max_idle_per_host` of each relay.
    #[arg(long, default_value_t = 128)]
    pub pool_max_idle: usize,
    /// Run only the scenarios whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// The token's requests per `--rate-window` (high enough never to refuse: the shared bucket
    /// is then spent in chunks of `store.cluster.chunk` of it, 5 %).
    #[arg(long, default_value_t = 200_000)]
    pub rpm: u32,
    /// The token's tokens per `--rate-window`.
    #[arg(long, default_value_t = 200_000_000)]
    pub tpm: u64,
    /// The window the token's rpm and tpm count over.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub rate_window: Duration,
}

/// A scenario's result: A (local limits) and B (shared through Redis), per round and merged.
pub struct ClusterPair {
    pub name: &'static str,
    pub rounds: Vec<(Figures, Figures)>,
    pub a: Run,
    pub b: Run,
    /// Both relays' CPU time per request answered, microseconds (A, B).
    pub cpu_us: (f64, f64),
}

/// One run's figures (a round's line in the report).
pub struct Figures {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: u64,
}

impl Figures {
    fn of(r: &Run) -> Self {
        Self {
            rps: r.rps(),
            p50: r.p(0.5),
            p99: r.p(0.99),
            errors: r.errors,
        }
    }
}

/// One relay of a pair, with its probe.
struct Instance {
    relay: Relay,
    probe: Probe,
}

/// What the health JSON's `cluster` block said about every instance, before and after the load.
#[derive(Default)]
pub struct Checks {
    /// Per instance: (name, before, after) `cluster` blocks (Null when health has none).
    pub readings: Vec<(String, Value, Value)>,
    /// Keys under B's prefix after the load (up to 100 shown), and their count (up to 10,000).
    pub keys: Vec<String>,
    pub key_count: usize,
    pub prefix: String,
    pub database: String,
}

pub async fn run(args: Args) -> Result<bool, String> {
    let dir = args.out.join("cluster");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bin = relay::locate_binary(args.relay_bin.clone())?;
    let mut redis = Redis::connect().await?;
    let db = Database::create().await?;
    println!(
        "cluster: database {} (fresh), Redis prefix {}",
        db.name(),
        redis.prefix
    );
    let result = measure(&args, &bin, &dir, &db, &mut redis).await;
    // Whatever happened, the relays are stopped by now (dropped); remove what the run made.
    match redis.clear().await {
        Ok(n) => println!("cluster: deleted {n} Redis keys under {}", redis.prefix),
        Err(e) => eprintln!(
            "cluster: could not delete the keys under {}: {e}",
            redis.prefix
        ),
    }
    let name = db.name().to_owned();
    if let Err(e) = db.drop_it().await {
        eprintln!("cluster: could not drop database {name}: {e}");
    }
    let (pairs, checks, layout, load) = result?;
    let r = report::Report {
        args: &args,
        layout,
        pairs,
        checks,
        loadavg: load,
    };
    r.write(&dir)
}

type Measured = (Vec<ClusterPair>, Checks, String, (String, String));

async fn measure(
    args: &Args,
    bin: &Path,
    dir: &Path,
    db: &Database,
    redis: &mut Redis,
) -> Result<Measured, String> {
    let sim = sluice_sim::start(sluice_sim::SimConfig::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let tuning = Tuning {
        shutdown_grace: Duration::from_secs(5),
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(30),
        stream_idle: Duration::from_secs(30),
        total: Duration::from_secs(120),
        error_body: Duration::from_secs(5),
        keepalive: Duration::from_secs(15),
        pool_max_idle_per_host: args.pool_max_idle,
        pool_idle_timeout: Duration::from_secs(90),
    };
    let names = ["a1", "a2", "b1", "b2"];
    let mut configs = Vec::new();
    for name in names {
        let (listen, admin) = (relay::free_port()?, relay::free_port()?);
        let shared = name.starts_with('b').then_some(&*redis);
        let text = relay::config_toml(listen, admin, sim.addr(), &tuning)
            + &store_toml(&db.url, &dir.join(format!("{name}-data")), shared);
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        configs.push((name, path, listen, admin));
    }
    let key = create_token(bin, &configs[0].1, args)?;
    let mut instances = Vec::new();
    for (name, config, listen, admin) in &configs {
        let relay = Relay::start(Spawn {
            bin,
            config,
            listen: *listen,
            admin: *admin,
            log: &dir.join(format!("{name}.log")),
            log_filter: &args.relay_log,
            cpu: (!args.no_pin).then_some(args.relay_cpu),
            workers: None,
        })
        .await?;
        let probe = Probe::new(relay.admin, relay.pid)?;
        instances.push(Instance { relay, probe });
    }
    let (a, b) = instances.split_at(2);
    let workers = a[0].probe.health().await?["tokio_workers"]
        .as_u64()
        .unwrap_or(0);
    let layout = if args.no_pin {
        format!("not pinned (--no-pin); relay tokio workers: {workers}")
    } else {
        format!(
            "the four relays (two pairs, one pair loaded at a time) pinned to CPU {} (taskset; {workers} tokio worker each); simulator (in-process) and load generator pinned to CPU {} (this process, 1 tokio worker)",
            args.relay_cpu, args.load_cpu
        )
    };
    println!("layout: {layout}");
    let chat =
        |pair: &[Instance], body: &bytes::Bytes, stream: bool| -> Result<Vec<Call>, String> {
            pair.iter()
                .map(|i| {
                    Call::new(
                        &i.relay.url("/v1/chat/completions"),
                        Auth::Bearer(&key),
                        body.clone(),
                        stream,
                    )
                })
                .collect()
        };
    // Warm both pairs (connections, the token's buckets, B's first chunks), then wait for B's
    // instances to say Redis is up.
    let scen = super::scenarios();
    for pair in [a, b] {
        let calls = chat(pair, &scen[0].body, false)?;
        let _ = driver::closed_loop_spread(
            &client::client(),
            &calls,
            8,
            Duration::ZERO,
            Duration::from_millis(500),
        )
        .await;
    }
    wait_redis_up(b).await;
    let mut before = Vec::new();
    for i in &instances {
        before.push(cluster_block(&i.probe).await);
    }

    let load_before = super::loadavg();
    let mut pairs = Vec::new();
    for s in scen
        .iter()
        .filter(|s| s.name == "non-streaming c=32" || s.name.starts_with("streaming c=64 ("))
        .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
    {
        let (a_calls, b_calls) = (chat(a, &s.body, s.stream)?, chat(b, &s.body, s.stream)?);
        let (mut ma, mut mb): (Option<Run>, Option<Run>) = (None, None);
        let mut rounds = Vec::new();
        let (mut cpu, mut answered) = ([0.0f64; 2], [0u64; 2]);
        for round in 1..=args.rounds {
            // A B in odd rounds, B A in even ones: whatever the second run of a round inherits
            // from the first (the store's writes, the machine's state) falls on both.
            let mut order = [(0, a, &a_calls), (1, b, &b_calls)];
            if round % 2 == 0 {
                order.reverse();
            }
            let mut runs: Vec<(usize, Run)> = Vec::new();
            for (k, pair, calls) in order {
                let cpu0: f64 = pair.iter().map(|i| proc_cpu_secs(i.relay.pid)).sum();
                let r = driver::closed_loop_spread(
                    &client::client(),
                    calls,
                    s.concurrency,
                    args.warmup,
                    args.duration,
                )
                .await;
                cpu[k] += pair.iter().map(|i| proc_cpu_secs(i.relay.pid)).sum::<f64>() - cpu0;
                answered[k] += r.all;
                tokio::time::sleep(Duration::from_millis(300)).await;
                runs.push((k, r));
            }
            runs.sort_by_key(|(k, _)| *k);
            let (Some((_, rb)), Some((_, ra))) = (runs.pop(), runs.pop()) else {
                continue;
            };
            println!(
                "{} round {round}: A (local limits) {:.0} req/s p50 {:.2} ms p99 {:.2} ms | B (shared, Redis) {:.0} req/s p50 {:.2} ms p99 {:.2} ms | errors {} / {}",
                s.name,
                ra.rps(),
                ra.p(0.5),
                ra.p(0.99),
                rb.rps(),
                rb.p(0.5),
                rb.p(0.99),
                ra.errors,
                rb.errors
            );
            rounds.push((Figures::of(&ra), Figures::of(&rb)));
            merge_into(&mut ma, ra);
            merge_into(&mut mb, rb);
        }
        if let (Some(a), Some(b)) = (ma, mb) {
            let per = |k: usize| cpu[k] * 1e6 / answered[k].max(1) as f64;
            pairs.push(ClusterPair {
                name: s.name,
                rounds,
                a,
                b,
                cpu_us: (per(0), per(1)),
            });
        }
    }
    let load_after = super::loadavg();

    let mut checks = Checks {
        prefix: redis.prefix.clone(),
        database: db.name().to_owned(),
        ..Checks::default()
    };
    for ((i, name), before) in instances.iter().zip(names).zip(before) {
        checks
            .readings
            .push((name.to_owned(), before, cluster_block(&i.probe).await));
    }
    let keys = redis.keys(10_000).await?;
    checks.key_count = keys.len();
    checks.keys = keys.into_iter().take(100).collect();
    for i in instances {
        let _ = i.relay.stop(tuning.shutdown_grace).await;
    }
    sim.shutdown().await;
    Ok((pairs, checks, layout, (load_before, load_after)))
}

/// The health JSON's `cluster` block (Null when the relay has none, or health did not answer).
async fn cluster_block(probe: &Probe) -> Value {
    probe
        .health()
        .await
        .map(|h| h["cluster"].clone())
        .unwrap_or(Value::Null)
}

/// Waits (at most 10 s) until every instance of `pair` reports `cluster.redis == "up"`; the
/// checks after the run say whether it came.
async fn wait_redis_up(pair: &[Instance]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut up = true;
        for i in pair {
            up &= cluster_block(&i.probe).await["redis"] == "up";
        }
        if up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A relay's store section: the shared PostgreSQL database, its own spool directory, and for B
/// the Redis URL and this run's prefix; a price so the token's requests are metered.
fn store_toml(db_url: &str, data: &Path, redis: Option<&Redis>) -> String {
    let shared = redis.map_or_else(String::new, |r| {
        format!(
            "redis_url = \"{}\"\n\n[store.cluster]\nredis_prefix = \"{}\"\n",
            r.url, r.prefix
        )
    });
    format!(
        r#"
[store]
url = "{db_url}"
data_dir = "{}"
{shared}
[[prices.models]]
match = ["gpt-4o-mini*"]
input = 0.15
output = 0.60
max_output = 64
"#,
        data.display()
    )
}

/// The token every request uses: a quota and rpm/tpm limits over `--rate-window`, far above the
/// load (so nothing is refused), made with `sluice token create` on the shared database.
fn create_token(bin: &Path, config: &Path, args: &Args) -> Result<String, String> {
    let out = std::process::Command::new(bin)
        .args(["token", "create", "bench-cluster", "--json"])
        .args(["--quota", "1000000000000000"])
        .args(["--rpm", &args.rpm.to_string()])
        .args(["--tpm", &args.tpm.to_string()])
        .args([
            "--rate-window",
            &humantime::format_duration(args.rate_window).to_string(),
        ])
        .arg("--config")
        .arg(config)
        .output()
        .map_err(|e| format!("sluice token create: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sluice token create: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("token JSON: {e}"))?;
    v["key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no key in the token JSON".to_owned())
}
