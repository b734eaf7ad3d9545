//! `sluice-load soak`: the relay (a child process) in front of the simulator (in-process, with
//! the soak fault mix) under a mixed, faulty load with disconnects for a given time; sampled
//! every second; judged on trends and on the return to baseline; stopped with SIGTERM.
//!
//! Owns: the soak's phases (idle baseline, warm-up, load, settle, stop) and its sampler.
//! Must never: run unbounded: the load has an end time, every request a client deadline, the
//! settle phase a deadline, and the relay a stop deadline.

mod chart;
mod load;
mod report;
mod verdict;

use crate::probe::{Probe, Sample};
use crate::relay::{self, Relay, Spawn, Tuning};
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// How long the load runs (e.g. 30s, 10m, 1h).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub duration: Duration,
    /// Requests started per second (open loop).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Report directory (created; files in it are overwritten).
    #[arg(long, default_value = "soak-report")]
    pub out: PathBuf,
    /// Samples excluded from the trend fit at the start of the load. Default: a third of the
    /// duration, at most 5 minutes.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// After the load, how long the relay may take to return to baseline.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
    pub settle: Duration,
    /// Simulator fault scenario (default: fixtures/scenarios/soak-mix.toml).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Seed of the simulator and of the request mix.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Most requests open at once; ticks beyond it are shed and counted.
    #[arg(long, default_value_t = 2000)]
    pub max_in_flight: usize,
    /// Trend tolerance of live tasks, per minute.
    #[arg(long, default_value_t = 1.0)]
    pub max_tasks_slope: f64,
    /// Trend tolerance of connections, open streams and CLOSE_WAIT sockets, per minute.
    #[arg(long, default_value_t = 1.0)]
    pub max_conns_slope: f64,
    /// Trend tolerance of open fds, per minute.
    #[arg(long, default_value_t = 1.0)]
    pub max_fds_slope: f64,
    /// Trend tolerance of RSS, MiB per minute.
    #[arg(long, default_value_t = 1.0)]
    pub max_rss_slope: f64,
    /// Trend tolerance of OS threads, per minute.
    #[arg(long, default_value_t = 1.0)]
    pub max_threads_slope: f64,
    /// Final RSS may exceed the RSS at the end of warm-up by this many MiB.
    #[arg(long, default_value_t = 4.0)]
    pub rss_slack: f64,
    /// The relay binary (default: built by cargo next to this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// RUST_LOG of the relay (its log goes to OUT/relay.log).
    #[arg(long, default_value = "info")]
    pub relay_log: String,
    /// Print a progress line this often.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub progress: Duration,
}

/// The relay's settings in the soak: short deadlines so stalls resolve, a short pool lifetime.
fn tuning() -> Tuning {
    Tuning {
        shutdown_grace: Duration::from_secs(5),
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(3),
        stream_idle: Duration::from_secs(2),
        total: Duration::from_secs(20),
        error_body: Duration::from_secs(1),
        keepalive: Duration::from_secs(1),
        pool_max_idle_per_host: 16,
        pool_idle_timeout: Duration::from_secs(5),
    }
}

/// One row of the report: a sample with the phase and the load's totals at that time.
#[derive(Clone, Debug)]
pub struct Row {
    /// Seconds since the first sample.
    pub t: f64,
    pub phase: &'static str,
    pub s: Sample,
    pub requests: u64,
    pub errors: u64,
}

const PHASES: [&str; 4] = ["idle", "warmup", "load", "settle"];

struct Sampling {
    rows: Mutex<Vec<Row>>,
    phase: AtomicU8,
    stop: AtomicBool,
    failures: Mutex<u64>,
}

fn rows(s: &Sampling) -> std::sync::MutexGuard<'_, Vec<Row>> {
    s.rows.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the soak; `Ok(true)` when every check passed.
