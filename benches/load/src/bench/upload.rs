//! `sluice-load upload`: one 25 MiB WAV transcription posted through the relay to the
//! simulator in each part order (text fields first, as openai-python sends them: the file
//! streams live; the file first, as openai-node may: it is spooled to disk before `model`), and
//! the relay's RSS growth over it (VmRSS sampled every 5 ms, and VmHWM, from /proc).
//!
//! Owns: the upload's bytes, the RSS readings and their lines in the output.
//! Must never: turn the figure into an assertion (exit 0 whatever it is), or run unbounded
//! (each upload under the client's 60 s deadline).

use crate::client::{self, Auth, Call, Outcome, Reading};
use crate::relay::{self, Relay, Spawn, Tuning};
use bytes::Bytes;
use clap::Args as ClapArgs;
use http::HeaderValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// The audio file's size: 25 MiB less room for the form around it (OpenAI's limit is the
/// whole body's, 26214400 bytes).
const AUDIO: usize = 26_214_400 - 4096;

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Report directory (the relay's config and log).
    #[arg(long, default_value = "bench-report")]
    pub out: PathBuf,
    /// The relay binary (default: built by cargo next to this binary).
    #[arg(long)]
    pub relay_bin: Option<PathBuf>,
    /// Uploads in each order, one after the other (the first also grows the relay's buffers
    /// and allocator arenas to their working size; the later ones show the steady cost).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
}

pub async fn run(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let bin = relay::locate_binary(args.relay_bin.clone())?;
    let sim = sluice_sim::start(sluice_sim::SimConfig::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let (listen, admin) = (relay::free_port()?, relay::free_port()?);
    let tuning = Tuning {
        shutdown_grace: Duration::from_secs(5),
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(60),
        stream_idle: Duration::from_secs(30),
        total: Duration::from_secs(120),
        error_body: Duration::from_secs(5),
        keepalive: Duration::from_secs(15),
        pool_max_idle_per_host: 8,
        pool_idle_timeout: Duration::from_secs(90),
    };
    let mut toml = relay::config_toml(listen, admin, sim.addr(), &tuning);
    toml.push_str(&format!(
        "\n[[channels]]\nname = \"openai-audio\"\nprovider = \"openai\"\nbase_url = \"http://{}/openai/v1\"\nkeys = [\"sk-load-openai\"]\nmodels = [\"whisper-1\"]\n",
        sim.addr()
    ));
    let config = args.out.join("relay-upload.toml");
    std::fs::write(&config, toml).map_err(|e| format!("{}: {e}", config.display()))?;
    let relay = Relay::start(Spawn {
        bin: &bin,
        config: &config,
        listen,
        admin,
        log: &args.out.join("relay-upload.log"),
        log_filter: "warn",
        cpu: None,
        workers: None,
    })
    .await?;
    let c = client::client();
    // Warm-up: a small upload in each order, so pools and buffers exist before the baseline.
    for text_first in [true, false] {
        let call = upload_call(&relay, text_first, 64 * 1024)?;
        client::send(&c, &call, Reading::Full).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "upload: one transcription of a {:.1} MiB WAV through the relay (pid {})",
        AUDIO as f64 / 1048576.0,
        relay.pid
    );
    let mut ok = true;
    let orders = (0..args.rounds.clamp(1, 10)).flat_map(|r| [(r, true), (r, false)]);
    for (round, text_first) in orders {
        let call = upload_call(&relay, text_first, AUDIO)?;
        let (before, hwm_before) = status(relay.pid);
        let peak = Arc::new(AtomicU64::new(before));
        let stop = Arc::new(AtomicBool::new(false));
        let mut watch = JoinSet::new();
        watch.spawn(sample(relay.pid, peak.clone(), stop.clone()));
        let answer = tokio::time::timeout(
            Duration::from_secs(60),
            client::send(&c, &call, Reading::Full),
        )
        .await
        .map_err(|_| "the upload took over 60 s".to_owned())?;
        stop.store(true, Ordering::SeqCst);
        while watch.join_next().await.is_some() {}
        let (after, hwm_after) = status(relay.pid);
        let peak = peak.load(Ordering::SeqCst);
        ok &= answer.outcome == Outcome::Ok;
        println!(
            "  #{} {:<32} {:?} in {:.2} s; relay VmRSS {:.1} MiB before, {:.1} MiB at peak (+{:.0} KiB), {:.1} MiB after; VmHWM +{:.0} KiB",
            round + 1,
            if text_first { "text fields first (file live):" } else { "file first (spooled):" },
            answer.outcome,
            answer.latency.as_secs_f64(),
            mib(before),
            mib(peak),
            peak.saturating_sub(before) as f64 / 1024.0,
            mib(after),
            hwm_after.saturating_sub(hwm_before) as f64 / 1024.0,
        );
    }
    let stop = relay.stop(Duration::from_secs(5)).await;
    if !stop.exited_within_grace {
        println!("relay stop: {}", stop.status);
    }
    sim.shutdown().await;
    Ok(ok)
}

/// A transcription of `audio` bytes of WAV, its form in either part order.
fn upload_call(relay: &Relay, text_first: bool, audio: usize) -> Result<Call, String> {
    transcription(
        &relay.url("/v1/audio/transcriptions"),
        Auth::Bearer(relay::TOKEN),
        text_first,
        audio,
    )
}

/// A `whisper-1` transcription of `audio` bytes of WAV to `url`, its form in either part order
/// (text fields first as the Python SDK sends them, or the file first), for the soak too.
pub fn transcription(
    url: &str,
    auth: Auth,
    text_first: bool,
    audio: usize,
) -> Result<Call, String> {
    let boundary = "5e1d0c3b9a8f47d6a1b2c3d4e5f60718";
    let text = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n"
    );
    let mut file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
    )
    .into_bytes();
    file.extend_from_slice(&wav(audio));
    file.extend_from_slice(b"\r\n");
    let mut body = Vec::with_capacity(audio + 1024);
    if text_first {
        body.extend_from_slice(text.as_bytes());
        body.extend_from_slice(&file);
    } else {
        body.extend_from_slice(&file);
        body.extend_from_slice(text.as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut call = Call::new(url, auth, Bytes::from(body), false)?;
    let ct = HeaderValue::try_from(format!("multipart/form-data; boundary={boundary}"))
        .map_err(|e| e.to_string())?;
    call.headers.retain(|(k, _)| *k != "content-type");
    call.headers.push(("content-type", ct));
    Ok(call)
}

/// A WAV file of `size` bytes: 16 kHz mono 16-bit silence.
fn wav(size: usize) -> Vec<u8> {
    let data = (size.saturating_sub(44) & !1) as u32;
    let mut b = Vec::with_capacity(size);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [16_000u32, 32_000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(44 + data as usize, 0);
    b
}

/// (VmRSS, VmHWM) of a process in bytes.
fn status(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn sample(pid: u32, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        peak.fetch_max(status(pid).0, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}
