//! The `sluice` command line: `sluice serve [--config FILE]`, `sluice check-config FILE`,
//! `sluice monitor [URL] [--once]`, `sluice token create|list|show|update|revoke`,
//! `sluice migrate [--check]`.

use clap::{Parser, Subcommand};
#[cfg(feature = "demo")]
use sluice::demo::Demo;
use sluice::server::{bind, Listeners};
use sluice::{AppState, Config, StartError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "An LLM API relay that leaks nothing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, global = true, env = "SLUICE_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay. Without --config, serves demo models from the embedded simulator (the
    /// `demo` feature, on by default).
    Serve {
        /// TOML config file (see README.md and fixtures/).
        #[arg(long, short, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address; overrides the config's `listen`.
        #[arg(long, env = "SLUICE_LISTEN")]
        listen: Option<SocketAddr>,
        /// Admin listener (`/api/*`, `/metrics`, full health); overrides the config's
        /// `admin_listen`. The demo's default: 127.0.0.1, the port after --listen's.
        #[arg(long, env = "SLUICE_ADMIN_LISTEN")]
        admin_listen: Option<SocketAddr>,
    },
    /// Check a config file and exit.
    CheckConfig { config: PathBuf },
    /// Watch a running relay's health: gauges, trends, status. With --once, print one sample
    /// and exit 0 (ok or warn), 2 (critical) or 1 (unreachable).
    Monitor(sluice::monitor::cli::Args),
    /// Client tokens in the store: create (the key is printed once), list, show, update,
    /// revoke.
    Token(sluice::store::cli::TokenArgs),
    /// Run the store's migrations; with --check, report them without changing anything.
    Migrate(sluice::store::cli::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sluice: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Monitor(args) => {
            return ExitCode::from(runtime.block_on(sluice::monitor::cli::run(args)));
        }
        Command::Token(args) => return runtime.block_on(sluice::store::cli::run_token(args)),
        Command::Migrate(args) => return runtime.block_on(sluice::store::cli::run_migrate(args)),
        Command::Serve {
            config,
            listen,
            admin_listen,
        } => runtime.block_on(serve(config, listen, admin_listen)),
        Command::CheckConfig { config } => Config::load(&config)
            .map(|c| {
                println!(
                    "{}: ok ({} channels, {} tokens)",
                    config.display(),
                    c.channels.len(),
                    c.tokens.len()
                )
            })
            .map_err(StartError::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
) -> Result<(), StartError> {
    // Kept alive for the whole run when in demo mode.
    let mut demo = None;
    let mut config = match config {
        Some(path) => Config::load(&path)?,
        None => {
            let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
            let (d, c) = Demo::start(listen).await?;
            demo = Some(d);
            c
        }
    };
    if let Some(l) = listen {
        config.listen = l;
    }
    if let Some(a) = admin_listen {
        config.admin_listen = Some(a);
    }
    let public = bind(config.listen).await?;
    let local = public.local_addr().unwrap_or(config.listen);
    let admin = match config.admin_listen {
        Some(a) => Some(bind(a).await?),
        // The demo's admin listener: loopback, next to the public port (any free port if that
        // one is taken), so its channels, metrics and health are one curl away.
        None if demo.is_some() => Some(demo_admin(local).await?),
        None => None,
    };
    let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
    config.admin_listen = admin_addr.or(config.admin_listen);
    let state = AppState::open(config).await?;
    tracing::info!(%local, admin = ?admin_addr, "sluice listening");
    if let Some(d) = &demo {
        print!("{}", d.banner(local, admin_addr));
    }
    sluice::serve(
        state,
        Listeners::from_parts(public, admin),
        shutdown_signal(),
    )
    .await?;
    if let Some(d) = demo.take() {
        d.stop().await;
    }
    tracing::info!("sluice stopped");
    Ok(())
}

/// Demo mode in a relay built without the `demo` feature: refused (no simulator is linked).
#[cfg(not(feature = "demo"))]
enum Demo {}

#[cfg(not(feature = "demo"))]
impl Demo {
    async fn start(_listen: SocketAddr) -> Result<(Self, Config), StartError> {
        Err(StartError::NoDemo)
    }

    fn banner(&self, _local: SocketAddr, _admin: Option<SocketAddr>) -> String {
        match *self {}
    }

    async fn stop(self) {
        match self {}
    }
}

/// 127.0.0.1 on the port after `public`'s, or any free loopback port.
async fn demo_admin(public: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    let next = public.port().checked_add(1).filter(|_| public.port() != 0);
    if let Some(port) = next {
        if let Ok(l) = bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            return Ok(l);
        }
    }
    bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
