use super::*;
use crate::config::{Level, MonitorConfig, Thresholds};
use crate::supervisor::Supervisor;
use std::sync::Mutex;
use tracing_subscriber::fmt::MakeWriter;

/// Collects formatted log output for assertions.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

fn config(th: Thresholds) -> MonitorConfig {
    MonitorConfig {
        interval: Duration::from_secs(10),
        window: Duration::from_secs(60),
        alert_repeat: Duration::from_secs(30),
        thresholds: th,
    }
}

#[tokio::test(start_paused = true)]
async fn samples_at_the_interval_and_stops_on_cancel() {
    let (logs, _guard) = capture();
    let m = Monitor::new(&config(Thresholds::default()), &[]);
    // Run as `serve` runs it: a critical job of the relay's supervisor, counted there.
    let jobs = Supervisor::new(Arc::clone(m.ledger()), 4);
    let monitor = Arc::clone(&m);
    jobs.spawn_critical("sampler", move |cancel| run(Arc::clone(&monitor), cancel))
        .unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(m.ledger().counts().background_jobs, 1);
    let report = jobs.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.stopped, vec!["sampler"]);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(35),
        "stopped at once"
    );
    let at: Vec<f64> = m.samples().iter().map(|s| s.at).collect();
    assert_eq!(at, vec![0.0, 10.0, 20.0, 30.0]);
    assert_eq!(logs.count("monitor sample"), 4);
    let line = logs.text();
    assert!(
        line.contains("sluice::monitor") && line.contains("inbound_connections=0"),
        "{line}"
    );
    // The job's count is gone with it.
    assert_eq!(m.ledger().counts().background_jobs, 0);
    // Cancelled before it starts: returns at once, no sample.
    let m2 = Monitor::new(&config(Thresholds::default()), &[]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    run(Arc::clone(&m2), cancel).await;
    assert!(m2.samples().is_empty());
}

#[tokio::test(start_paused = true)]
async fn logs_threshold_transitions_and_repeats_while_they_last() {
    let (logs, _guard) = capture();
    let th = Thresholds {
        inbound_connections: Level {
            warn: 2,
            critical: 3,
            growth_per_minute: 1000.0,
        },
        ..Thresholds::default()
    };
    let m = Monitor::new(&config(th), &[]);
    let cancel = CancellationToken::new();
    let driver = async {
        let l = m.ledger();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut held: Vec<_> = (0..2).map(|_| l.inbound_connection()).collect();
        // Samples at 10, 20, 30 see warn: raised at 10, repeated at 40 (alert_repeat 30 s).
        tokio::time::sleep(Duration::from_secs(40)).await; // now 45
        held.push(l.inbound_connection()); // critical from the sample at 50
        tokio::time::sleep(Duration::from_secs(10)).await; // now 55
        held.clear(); // cleared at 60
        tokio::time::sleep(Duration::from_secs(10)).await; // now 65
        cancel.cancel();
    };
    tokio::join!(run(Arc::clone(&m), cancel.clone()), driver);
    assert_eq!(logs.count("gauge above warn level"), 2, "{}", logs.text());
    assert_eq!(logs.count("lasting=true"), 1);
    assert_eq!(logs.count("gauge critical"), 1);
    assert_eq!(logs.count("gauge back to normal"), 1);
    let text = logs.text();
    assert!(text.contains(" WARN ") && text.contains("ERROR"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn logs_a_gauge_that_keeps_growing() {
    let (logs, _guard) = capture();
    let th = Thresholds {
        open_fds: Level {
            warn: u64::MAX - 1,
            critical: u64::MAX,
            growth_per_minute: 1e9,
        },
        upstream_connections: Level {
            warn: 10_000,
            critical: 20_000,
            growth_per_minute: 5.0,
        },
        // Other tests share this process's memory: keep its growth out of this test.
        resident_memory_bytes: Level {
            warn: u64::MAX - 1,
            critical: u64::MAX,
            growth_per_minute: 1e18,
        },
        ..Thresholds::default()
    };
    let m = Monitor::new(&config(th), &[]);
    let cancel = CancellationToken::new();
    let driver = async {
        let mut held = Vec::new();
        // Off the sampling instants (0, 10, 20, ...), so the order of wake-ups does not matter.
        tokio::time::sleep(Duration::from_secs(5)).await;
        for _ in 0..10 {
            // +5 per 10 s = 30 per minute against a tolerance of 5.
            held.extend((0..5).map(|_| m.ledger().upstream_connection()));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        cancel.cancel();
    };
    tokio::join!(run(Arc::clone(&m), cancel.clone()), driver);
    // Growth is reported once the ring covers half the window (at 30 s), then every 30 s
    // (alert_repeat) while it lasts: at 30, 60 and 90 s; cancelled at 105 s.
    let growing: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("gauge keeps growing"))
        .map(str::to_owned)
        .collect();
    assert_eq!(growing.len(), 3, "{}", logs.text());
    assert!(growing
        .iter()
        .all(|l| l.contains("gauge=\"upstream_connections\"") && l.contains(" WARN ")));
}
