//! The soak's traffic: a weighted mix of request kinds sent open-loop at a fixed rate, and the
//! tally of how they ended.
//!
//! Owns: the mix (endpoints x providers x stream, the media endpoints with their own faults,
//! planned disconnects, slow readers), the
//! scheduler (bounded in count, time and in-flight requests) and [`Tally`].
//! Must never: start a request after the end time, or let one run past its client deadline.

use crate::client::{self, Answer, Auth, Call, Client, Outcome, Reading};
use crate::relay::TOKEN;
use bytes::Bytes;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// One kind of request in the mix.
pub struct Kind {
    pub name: &'static str,
    weight: u32,
    call: Call,
    reading: Reading,
}

/// The mix, built once against the relay's address.
pub struct Plan {
    kinds: Vec<Kind>,
    total_weight: u32,
}

fn chat(model: &str, stream: bool, text: &str, max_tokens: u32) -> Bytes {
    let mut b = json!({"model": model, "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens});
    if stream {
        b["stream"] = json!(true);
    }
    Bytes::from(b.to_string())
}

fn messages(model: &str, stream: bool, text: &str, max_tokens: u32) -> Bytes {
    let mut b = json!({"model": model, "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}]});
    if stream {
        b["stream"] = json!(true);
    }
    Bytes::from(b.to_string())
}

impl Plan {
    /// The soak mix. Kinds marked "planned" carry a `<<sim:...>>` directive (it wins over the
    /// simulator's fault mix) so the disconnect lands where it is meant to.
    pub fn soak(relay: &str) -> Result<Plan, String> {
        let chat_url = format!("{relay}/v1/chat/completions");
        let msg_url = format!("{relay}/v1/messages");
        let emb_url = format!("{relay}/v1/embeddings");
        let img_url = format!("{relay}/v1/images/generations");
        let speech_url = format!("{relay}/v1/audio/speech");
        let mod_url = format!("{relay}/v1/moderations");
        let json = |v: serde_json::Value| Bytes::from(v.to_string());
        let image = |prompt: &str| {
            json(
                json!({"model": "dall-e-2", "prompt": prompt, "size": "256x256",
                "response_format": "b64_json"}),
            )
        };
        let image_stream = |prompt: &str| {
            json(
                json!({"model": "gpt-image-1", "prompt": prompt, "stream": true,
                "partial_images": 1}),
            )
        };
        // About 4 s of speech (some 190 KB as WAV, in 8 KiB chunks).
        let speech = |format: &str, text: &str| {
            json(
                json!({"model": "tts-1", "voice": "alloy", "response_format": format,
                "input": format!("{text} {}", "soak ".repeat(12))}),
            )
        };
        let bearer = || Auth::Bearer(TOKEN);
        let key = || Auth::ApiKey(TOKEN);
        let (gpt, claude, grok) = ("gpt-4o-mini", "claude-3-5-haiku-latest", "grok-3-mini");
        let k = |name, weight, call, reading| Kind {
            name,
            weight,
            call,
            reading,
        };
        let full = Reading::Full;
        let kinds = vec![
            k(
                "chat openai",
                18,
                Call::new(&chat_url, bearer(), chat(gpt, false, "soak", 16), false)?,
                full,
            ),
            k(
                "chat openai stream",
                14,
                Call::new(&chat_url, bearer(), chat(gpt, true, "soak", 16), true)?,
                full,
            ),
            k(
                "chat anthropic",
                6,
                Call::new(&chat_url, bearer(), chat(claude, false, "soak", 16), false)?,
                full,
            ),
            k(
                "chat anthropic stream",
                8,
                Call::new(&chat_url, bearer(), chat(claude, true, "soak", 16), true)?,
                full,
            ),
            k(
                "chat xai",
                5,
                Call::new(&chat_url, bearer(), chat(grok, false, "soak", 16), false)?,
                full,
            ),
            k(
                "chat xai stream",
                8,
                Call::new(&chat_url, bearer(), chat(grok, true, "soak", 16), true)?,
                full,
            ),
            k(
                "messages anthropic",
                5,
                Call::new(&msg_url, key(), messages(claude, false, "soak", 16), false)?,
                full,
            ),
            k(
                "messages anthropic stream",
                6,
                Call::new(&msg_url, key(), messages(claude, true, "soak", 16), true)?,
                full,
            ),
            k(
                "messages openai stream",
                4,
                Call::new(&msg_url, key(), messages(gpt, true, "soak", 16), true)?,
                full,
            ),
            k(
                "embeddings openai",
                8,
                Call::new(
                    &emb_url,
                    bearer(),
                    Bytes::from(
                        json!({"model": "text-embedding-3-small", "input": "soak"}).to_string(),
                    ),
                    false,
                )?,
                full,
            ),
            k(
                "images dall-e-2",
                4,
                Call::new(&img_url, bearer(), image("soak"), false)?,
                full,
            ),
            k(
                "images gpt-image-1 stream",
                3,
                Call::new(&img_url, bearer(), image_stream("soak"), true)?,
                full,
            ),
            k(
                "speech mp3",
                4,
                Call::new(&speech_url, bearer(), speech("mp3", "soak"), false)?,
                full,
            ),
            k(
                "transcription upload (text fields first)",
                2,
                crate::bench::upload::transcription(
                    &format!("{relay}/v1/audio/transcriptions"),
                    bearer(),
                    true,
                    64 * 1024,
                )?,
                full,
            ),
            k(
                "transcription upload (file first, spooled)",
                2,
                crate::bench::upload::transcription(
                    &format!("{relay}/v1/audio/transcriptions"),
                    bearer(),
                    false,
                    512 * 1024,
                )?,
                full,
            ),
            k(
                "moderations",
                4,
                Call::new(
                    &mod_url,
                    bearer(),
                    json(json!({"model": "omni-moderation-latest", "input": "soak"})),
                    false,
                )?,
                full,
            ),
            k(
                "planned: image refused by the safety system",
                1,
                Call::new(
                    &img_url,
                    bearer(),
                    image("<<sim:moderation-blocked>> soak"),
                    false,
                )?,
                full,
            ),
            k(
                "planned: image stream cut before completed",
                1,
                Call::new(
                    &img_url,
                    bearer(),
                    image_stream("<<sim:cut-before-completed>> soak"),
                    true,
                )?,
                full,
            ),
            k(
                "planned: speech cut mid-download",
                1,
                Call::new(
                    &speech_url,
                    bearer(),
                    speech("wav", "<<sim:cut=4>> soak"),
                    false,
                )?,
                full,
            ),
            k(
                "planned: disconnect mid-download (speech)",
                2,
                Call::new(
                    &speech_url,
                    bearer(),
                    speech("wav", "<<sim:drip=5ms>> soak"),
                    false,
                )?,
                Reading::DropAfterChunks(3),
            ),
            k(
                "slow reader (speech)",
                2,
                Call::new(&speech_url, bearer(), speech("wav", "soak"), false)?,
                Reading::Slow(Duration::from_millis(10)),
            ),
            k(
                "planned: disconnect before headers",
                6,
                Call::new(
                    &chat_url,
                    bearer(),
                    chat(gpt, true, "<<sim:delay=100ms>> soak", 16),
                    true,
                )?,
                Reading::GiveUpBeforeHeaders(Duration::from_millis(20)),
            ),
            k(
                "planned: disconnect mid-stream (openai)",
                3,
                Call::new(
                    &chat_url,
                    bearer(),
                    chat(gpt, true, "<<sim:drip=2ms..5ms>> soak", 40),
                    true,
                )?,
                Reading::DropAfterEvents(5),
            ),
            k(
                "planned: disconnect mid-stream (anthropic, converted)",
                3,
                Call::new(
                    &chat_url,
                    bearer(),
                    chat(claude, true, "<<sim:drip=2ms..5ms>> soak", 40),
                    true,
                )?,
                Reading::DropAfterEvents(5),
            ),
            k(
                "slow reader (messages stream)",
                6,
                Call::new(&msg_url, key(), messages(claude, true, "soak", 60), true)?,
                Reading::Slow(Duration::from_millis(20)),
            ),
        ];
        let total_weight = kinds.iter().map(|k| k.weight).sum();
        Ok(Plan {
            kinds,
            total_weight,
        })
    }

    fn pick(&self, rng: &mut SmallRng) -> usize {
        let mut x = rng.random_range(0..self.total_weight.max(1));
        for (i, k) in self.kinds.iter().enumerate() {
            if x < k.weight {
                return i;
            }
            x -= k.weight;
        }
        0
    }
}

/// How the soak's requests ended so far.
pub struct Tally {
    pub started: u64,
    pub finished: u64,
    /// Ticks skipped because `max_in_flight` requests were already open.
    pub shed: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    pub disconnects: BTreeMap<&'static str, u64>,
    /// Requests the relay did not end within the client deadline.
    pub hung: u64,
    /// Request start to end of body, microseconds (planned disconnects excluded).
    pub latency: Histogram<u64>,
    /// Request start to the first SSE event of streams answered 200, microseconds.
    pub first_event: Histogram<u64>,
}

impl Tally {
    pub fn new() -> Result<Self, String> {
        let h = || Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string());
        Ok(Self {
            started: 0,
            finished: 0,
            shed: 0,
            by_kind: BTreeMap::new(),
            errors: BTreeMap::new(),
            errors_total: 0,
            disconnects: BTreeMap::new(),
            hung: 0,
            latency: h()?,
            first_event: h()?,
        })
    }

    fn record(&mut self, kind: &'static str, answer: Option<Answer>) {
        self.finished += 1;
        *self.by_kind.entry(kind).or_default() += 1;
        let Some(a) = answer else {
            self.hung += 1;
            self.errors_total += 1;
            *self
                .errors
                .entry("client deadline (hung)".into())
                .or_default() += 1;
            return;
        };
        if a.outcome == Outcome::Disconnected {
            *self.disconnects.entry(kind).or_default() += 1;
            return;
        }
        let us = |d: Duration| (d.as_micros() as u64).max(1);
        let _ = self.latency.record(us(a.latency));
        if let Some(first) = a.first.filter(|_| a.events > 0) {
            let _ = self.first_event.record(us(first));
        }
        if let Some(kind) = a.outcome.error_kind() {
            self.errors_total += 1;
            *self.errors.entry(kind).or_default() += 1;
        }
    }
}

pub type Shared = Arc<Mutex<Tally>>;

pub fn lock(t: &Shared) -> std::sync::MutexGuard<'_, Tally> {
    t.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Load settings.
pub struct Drive {
    pub rate: f64,
    pub duration: Duration,
    pub max_in_flight: usize,
    pub client_deadline: Duration,
    pub seed: u64,
}

/// Sends the mix at `rate` for `duration`, calls `stopped`, then waits for every request to end
/// (each is bounded by the client deadline).
pub async fn drive(
    plan: Arc<Plan>,
    client: Client,
    d: Drive,
    tally: Shared,
    stopped: impl FnOnce(),
) {
    let mut tasks = JoinSet::new();
    let mut rng = SmallRng::seed_from_u64(d.seed);
    let period = Duration::from_secs_f64(1.0 / d.rate.max(0.001));
    let start = Instant::now();
    let end = start + d.duration;
    let mut next = start;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        while tasks.try_join_next().is_some() {}
        let now = Instant::now();
        while next <= now && next < end {
            next += period;
            if tasks.len() >= d.max_in_flight {
                lock(&tally).shed += 1;
                continue;
            }
            let i = plan.pick(&mut rng);
            lock(&tally).started += 1;
            let (plan, client, tally) = (plan.clone(), client.clone(), tally.clone());
            let deadline = d.client_deadline;
            tasks.spawn(async move {
                let kind = &plan.kinds[i];
                let answer =
                    tokio::time::timeout(deadline, client::send(&client, &kind.call, kind.reading))
                        .await
                        .ok();
                lock(&tally).record(kind.name, answer);
            });
        }
    }
    stopped();
    while tasks.join_next().await.is_some() {}
}