pub async fn run(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let warmup = args
        .warmup
        .unwrap_or_else(|| (args.duration / 3).min(Duration::from_secs(300)));
    let bin = relay::locate_binary(args.relay_bin.clone())?;

    let scenario_path = args.scenario.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios/soak-mix.toml")
    });
    let scenario = sluice_sim::Scenario::from_file(&scenario_path)
        .map_err(|e| format!("{}: {e}", scenario_path.display()))?;
    let sim = sluice_sim::start(sluice_sim::SimConfig {
        seed: args.seed,
        scenario: Some(scenario),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("simulator: {e}"))?;

    let t = tuning();
    let listen = relay::free_port()?;
    let admin = relay::free_port()?;
    let config_path = args.out.join("relay.toml");
    std::fs::write(
        &config_path,
        relay::config_toml(listen, admin, sim.addr(), &t),
    )
    .map_err(|e| format!("{}: {e}", config_path.display()))?;
    let relay = Relay::start(Spawn {
        bin: &bin,
        config: &config_path,
        listen,
        admin,
        log: &args.out.join("relay.log"),
        log_filter: &args.relay_log,
        cpu: None,
        workers: None,
    })
    .await?;
    println!(
        "soak: relay pid {} on {} ({}), simulator on {} with {}; {} at {}/s, warm-up {}",
        relay.pid,
        relay.addr,
        bin.display(),
        sim.addr(),
        scenario_path.display(),
        humantime::format_duration(args.duration),
        args.rate,
        humantime::format_duration(warmup)
    );

    let probe = Arc::new(Probe::new(relay.admin, relay.pid)?);
    let tally = Arc::new(Mutex::new(load::Tally::new()?));
    let sampling = Arc::new(Sampling {
        rows: Mutex::new(Vec::new()),
        phase: AtomicU8::new(0),
        stop: AtomicBool::new(false),
        failures: Mutex::new(0),
    });
    let mut background = JoinSet::new();
    let csv = report::Csv::create(&args.out.join("samples.csv"))?;
    background.spawn(sampler(
        probe.clone(),
        tally.clone(),
        sampling.clone(),
        args.progress,
        csv,
    ));

    // Idle baseline: a few samples of the relay before any load.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let idle = rows(&sampling)
        .last()
        .map(|r| r.s.clone())
        .unwrap_or_default();

    // Load: warm-up, then the measured phase; the phase flips on a timer.
    sampling.phase.store(1, Ordering::SeqCst);
    let load_start = Instant::now();
    let plan = Arc::new(load::Plan::soak(&relay.url(""))?);
    let client = crate::client::client();
    let drive = load::drive(
        plan,
        client.clone(),
        load::Drive {
            rate: args.rate,
            duration: args.duration,
            max_in_flight: args.max_in_flight,
            client_deadline: t.total + Duration::from_secs(10),
            seed: args.seed,
        },
        tally.clone(),
        || sampling.phase.store(3, Ordering::SeqCst),
    );
    let flip = async {
        tokio::time::sleep(warmup).await;
        let _ = sampling
            .phase
            .compare_exchange(1, 2, Ordering::SeqCst, Ordering::SeqCst);
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = drive => {}
        () = flip => {}
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    drop(client); // closes the load's idle connections to the relay
    let warm = rows(&sampling)
        .iter()
        .rfind(|r| r.phase == "warmup")
        .map(|r| r.s.clone())
        .unwrap_or_default();

    let tol = verdict::Tolerances {
        tasks_per_min: args.max_tasks_slope,
        conns_per_min: args.max_conns_slope,
        fds_per_min: args.max_fds_slope,
        rss_mib_per_min: args.max_rss_slope,
        threads_per_min: args.max_threads_slope,
        rss_final_slack_mib: args.rss_slack,
        pool_bound: t.pool_max_idle_per_host as u64,
    };
    // Settle: until every final count is back within bounds, or the deadline.
    let settle_start = Instant::now();
    let mut settled = false;
    while settle_start.elapsed() < args.settle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let last = rows(&sampling)
            .last()
            .filter(|r| r.phase == "settle")
            .cloned();
        if let Some(last) = last {
            if verdict::finals(&idle, &warm, &last.s, &tol)
                .iter()
                .all(|f| f.ok)
            {
                settled = true;
                break;
            }
        }
    }
    // One more sample after the decision, so the report ends on a settled reading.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sampling.stop.store(true, Ordering::SeqCst);
    while background.join_next().await.is_some() {}
    let settle_secs = settle_start.elapsed().as_secs_f64();

    let sim_stats = sim_stats(sim.addr()).await;
    let counters = probe.health().await.ok().map(|h| h["counters"].clone());
    let stop = relay.stop(t.shutdown_grace).await;
    sim.shutdown().await;

    let rows = std::mem::take(&mut *rows(&sampling));
    let failures = *sampling
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let last = rows.last().map(|r| r.s.clone()).unwrap_or_default();
    let tally = std::mem::replace(&mut *load::lock(&tally), load::Tally::new()?);
    let r = report::Report {
        args: &args,
        warmup,
        load_secs,
        settle_secs,
        settled,
        trends: verdict::trends(&rows, &tol),
        finals: verdict::finals(&idle, &warm, &last, &tol),
        tol,
        idle,
        tally,
        sim_stats,
        relay_counters: counters,
        stop,
        sample_failures: failures,
        rows,
    };
    r.write()
}

