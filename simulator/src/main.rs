//! `sluice-sim`: runs the simulator until SIGINT or SIGTERM.

use std::net::SocketAddr;

use clap::Parser;
use sluice_sim::{Provider, SimConfig};

/// Imitates upstream LLM providers (OpenAI, Anthropic, xAI) with fault injection.
#[derive(Parser, Debug)]
#[command(name = "sluice-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let config = SimConfig {
        listen: args.listen,
        seed: args.seed,
    };
    let sim = sluice_sim::start(config).await?;
    for p in Provider::ALL {
        println!("{:<10} {}", p.as_str(), sim.base_url(p));
    }
    println!("{:<10} http://{}/__sim/stats", "stats", sim.addr());
    wait_for_signal().await?;
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
