//! `sluice-load`: the soak run (leaks under sustained faulty load, issue #5) and the load
//! benchmark (relay vs direct, issue #7; two instances with shared limits, issue 15). One crate,
//! one load client, one way to start and stop the relay as a child process, so both tools
//! measure the same relay the same way.

mod bench;
mod client;
mod probe;
mod relay;
mod soak;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sluice-load",
    version,
    about = "sluice's soak run and load benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Relay + simulator (soak fault mix) + mixed load with disconnects for a duration; fails
    /// (exit 1) on an upward trend or a missed return to baseline. Report in --out.
    Soak(soak::Args),
    /// Same load direct to the simulator and through the relay, alternately, on pinned cores;
    /// prints the results table and the targets as pass/fail lines (exit 0 either way).
    Bench(bench::Args),
    /// One 25 MiB WAV transcription through the relay in each part order; prints the relay's
    /// RSS growth over it (VmRSS, VmHWM).
    Upload(bench::upload::Args),
    /// Thousands of pending video tasks over the video providers: one full round of polls'
    /// time, the poller's tasks, connections and fds against its concurrency, RSS per task.
    Poll(bench::poll::Args),
    /// Two relays on one PostgreSQL store, the same load spread over both, limits local to each
    /// instance (A) vs shared through Redis (B), alternately on pinned cores; prints the added
    /// p99 against its target and whether B really used Redis (exit 1 if not).
    Cluster(bench::cluster::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Soak(args) => runtime(None).and_then(|rt| rt.block_on(soak::run(args))),
        Command::Bench(args) => bench::pin_self(&args)
            .and_then(runtime)
            .and_then(|rt| rt.block_on(bench::run(args))),
        Command::Upload(args) => runtime(None).and_then(|rt| rt.block_on(bench::upload::run(args))),
        Command::Poll(args) => runtime(None).and_then(|rt| rt.block_on(bench::poll::run(args))),
        Command::Cluster(args) => bench::pin(args.no_pin, args.load_cpu)
            .and_then(runtime)
            .and_then(|rt| rt.block_on(bench::cluster::run(args))),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sluice-load: {e}");
            ExitCode::from(2)
        }
    }
}

fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = workers {
        b.worker_threads(w);
    }
    b.enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}
