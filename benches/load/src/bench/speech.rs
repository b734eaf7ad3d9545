//! The bench's speech scenarios: `POST /v1/audio/speech` answered as audio (a binary body
//! streamed through as it arrives, `stream::raw`), direct to the simulator and through the
//! relay, alternately: the relay's added time to first byte (TTFB) and its throughput of audio
//! bytes next to direct; written to OUT/speech.md and OUT/speech.json.
//!
//! Owns: the speech scenarios, their closed-loop reader (time to the first body byte, bytes
//! read) and their report.
//! Must never: turn a timing into an assertion, or run unbounded (each run has an end time,
//! each request a deadline).

use super::driver::histogram;
use super::Args;
use crate::client::{Auth, Call, Client};
use crate::relay::{Relay, TOKEN};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::json;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One request may take this long before it counts as an error.
const DEADLINE: Duration = Duration::from_secs(30);

struct Scenario {
    name: &'static str,
    concurrency: usize,
    body: Bytes,
}

fn scenarios() -> Vec<Scenario> {
    let speech = |format: &str, input: String| {
        Bytes::from(
            json!({"model": "tts-1", "voice": "alloy", "response_format": format, "input": input})
                .to_string(),
        )
    };
    vec![
        Scenario {
            // 400 characters: the simulator's longest speech, 20 s, 960 KB of WAV in 8 KiB
            // chunks sent as fast as the connection takes them.
            name: "speech wav c=8 (960 KB, unpaced)",
            concurrency: 8,
            body: speech("wav", "speech ".repeat(58)),
        },
        Scenario {
            // Audio as a TTS upstream sends it: an 8 KiB chunk every 5 ms.
            name: "speech mp3 c=64 (8 KiB chunks 5 ms apart)",
            concurrency: 64,
            body: speech("mp3", format!("<<sim:drip=5ms>> {}", "speech ".repeat(20))),
        },
    ]
}

/// What one run of a scenario measured.
pub struct Run {
    ok: u64,
    errors: u64,
    bytes: u64,
    secs: f64,
    /// Request sent to the first body byte, microseconds.
    ttfb: Histogram<u64>,
    /// Request sent to the last body byte, microseconds.
    latency: Histogram<u64>,
}

impl Run {
    fn empty() -> Self {
        Self {
            ok: 0,
            errors: 0,
            bytes: 0,
            secs: 0.0,
            ttfb: histogram(),
            latency: histogram(),
        }
    }

    fn merge(&mut self, o: &Run) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.bytes += o.bytes;
        self.secs += o.secs;
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.latency.add(&o.latency);
    }

    /// Audio bytes read per second, MB/s.
    fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs.max(1e-9)
    }

    fn ttfb_ms(&self, q: f64) -> f64 {
        self.ttfb.value_at_quantile(q) as f64 / 1000.0
    }

    fn p_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// One scenario, direct and through the relay, rounds merged.
pub struct SpeechPair {
    name: &'static str,
    direct: Run,
    relay: Run,
}

impl SpeechPair {
    fn ratio(&self) -> f64 {
        self.relay.mbps() / self.direct.mbps().max(1e-9)
    }
}

/// How one answer was read: time to the first body byte, bytes, whole time.
struct Read {
    ttfb: Duration,
    bytes: u64,
    latency: Duration,
}

async fn read_one(client: &Client, call: &Call) -> Option<Read> {
    let start = Instant::now();
    let resp = client.request(call.request().ok()?).await.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let mut body = resp.into_body();
    let (mut ttfb, mut bytes) = (None, 0u64);
    while let Some(frame) = body.frame().await {
        let Some(data) = frame.ok()?.into_data().ok() else {
            continue;
        };
        if !data.is_empty() {
            ttfb.get_or_insert_with(|| start.elapsed());
            bytes += data.len() as u64;
        }
    }
    Some(Read {
        ttfb: ttfb?,
        bytes,
        latency: start.elapsed(),
    })
}

/// `concurrency` workers send `call` back to back for `warmup + measure`; a request counts when
/// it started after the warm-up and ended within the window.
async fn closed_loop(call: &Call, concurrency: usize, warmup: Duration, measure: Duration) -> Run {
    let client = crate::client::client();
    let start = Instant::now();
    let (from, end) = (start + warmup, start + warmup + measure);
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, call) = (client.clone(), call.clone());
        workers.spawn(async move {
            let mut run = Run::empty();
            while Instant::now() < end {
                let t0 = Instant::now();
                let read = tokio::time::timeout(DEADLINE, read_one(&client, &call)).await;
                if t0 < from || Instant::now() > end {
                    continue;
                }
                match read {
                    Ok(Some(r)) => {
                        run.ok += 1;
                        run.bytes += r.bytes;
                        let us = |d: Duration| (d.as_micros() as u64).max(1);
                        let _ = run.ttfb.record(us(r.ttfb));
                        let _ = run.latency.record(us(r.latency));
                    }
                    _ => run.errors += 1,
                }
            }
            run
        });
    }
    let mut total = Run::empty();
    while let Some(r) = workers.join_next().await {
        if let Ok(r) = r {
            total.merge(&r);
        }
    }
    total.secs = measure.as_secs_f64();
    total
}

