//! `sluice-sim`: runs the simulator until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use clap::Parser;
use sluice_sim::{GoogleOAuthConfig, Mix, Provider, Scenario, ServiceAccountKey, SimConfig};

/// Imitates upstream LLM providers (OpenAI, Anthropic, xAI, Gemini, Vertex AI) with fault
/// injection.
#[derive(Parser, Debug)]
#[command(name = "sluice-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Seed for every random choice (mix, scenario weights, drip jitter).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A TOML scenario file of fault rules (see fixtures/scenarios/).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// A seeded fault mix, e.g. 'status=429:5%, status=503:3%, truncate=200:2%, reset:1%'.
    #[arg(long)]
    mix: Option<String>,
    /// Lifetime of the Vertex AI access tokens the Google OAuth endpoint issues.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    google_token_lifetime: Duration,
    /// A service account whose assertions must be signed by its key: EMAIL=PUBLIC_KEY_PEM_FILE
    /// (repeatable; without any, signatures are not checked).
    #[arg(long, value_name = "EMAIL=PEM_FILE")]
    google_service_account: Vec<String>,
}

fn service_account(spec: &str) -> Result<ServiceAccountKey, String> {
    let (email, file) = spec
        .split_once('=')
        .ok_or_else(|| format!("--google-service-account {spec}: expected EMAIL=PEM_FILE"))?;
    let pem = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    ServiceAccountKey::from_pem(email, &pem)
        .map_err(|e| format!("{file}: not an RSA public key: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sluice-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let scenario = match &args.scenario {
        Some(path) => Some(Scenario::from_file(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let mix = match &args.mix {
        Some(text) => Some(Mix::parse(text).map_err(|e| format!("--mix: {e}"))?),
        None => None,
    };
    let service_accounts = args
        .google_service_account
        .iter()
        .map(|s| service_account(s))
        .collect::<Result<Vec<_>, _>>()?;
    let config = SimConfig {
        listen: args.listen,
        seed: args.seed,
        scenario,
        mix,
        google_oauth: GoogleOAuthConfig {
            token_lifetime: args.google_token_lifetime,
            service_accounts,
        },
        ..SimConfig::default()
    };
    let sim = sluice_sim::start(config)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    for p in Provider::ALL {
        println!("{:<12} {}", p.as_str(), sim.base_url(p));
    }
    println!("{:<12} http://{}/__sim/stats", "stats", sim.addr());
    wait_for_signal().await.map_err(|e| e.to_string())?;
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
