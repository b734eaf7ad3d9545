//! `sluice monitor [URL]`: polls a relay's `/api/monitor/health` and draws its gauges, trends
//! and status in the terminal; with `--once`, prints one sample and exits with a code scripts
//! can act on. The full view needs the admin token (`--token`, `SLUICE_ADMIN_TOKEN`) or the admin
//! listener's URL; otherwise only the status is shown.
//!
//! Owns: the command's arguments, the poll, the plain-text view, the exit codes.
//! Must never: depend on the relay's types for the JSON (a newer or older relay must still
//! show), or wait on a relay without a deadline.

mod view;

pub use view::render;

use super::health::HEALTH_PATH;
use serde_json::Value;
use std::fmt::Write;
use std::io::IsTerminal;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
pub const EXIT_UNREACHABLE: u8 = 1;
pub const EXIT_CRITICAL: u8 = 2;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Base URL of the relay.
    #[arg(default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Time between polls (humantime: 5s, 1m).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Print one sample and exit: 0 ok or warn, 2 critical or draining, 1 unreachable.
    #[arg(long)]
    pub once: bool,
    /// The relay's admin_token (the top-level key): the full view needs it, unless URL is the
    /// admin listener of a relay that has none.
    #[arg(long, env = "SLUICE_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime_serde::re::humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be above 0".to_owned());
    }
    Ok(d)
}

/// Runs the command; returns the process exit code.
pub async fn run(args: Args) -> u8 {
    let client = match client(args.interval) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sluice monitor: cannot build an HTTP client: {e}");
            return EXIT_UNREACHABLE;
        }
    };
    let url = health_url(&args.url);
    if args.once {
        let polled = fetch(&client, &url, args.token.as_deref()).await;
        return match &polled {
            Ok(v) => {
                emit(&render(v, &args.url, std::io::stdout().is_terminal()));
                exit_code(&polled)
            }
            Err(e) => {
                eprintln!("sluice monitor: {url}: {e}");
                EXIT_UNREACHABLE
            }
        };
    }
    let mut tick = tokio::time::interval(args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // One listener for the whole run, so a Ctrl-C during a poll is not lost.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let every = humantime_serde::re::humantime::format_duration(args.interval);
    loop {
        let draw = async {
            tick.tick().await;
            let view = match fetch(&client, &url, args.token.as_deref()).await {
                Ok(v) => render(&v, &args.url, true),
                Err(e) => format!("sluice monitor  {}\n\nunreachable: {e}\n", args.url),
            };
            // Home, clear, draw.
            emit(&format!(
                "\x1b[H\x1b[2J{view}\n(every {every}; Ctrl-C to quit)\n"
            ))
        };
        tokio::select! {
            _ = &mut interrupted => return EXIT_OK,
            drawn = draw => if !drawn { return EXIT_OK },
        }
    }
}

/// Writes to stdout; false once stdout is gone (a closed pipe ends the watch quietly).
fn emit(text: &str) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

fn client(interval: Duration) -> reqwest::Result<reqwest::Client> {
    let timeout = interval.clamp(Duration::from_secs(2), Duration::from_secs(10));
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
}

fn health_url(base: &str) -> String {
    format!("{}{HEALTH_PATH}", base.trim_end_matches('/'))
}

/// Gets the snapshot: 200 and 503 both carry it; anything else is an error.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Value, String> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| chain(&e))?;
    let status = resp.status().as_u16();
    match status {
        200 | 503 => resp
            .json::<Value>()
            .await
            .map_err(|e| format!("invalid health JSON: {e}")),
        401 | 403 => Err(format!(
            "refused ({status}): pass --token (or SLUICE_ADMIN_TOKEN) with the relay's admin_token"
        )),
        _ => Err(format!("unexpected status {status}")),
    }
}

/// An error with its causes: reqwest's own message alone hides "connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

/// 0 for ok and warn, 2 for critical and draining (no traffic wanted), 1 when there is no
/// usable answer.
pub fn exit_code(polled: &Result<Value, String>) -> u8 {
    match polled {
        Ok(v) => match v["status"].as_str() {
            Some("ok" | "warn") => EXIT_OK,
            Some("critical" | "draining") => EXIT_CRITICAL,
            _ => EXIT_UNREACHABLE,
        },
        Err(_) => EXIT_UNREACHABLE,
    }
}

#[cfg(test)]
mod tests;