/// Runs the speech scenarios (those `--only` selects), direct then relay, `--rounds` times.
pub async fn compare(
    args: &Args,
    relay: &Relay,
    sim: SocketAddr,
) -> Result<Vec<SpeechPair>, String> {
    let mut out = Vec::new();
    for s in scenarios()
        .into_iter()
        .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
    {
        let direct_call = Call::new(
            &format!("http://{sim}/openai/v1/audio/speech"),
            Auth::Bearer("sk-load-openai"),
            s.body.clone(),
            false,
        )?;
        let relay_call = Call::new(
            &relay.url("/v1/audio/speech"),
            Auth::Bearer(TOKEN),
            s.body.clone(),
            false,
        )?;
        let (mut direct, mut through) = (Run::empty(), Run::empty());
        for round in 1..=args.rounds {
            let d = closed_loop(&direct_call, s.concurrency, args.warmup, args.duration).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let r = closed_loop(&relay_call, s.concurrency, args.warmup, args.duration).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            println!(
                "{} round {round}: direct {:.1} MB/s TTFB p50 {:.2} ms | relay {:.1} MB/s TTFB p50 {:.2} ms",
                s.name,
                d.mbps(),
                d.ttfb_ms(0.5),
                r.mbps(),
                r.ttfb_ms(0.5)
            );
            direct.merge(&d);
            through.merge(&r);
        }
        out.push(SpeechPair {
            name: s.name,
            direct,
            relay: through,
        });
    }
    Ok(out)
}

/// Writes OUT/speech.md and OUT/speech.json (nothing when no speech scenario ran).
pub fn write(args: &Args, pairs: &[SpeechPair]) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut m = String::new();
    let _ = writeln!(
        m,
        "| scenario | target | answers/s | MB/s | TTFB p50 ms | TTFB p99 ms | whole p50 ms | whole p99 ms | errors |\n|---|---|---|---|---|---|---|---|---|"
    );
    for p in pairs {
        for (target, r) in [("direct", &p.direct), ("relay", &p.relay)] {
            let _ = writeln!(
                m,
                "| {} | {target} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                p.name,
                r.ok as f64 / r.secs.max(1e-9),
                r.mbps(),
                r.ttfb_ms(0.5),
                r.ttfb_ms(0.99),
                r.p_ms(0.5),
                r.p_ms(0.99),
                r.errors
            );
        }
    }
    let _ = writeln!(
        m,
        "\n| scenario | throughput ratio (relay / direct) | added TTFB p50 / p99 ms |\n|---|---|---|"
    );
    for p in pairs {
        let _ = writeln!(
            m,
            "| {} | {:.3} | {:.3} / {:.3} |",
            p.name,
            p.ratio(),
            p.relay.ttfb_ms(0.5) - p.direct.ttfb_ms(0.5),
            p.relay.ttfb_ms(0.99) - p.direct.ttfb_ms(0.99)
        );
    }
    let json: Vec<_> = pairs
        .iter()
        .map(|p| {
            let side = |r: &Run| {
                json!({"ok": r.ok, "errors": r.errors, "mb_per_s": r.mbps(),
                    "ttfb_p50_ms": r.ttfb_ms(0.5), "ttfb_p99_ms": r.ttfb_ms(0.99),
                    "p50_ms": r.p_ms(0.5), "p99_ms": r.p_ms(0.99)})
            };
            json!({"scenario": p.name, "direct": side(&p.direct), "relay": side(&p.relay),
                "throughput_ratio": p.ratio(),
                "added_ttfb_p50_ms": p.relay.ttfb_ms(0.5) - p.direct.ttfb_ms(0.5),
                "added_ttfb_p99_ms": p.relay.ttfb_ms(0.99) - p.direct.ttfb_ms(0.99)})
        })
        .collect();
    let md = args.out.join("speech.md");
    std::fs::write(&md, &m).map_err(|e| format!("{}: {e}", md.display()))?;
    let path = args.out.join("speech.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\nSpeech (audio streamed through, `stream::raw`):\n\n{m}");
    Ok(())
}
