//! `sluice-load bench`: the same closed-loop load direct to the simulator and through the relay,
//! alternately, in one run; through the relay with the store, quota and limits on vs off
//! (`store`); speech audio streamed through, TTFB and throughput (`speech`); 1,000 slow
//! streams for RSS per open stream; the targets as pass/fail
//! lines. Layout on 2 cores: the relay pinned to one CPU, the simulator (in-process) and the load
//! generator (this process) pinned to the other, for the direct runs too.
//!
//! Owns: the scenarios, the order of runs, the RSS and CPU readings.
//! Must never: turn a timing into an assertion (exit 0 whatever the figures), or run unbounded.

pub mod cluster;
mod driver;
pub mod poll;
mod report;
mod speech;
mod store;
pub mod upload;

use crate::client::{self, Auth, Call};
use crate::probe::Probe;
use crate::relay::{self, Relay, Spawn, Tuning};
use bytes::Bytes;
use clap::Args as ClapArgs;
use driver::Run;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Measured time of each run (one target, one round).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Warm-up of each run, not measured.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Rounds of (direct, relay) per scenario.
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// CPU of the relay.
    #[arg(long, default_value_t = 0)]
    pub relay_cpu: usize,
    /// CPU of the simulator and the load generator.
    #[arg(long, default_value_t = 1)]
    pub load_cpu: usize,
    /// Do not pin (e.g. on a machine with one CPU; the comparison is then less fair).
    #[arg(long)]
    pub no_pin: bool,
    /// Concurrent slow streams for RSS per open stream (0 skips).
    #[arg(long, default_value_t = 1000)]
    pub slow_streams: usize,
    /// Report directory.
    #[arg(long, default_value = "bench-report")]
    pub out: PathBuf,
    /// The relay binary (default: built by cargo next to this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// RUST_LOG of the relay (its log, access log included, goes to OUT/relay.log).
    #[arg(long, default_value = "info")]
    pub relay_log: String,
    /// `upstream.pool_max_idle_per_host` of the relay: at least the highest concurrency, or
    /// the pool closes connections it could reuse (see BENCHMARKS.md).
    #[arg(long, default_value_t = 128)]
    pub pool_max_idle: usize,
    /// Run only the scenarios whose name contains this text (e.g. `c=32`).
    #[arg(long)]
    pub only: Option<String>,
    /// Skip the store on vs off comparison (a second relay with a SQLite store, a metered token).
    #[arg(long)]
    pub no_store: bool,
    /// Skip the speech scenarios (audio streamed through; `bench/speech.rs`).
    #[arg(long)]
    pub no_speech: bool,
}

/// Pins this process (the load generator and the in-process simulator) to `--load-cpu` before
/// the runtime starts, so every thread inherits it. Returns the runtime's worker count.
pub fn pin_self(args: &Args) -> Result<Option<usize>, String> {
    pin(args.no_pin, args.load_cpu)
}

