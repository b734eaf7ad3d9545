//! The bench's closed-loop driver: N workers, each sending the next request when the last one
//! ended, for a warm-up and then a measured window; latencies into HDR histograms.
//!
//! Owns: [`Run`] (what one run measured) and the window rule (a request counts when it started
//! after the warm-up and ended before the end).
//! Must never: start a request after the end time or wait for one beyond its deadline.

use crate::client::{self, Call, Client, Outcome, Reading};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What one run measured.
pub struct Run {
    pub ok: u64,
    pub errors: u64,
    /// Requests of any outcome that ended during the whole run (warm-up included).
    pub all: u64,
    pub secs: f64,
    /// Whole answer, microseconds.
    pub latency: Histogram<u64>,
    /// First SSE event (streams), microseconds.
    pub first: Histogram<u64>,
}

pub fn histogram() -> Histogram<u64> {
    // 1 us .. 100 s, 3 significant digits: construction cannot fail with these bounds, but
    // fall back to an auto-resizing one rather than panic.
    Histogram::new_with_bounds(1, 100_000_000, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable!("hdrhistogram rejects 3 significant digits"))
}

impl Run {
    fn empty() -> Self {
        Self {
            ok: 0,
            errors: 0,
            all: 0,
            secs: 0.0,
            latency: histogram(),
            first: histogram(),
        }
    }

    /// Adds another run (same target, another round).
    pub fn merge(&mut self, o: &Run) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.all += o.all;
        self.secs += o.secs;
        let _ = self.latency.add(&o.latency);
        let _ = self.first.add(&o.first);
    }

    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    pub fn p(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn first_p(&self, q: f64) -> f64 {
        self.first.value_at_quantile(q) as f64 / 1000.0
    }
}

/// `concurrency` workers send `call` back to back for `warmup + measure`.
pub async fn closed_loop(
    client: &Client,
    call: &Call,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Run {
    closed_loop_spread(
        client,
        std::slice::from_ref(call),
        concurrency,
        warmup,
        measure,
    )
    .await
}

/// As [`closed_loop`], the workers spread over `calls` (worker `i` sends `calls[i % len]`): the
/// same load over several relays, measured as one run.
pub async fn closed_loop_spread(
    client: &Client,
    calls: &[Call],
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Run {
    let start = Instant::now();
    let from = start + warmup;
    let end = from + measure;
    let mut workers = JoinSet::new();
    for i in 0..concurrency {
        if calls.is_empty() {
            break;
        }
        let (client, call) = (client.clone(), calls[i % calls.len()].clone());
        workers.spawn(async move {
            let mut run = Run::empty();
            while Instant::now() < end {
                let t0 = Instant::now();
                let sent = client::send(&client, &call, Reading::Full);
                let answer = tokio::time::timeout(Duration::from_secs(30), sent).await;
                let t1 = Instant::now();
                run.all += 1;
                if t0 < from || t1 > end {
                    continue;
                }
                match answer {
                    Ok(a) if a.outcome == Outcome::Ok => {
                        run.ok += 1;
                        let _ = run.latency.record((a.latency.as_micros() as u64).max(1));
                        if let Some(f) = a.first.filter(|_| a.events > 0) {
                            let _ = run.first.record((f.as_micros() as u64).max(1));
                        }
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
