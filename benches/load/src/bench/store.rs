//! The store's cost, in the same run: a second relay with a SQLite store, a token with a quota
//! and requests- and tokens-per-minute limits (so every request is authenticated from the
//! snapshot, rate-checked, reserved, settled and recorded), against the store-off relay, the
//! two measured alternately on the same CPU.
//!
//! Owns: the store-on relay's config and token, the alternating rounds, the ratio and added p99.
//! Must never: let the two relays run load at the same time (one CPU, one at a time).

use super::driver::{self, Run};
use super::{merge_into, Args};
use crate::client::{self, Auth, Call};
use crate::relay::{self, Relay, Spawn, Tuning};
use bytes::Bytes;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// One scenario, through the relay without and with the store.
pub struct StorePair {
    pub name: &'static str,
    pub off: Run,
    pub on: Run,
}

impl StorePair {
    pub fn ratio(&self) -> f64 {
        self.on.rps() / self.off.rps().max(1e-9)
    }

    /// Added p99 with the store on, in ms.
    pub fn added_p99(&self) -> f64 {
        self.on.p(0.99) - self.off.p(0.99)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.name,
            "off_rps": self.off.rps(), "on_rps": self.on.rps(), "ratio": self.ratio(),
            "off_p50_ms": self.off.p(0.5), "on_p50_ms": self.on.p(0.5),
            "off_p99_ms": self.off.p(0.99), "on_p99_ms": self.on.p(0.99),
            "added_p99_ms": self.added_p99(),
            "off_errors": self.off.errors, "on_errors": self.on.errors,
        })
    }
}

/// The store-on relay's extra config: SQLite under `dir`, a price for the model.
fn store_toml(dir: &Path) -> String {
    format!(
        r#"
[store]
data_dir = "{}"

[[prices.models]]
match = ["gpt-4o-mini*"]
input = 0.15
output = 0.60
max_output = 64
"#,
        dir.display()
    )
}

/// Creates the bench's metered token with `sluice token create` and returns its key.
fn create_token(bin: &Path, config: &Path) -> Result<String, String> {
    let out = std::process::Command::new(bin)
        .args(["token", "create", "bench-metered", "--json"])
        .args(["--quota", "1000000000000000", "--rpm", "100000000", "--tpm"])
        .arg("1000000000000000")
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
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("token JSON: {e}"))?;
    v["key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no key in the token JSON".to_owned())
}

/// Runs each scenario through `off` (the store-off relay) and a store-on relay, alternately.
pub async fn compare(
    args: &Args,
    bin: &Path,
    sim: SocketAddr,
    tuning: &Tuning,
    off: &Relay,
    scenarios: &[(&'static str, usize, bool, Bytes)],
) -> Result<Vec<StorePair>, String> {
    let (listen, admin) = (relay::free_port()?, relay::free_port()?);
    let dir = args.out.join("store-data");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = args.out.join("relay-store.toml");
    let text = relay::config_toml(listen, admin, sim, tuning) + &store_toml(&dir);
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let key = create_token(bin, &config)?;
    let on = Relay::start(Spawn {
        bin,
        config: &config,
        listen,
        admin,
        log: &args.out.join("relay-store.log"),
        log_filter: &args.relay_log,
        cpu: (!args.no_pin).then_some(args.relay_cpu),
        workers: None,
    })
    .await?;
    let mut pairs = Vec::new();
    for (name, concurrency, stream, body) in scenarios {
        let off_call = Call::new(
            &off.url("/v1/chat/completions"),
            Auth::Bearer(relay::TOKEN),
            body.clone(),
            *stream,
        )?;
        let on_call = Call::new(
            &on.url("/v1/chat/completions"),
            Auth::Bearer(&key),
            body.clone(),
            *stream,
        )?;
        let (mut a, mut b): (Option<Run>, Option<Run>) = (None, None);
        for round in 1..=args.rounds {
            let r_off = driver::closed_loop(
                &client::client(),
                &off_call,
                *concurrency,
                args.warmup,
                args.duration,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let r_on = driver::closed_loop(
                &client::client(),
                &on_call,
                *concurrency,
                args.warmup,
                args.duration,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            println!(
                "{name} round {round}: store off {:.0} req/s p99 {:.2} ms | store on {:.0} req/s p99 {:.2} ms ({} errors)",
                r_off.rps(),
                r_off.p(0.99),
                r_on.rps(),
                r_on.p(0.99),
                r_on.errors
            );
            merge_into(&mut a, r_off);
            merge_into(&mut b, r_on);
        }
        if let (Some(off), Some(on)) = (a, b) {
            pairs.push(StorePair { name, off, on });
        }
    }
    let _ = on.stop(tuning.shutdown_grace).await;
    Ok(pairs)
}