/// The simulator's `/__sim/stats` (faults injected, requests per endpoint).
async fn sim_stats(addr: std::net::SocketAddr) -> serde_json::Value {
    use http_body_util::{BodyExt, Full};
    let client = crate::client::client();
    let Ok(uri) = format!("http://{addr}/__sim/stats").parse::<http::Uri>() else {
        return serde_json::Value::Null;
    };
    let Ok(req) = http::Request::get(uri).body(Full::new(bytes::Bytes::new())) else {
        return serde_json::Value::Null;
    };
    let fut = async {
        let body = client
            .request(req)
            .await
            .ok()?
            .into_body()
            .collect()
            .await
            .ok()?;
        serde_json::from_slice(&body.to_bytes()).ok()
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
        .unwrap_or(serde_json::Value::Null)
}

/// Samples the relay every second until told to stop; prints progress.
async fn sampler(
    probe: Arc<Probe>,
    tally: load::Shared,
    s: Arc<Sampling>,
    every: Duration,
    mut csv: report::Csv,
) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_print = Instant::now();
    let mut last_count = 0u64;
    while !s.stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let sample = match probe.sample().await {
            Ok(x) => x,
            Err(e) => {
                *s.failures.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                eprintln!("soak: sample failed: {e}");
                continue;
            }
        };
        let (requests, errors, started, shed) = {
            let t = load::lock(&tally);
            (t.finished, t.errors_total, t.started, t.shed)
        };
        let phase = PHASES[usize::from(s.phase.load(Ordering::SeqCst)).min(3)];
        let t = start.elapsed().as_secs_f64();
        if last_print.elapsed() >= every {
            let secs = last_print.elapsed().as_secs_f64();
            println!(
                "[{t:6.0}s {phase:6}] requests {requests} ({:.0}/s, {} open, {shed} shed), errors {errors} | relay: tasks {} in {} up {} streams {} fds {} rss {:.1} MiB threads {} close_wait {}",
                (requests - last_count) as f64 / secs,
                started - requests,
                sample.live_tasks,
                sample.inbound_connections,
                sample.upstream_connections,
                sample.open_streams,
                sample.open_fds,
                sample.rss_bytes as f64 / 1048576.0,
                sample.threads,
                sample.tcp_close_wait
            );
            last_print = Instant::now();
            last_count = requests;
        }
        let row = Row {
            t,
            phase,
            s: sample,
            requests,
            errors,
        };
        csv.row(&row);
        rows(&s).push(row);
    }
}
