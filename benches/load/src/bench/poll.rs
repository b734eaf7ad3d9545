//! `sluice-load poll`: the poll soak. Thousands of pending video tasks over the eight video
//! providers (the simulator keeps them running), created through the relay; then the poller's
//! figures: how long one full round of polls takes, whether its tasks, connections and fds stay
//! flat and bounded by its concurrency while it polls, and the relay's memory per pending task.
//!
//! Owns: the task load, the readings and their lines in the output.
//! Must never: turn a figure into an assertion beyond its printed verdict line (the run fails
//! only when a count grows or the relay stops answering), or run unbounded (every wait is
//! bounded in time).

use crate::client::{self, Auth, Call, Outcome, Reading};
use crate::probe::{Probe, Sample};
use crate::relay::{self, Relay, Spawn, Tuning};
use bytes::Bytes;
use clap::Args as ClapArgs;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One model per video provider of the generated config, and its channel (Veo on the Gemini
/// API: Vertex AI's needs a service account and its token endpoint, which the soak leaves out).
const MODELS: [(&str, &str, &str, &str, &str); 8] = [
    // (model, channel, provider, path under the simulator, key)
    ("sora-2", "sora", "openai", "openai/v1", "sk-load-sora"),
    ("kling-v1", "kling", "kling", "kling", "ak-load:sk-load"),
    ("gen4_turbo", "runway", "runway", "runway", "key_load"),
    ("ray-2", "luma", "luma", "luma", "luma-load"),
    (
        "cogvideox-3",
        "zhipu",
        "zhipu",
        "zhipu",
        "load-id.load-secret",
    ),
    (
        "wan2.2-t2v-plus",
        "dashscope",
        "dashscope",
        "dashscope",
        "sk-load-dashscope",
    ),
    ("V4_Preview", "viggle", "viggle", "viggle", "vgl-load-key"),
    (
        "veo-3.0-generate-001",
        "gemini",
        "gemini",
        "gemini/v1beta",
        "AIzaLoadKey",
    ),
];

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Report directory (the relay's config, store and log).
    #[arg(long, default_value = "bench-report")]
    pub out: PathBuf,
    /// The relay binary (default: built by cargo next to this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// Pending tasks to create (spread over the providers).
    #[arg(long, default_value_t = 5000)]
    pub tasks: usize,
    /// The relay's `video.poll_concurrency`.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Full rounds of polls to watch after the tasks are created.
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// How long the simulator runs each task (the default keeps them pending for the run; a
    /// short one shows what creates cost when tasks end at once).
    #[arg(long, default_value = "3600s")]
    pub run: String,
}

fn config(
    args: &Args,
    listen: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    sim: std::net::SocketAddr,
) -> String {
    let tuning = Tuning {
        shutdown_grace: Duration::from_secs(5),
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(30),
        stream_idle: Duration::from_secs(30),
        total: Duration::from_secs(60),
        error_body: Duration::from_secs(5),
        keepalive: Duration::from_secs(15),
        pool_max_idle_per_host: 64,
        pool_idle_timeout: Duration::from_secs(90),
    };
    let mut toml = relay::config_toml(listen, admin, sim, &tuning);
    for (model, channel, provider, path, key) in MODELS {
        toml.push_str(&format!(
            "\n[[channels]]\nname = \"{channel}\"\nprovider = \"{provider}\"\nbase_url = \"http://{sim}/{path}\"\nkeys = [\"{key}\"]\nmodels = [\"{model}\"]\n"
        ));
    }
    toml.push_str(&format!(
        "\n[store]\ndata_dir = \"{}\"\n\n[video]\npoll_concurrency = {}\npoll_batch = 1024\npoll_interval = \"1s\"\nlease = \"120s\"\n",
        args.out.join("poll-store").display(),
        args.concurrency.max(1),
    ));
    toml
}

pub async fn run(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let _ = std::fs::remove_dir_all(args.out.join("poll-store"));
    let bin = relay::locate_binary(args.relay_bin.clone())?;
    let sim = sluice_sim::start(sluice_sim::SimConfig::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let (listen, admin) = (relay::free_port()?, relay::free_port()?);
    let path = args.out.join("relay-poll.toml");
    std::fs::write(&path, config(&args, listen, admin, sim.addr()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let relay = Relay::start(Spawn {
        bin: &bin,
        config: &path,
        listen,
        admin,
        log: &args.out.join("relay-poll.log"),
        log_filter: "warn",
        cpu: None,
        workers: None,
    })
    .await?;
    let probe = Probe::new(admin, relay.pid)?;
    let c = client::client();
    // A few tasks first, so the poller's connections and the store's pages exist before the
    // baseline.
    let _ = create(&c, &relay, 0, 20, &args.run).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = probe.sample().await?;
    println!(
        "poll soak: {} pending tasks over {} video channels, poll_concurrency {} (relay pid {})",
        args.tasks,
        MODELS.len(),
        args.concurrency,
        relay.pid
    );
    let started = Instant::now();
    // In two halves, so the memory per task is read apart from what the relay holds whatever
    // the count (its SQLite page caches fill, its allocator grows to the load's working size).
    let half = args.tasks / 2;
    let (ok1, failed1) = create(&c, &relay, 20, 20 + half, &args.run).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let middle = probe.sample().await?;
    let (ok2, failed2) = create(&c, &relay, 20 + half, 20 + args.tasks, &args.run).await;
    let (ok, failed) = (ok1 + ok2, failed1 + failed2);
    println!(
        "  created {ok} tasks in {:.1} s ({failed} creates failed)",
        started.elapsed().as_secs_f64()
    );
    let mut verdict = failed == 0;
    let mut peak = before.clone();
    let mut round_times = Vec::new();
    for _ in 0..args.rounds.clamp(1, 10) {
        let from = sim.stats().requests_total;
        let t = Instant::now();
        let want = from + ok as u64;
        let mut done = false;
        while t.elapsed() < Duration::from_secs(120) {
            let s = probe.sample().await?;
            peak = max_of(&peak, &s);
            if sim.stats().requests_total >= want {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let took = t.elapsed();
        if !done {
            println!("  a round of {ok} polls did not finish within 120 s");
            verdict = false;
            break;
        }
        round_times.push(took);
        println!("  one round of {ok} polls: {:.1} s", took.as_secs_f64());
    }
    let after = probe.sample().await?;
    let per_task = after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / ok.max(1) as f64;
    let marginal = after.rss_bytes.saturating_sub(middle.rss_bytes) as f64 / ok2.max(1) as f64;
    println!(
        "  relay while polling: live tasks {} -> peak {}, upstream connections {} -> peak {}, fds {} -> peak {}",
        before.live_tasks, peak.live_tasks, before.upstream_connections, peak.upstream_connections, before.open_fds, peak.open_fds
    );
    println!(
        "  RSS {:.1} MiB before, {:.1} MiB with {ok1} pending tasks, {:.1} MiB with {ok}: {per_task:.0} bytes per pending task in all, {marginal:.0} bytes per task of the second half",
        before.rss_bytes as f64 / 1048576.0,
        middle.rss_bytes as f64 / 1048576.0,
        after.rss_bytes as f64 / 1048576.0,
    );
    let bound = (args.concurrency as u64) * 2 + 16;
    let flat = peak.upstream_connections <= before.upstream_connections + bound
        && peak.live_tasks <= before.live_tasks + bound
        && peak.open_fds <= before.open_fds + bound;
    let fast = round_times.iter().all(|t| *t < Duration::from_secs(60));
    let small = marginal < 2048.0;
    println!(
        "  {}: tasks, connections and fds bounded by the poll concurrency (+{bound})",
        pass(flat)
    );
    println!("  {}: one full round under 60 s", pass(fast));
    println!(
        "  {}: RSS per pending task under 2 KiB (the second half's)",
        pass(small)
    );
    verdict &= flat;
    let stop = relay.stop(Duration::from_secs(5)).await;
    if !stop.exited_within_grace {
        println!("relay stop: {}", stop.status);
    }
    sim.shutdown().await;
    Ok(verdict)
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn max_of(a: &Sample, b: &Sample) -> Sample {
    Sample {
        live_tasks: a.live_tasks.max(b.live_tasks),
        upstream_connections: a.upstream_connections.max(b.upstream_connections),
        open_fds: a.open_fds.max(b.open_fds),
        ..b.clone()
    }
}

/// Creates tasks `from..to` (each running `run` in the simulator), 32 at a time; `(ok, failed)`.
async fn create(
    c: &client::Client,
    relay: &Relay,
    from: usize,
    to: usize,
    run: &str,
) -> (usize, usize) {
    let url = relay.url("/v1/videos");
    let calls = (from..to).map(|i| {
        let (model, ..) = MODELS[i % MODELS.len()];
        let body = serde_json::json!({
            "model": model,
            "prompt": format!("pending task {i} [sim:run={run}]"),
            "seconds": "4",
        });
        Call::new(
            &url,
            Auth::Bearer(relay::TOKEN),
            Bytes::from(body.to_string()),
            false,
        )
    });
    let outcomes = futures_util::stream::iter(calls)
        .map(|call| async move {
            match call {
                Ok(call) => client::send(c, &call, Reading::Full).await.outcome == Outcome::Ok,
                Err(_) => false,
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<bool>>()
        .await;
    let ok = outcomes.iter().filter(|o| **o).count();
    (ok, outcomes.len() - ok)
}