/// Pins this process to `cpu` (unless `no_pin`); returns the runtime's worker count.
pub fn pin(no_pin: bool, cpu: usize) -> Result<Option<usize>, String> {
    if no_pin {
        return Ok(None);
    }
    let status = std::process::Command::new("taskset")
        .args([
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("taskset (util-linux) is needed to pin, or pass --no-pin: {e}"))?;
    if !status.success() {
        return Err(format!("taskset -p -c {cpu} failed: {status}"));
    }
    Ok(Some(1))
}

/// One load shape.
pub struct Scenario {
    pub name: &'static str,
    pub concurrency: usize,
    pub stream: bool,
    pub body: Bytes,
}

fn scenarios() -> Vec<Scenario> {
    let plain = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#;
    // The client asks for usage itself, so the relay passes the stream through and both runs
    // get the same events from the simulator.
    let stream = r#"{"model":"gpt-4o-mini","max_tokens":20,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"<<sim:drip=2ms..4ms>> Hello"}]}"#;
    // Without it the relay asks the upstream for a usage chunk (for accounting) and removes it:
    // one more upstream event, which the simulator drips like any other.
    let stream_no_usage = r#"{"model":"gpt-4o-mini","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"<<sim:drip=2ms..4ms>> Hello"}]}"#;
    vec![
        Scenario {
            name: "non-streaming c=32",
            concurrency: 32,
            stream: false,
            body: Bytes::from_static(plain.as_bytes()),
        },
        Scenario {
            name: "non-streaming c=128",
            concurrency: 128,
            stream: false,
            body: Bytes::from_static(plain.as_bytes()),
        },
        Scenario {
            name: "streaming c=64 (20 chunks, 2-4 ms apart)",
            concurrency: 64,
            stream: true,
            body: Bytes::from_static(stream.as_bytes()),
        },
        Scenario {
            name: "streaming c=64, client without include_usage",
            concurrency: 64,
            stream: true,
            body: Bytes::from_static(stream_no_usage.as_bytes()),
        },
    ]
}

/// A scenario's result: direct and through the relay, rounds merged.
pub struct Pair {
    pub name: &'static str,
    pub concurrency: usize,
    pub stream: bool,
    pub direct: Run,
    pub relay: Run,
    /// Relay CPU time per request answered during its runs (warm-up included), microseconds.
    pub relay_cpu_us: f64,
    /// Upstream connections the simulator accepted during the relay runs.
    pub relay_upstream_conns: u64,
}

/// The slow-streams measurement.
#[derive(Default, serde::Serialize)]
pub struct Slow {
    pub streams: usize,
    pub open_at_peak: u64,
    pub rss_before: u64,
    pub rss_peak: u64,
    pub per_stream_bytes: f64,
    pub back_to_zero_streams: bool,
}

pub async fn run(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let bin = relay::locate_binary(args.relay_bin.clone())?;
    let sim = sluice_sim::start(sluice_sim::SimConfig::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let listen = relay::free_port()?;
    let admin = relay::free_port()?;
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
    let config = args.out.join("relay.toml");
    std::fs::write(
        &config,
        relay::config_toml(listen, admin, sim.addr(), &tuning),
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let relay = Relay::start(Spawn {
        bin: &bin,
        config: &config,
        listen,
        admin,
        log: &args.out.join("relay.log"),
        log_filter: &args.relay_log,
        cpu: (!args.no_pin).then_some(args.relay_cpu),
        workers: None,
    })
    .await?;
    let probe = Probe::new(relay.admin, relay.pid)?;
    let workers = probe.health().await?["tokio_workers"].as_u64().unwrap_or(0);
    let layout = if args.no_pin {
        format!("not pinned (--no-pin); relay tokio workers: {workers}")
    } else {
        format!(
            "relay pinned to CPU {} (taskset -c {}; {workers} tokio worker); simulator (in-process) and load generator pinned to CPU {} (this process, 1 tokio worker); the same for the direct runs",
            args.relay_cpu, args.relay_cpu, args.load_cpu
        )
    };
    println!(
        "bench: relay pid {} on {}, simulator on {}",
        relay.pid,
        relay.addr,
        sim.addr()
    );
    println!("layout: {layout}");

    let peak = Arc::new(AtomicU64::new(0));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let mut watch = JoinSet::new();
    watch.spawn(watch_rss(relay.pid, peak.clone(), stop_watch.clone()));

    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_fresh = probe.rss();
    let relay_call = |body: &Bytes, stream| {
        Call::new(
            &relay.url("/v1/chat/completions"),
            Auth::Bearer(relay::TOKEN),
            body.clone(),
            stream,
        )
    };
    let direct_call = |body: &Bytes, stream| {
        Call::new(
            &format!("http://{}/openai/v1/chat/completions", sim.addr()),
            Auth::Bearer("sk-load-openai"),
            body.clone(),
            stream,
        )
    };
    // Warm the relay a little, close the connections, then read idle RSS.
    let scen = scenarios();
    {
        let c = client::client();
        let call = relay_call(&scen[0].body, false)?;
        let _ = driver::closed_loop(&c, &call, 8, Duration::ZERO, Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = probe.rss();
    println!(
        "RSS idle: {:.1} MiB fresh, {:.1} MiB after a warm-up",
        mib(rss_fresh),
        mib(rss_idle)
    );

    let slow = if args.slow_streams > 0 {
        let s = slow_streams(&probe, &relay, args.slow_streams).await?;
        println!(
            "slow streams: {} open, RSS {:.1} -> {:.1} MiB: {:.1} KiB per open stream",
            s.open_at_peak,
            mib(s.rss_before),
            mib(s.rss_peak),
            s.per_stream_bytes / 1024.0
        );
        s
    } else {
        Slow::default()
    };

    let mut pairs = Vec::new();
    let load_before = loadavg();
    for s in scen
        .iter()
        .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
    {
        let (dcall, rcall) = (
            direct_call(&s.body, s.stream)?,
            relay_call(&s.body, s.stream)?,
        );
        let mut direct: Option<Run> = None;
        let mut through: Option<Run> = None;
        let (mut cpu, mut answered, mut conns) = (0.0, 0u64, 0u64);
        for round in 1..=args.rounds {
            let d = driver::closed_loop(
                &client::client(),
                &dcall,
                s.concurrency,
                args.warmup,
                args.duration,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (cpu0, acc0) = (proc_cpu_secs(relay.pid), sim.stats().connections_accepted);
            let r = driver::closed_loop(
                &client::client(),
                &rcall,
                s.concurrency,
                args.warmup,
                args.duration,
            )
            .await;
            cpu += proc_cpu_secs(relay.pid) - cpu0;
            conns += sim.stats().connections_accepted - acc0;
            answered += r.all;
            tokio::time::sleep(Duration::from_millis(300)).await;
            println!(
                "{} round {round}: direct {:.0} req/s p50 {:.2} ms p99 {:.2} ms | relay {:.0} req/s p50 {:.2} ms p99 {:.2} ms",
                s.name,
                d.rps(),
                d.p(0.5),
                d.p(0.99),
                r.rps(),
                r.p(0.5),
                r.p(0.99)
            );
            merge_into(&mut direct, d);
            merge_into(&mut through, r);
        }
        if let (Some(direct), Some(relay)) = (direct, through) {
            pairs.push(Pair {
                name: s.name,
                concurrency: s.concurrency,
                stream: s.stream,
                direct,
                relay,
                relay_cpu_us: cpu * 1e6 / answered.max(1) as f64,
                relay_upstream_conns: conns,
            });
        }
    }
    let speech = if args.no_speech {
        Vec::new()
    } else {
        speech::compare(&args, &relay, sim.addr()).await?
    };
    let store = if args.no_store {
        Vec::new()
    } else {
        let picked: Vec<_> = scen
            .iter()
            .filter(|s| s.name == "non-streaming c=32" || s.name.starts_with("streaming c=64 ("))
            .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
            .map(|s| (s.name, s.concurrency, s.stream, s.body.clone()))
            .collect();
        store::compare(&args, &bin, sim.addr(), &tuning, &relay, &picked).await?
    };
    let load_after = loadavg();
    stop_watch.store(true, Ordering::SeqCst);
    while watch.join_next().await.is_some() {}
    let stop = relay.stop(tuning.shutdown_grace).await;
    sim.shutdown().await;

    let r = report::Report {
        args: &args,
        layout,
        pairs,
        store,
        slow,
        rss_fresh,
        rss_idle,
        rss_peak: peak.load(Ordering::SeqCst),
        stop: json!(stop),
        loadavg: (load_before, load_after),
    };
    r.write()?;
    speech::write(&args, &speech)?;
    Ok(true)
}

/// The 1-minute load average (other work on the machine skews the figures).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn merge_into(acc: &mut Option<Run>, r: Run) {
    match acc {
        Some(a) => a.merge(&r),
        None => *acc = Some(r),
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

/// Opens `n` slow streams through the relay at once, reads RSS when they are all open, then
/// drops them (the clients disconnect) and checks that the relay's stream count returns to 0.
async fn slow_streams(probe: &Probe, relay: &Relay, n: usize) -> Result<Slow, String> {
    // 30 events, 500 ms apart: each stream lasts ~15 s unless dropped first.
    let body = r#"{"model":"gpt-4o-mini","max_tokens":30,"stream":true,"messages":[{"role":"user","content":"<<sim:drip=500ms..500ms>> Hello"}]}"#;
    let call = Call::new(
        &relay.url("/v1/chat/completions"),
        Auth::Bearer(relay::TOKEN),
        Bytes::from_static(body.as_bytes()),
        true,
    )?;
    let rss_before = probe.rss();
    let c = client::client();
    let mut streams = JoinSet::new();
    for _ in 0..n {
        let (c, call) = (c.clone(), call.clone());
        streams.spawn(async move {
            tokio::time::timeout(
                Duration::from_secs(60),
                client::send(&c, &call, client::Reading::Full),
            )
            .await
            .ok()
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = 0;
    while Instant::now() < deadline {
        open = probe.sample().await?.open_streams;
        if open >= n as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut rss_peak = 0;
    for _ in 0..5 {
        rss_peak = rss_peak.max(probe.rss());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    streams.abort_all();
    while streams.join_next().await.is_some() {}
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut back = false;
    while Instant::now() < deadline {
        if probe.sample().await?.open_streams == 0 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Slow {
        streams: n,
        open_at_peak: open,
        rss_before,
        rss_peak,
        per_stream_bytes: rss_peak.saturating_sub(rss_before) as f64 / open.max(1) as f64,
        back_to_zero_streams: back,
    })
}

/// Keeps the highest RSS of the relay seen every 50 ms.
async fn watch_rss(pid: u32, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let rss = crate::probe::proc_rss(pid);
        peak.fetch_max(rss, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// User + system CPU seconds of a process (`/proc/<pid>/stat`, clock ticks of 1/100 s).
fn proc_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    (tick(11) + tick(12)) / 100.0
}
