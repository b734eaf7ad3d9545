//! The soak report: `samples.csv` (written as it goes), `chart.svg`, `summary.md`,
//! `summary.json`, and the verdict printed to stdout.
//!
//! Owns: the report's files and the pass rule (no trend, back to baseline, no hung request,
//! every sample answered, a clean stop within the grace period).
//! Must never: change a figure; it only prints what the run measured.

use super::load::Tally;
use super::verdict::{Final, Tolerances, Trend};
use super::{chart, Args, Row};
use crate::probe::Sample;
use crate::relay::Stop;
use hdrhistogram::Histogram;
use serde_json::json;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

/// `samples.csv`, one row per second, flushed as it goes (a cut-short run keeps its data).
pub struct Csv(Option<std::io::BufWriter<std::fs::File>>);

impl Csv {
    pub fn create(path: &Path) -> Result<Self, String> {
        let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "t_s,phase,live_tasks,inbound_connections,upstream_connections,in_flight_requests,open_streams,open_fds,rss_bytes,threads,tcp_close_wait,requests,errors")
            .map_err(|e| e.to_string())?;
        Ok(Self(Some(w)))
    }

    pub fn row(&mut self, r: &Row) {
        let Some(w) = self.0.as_mut() else { return };
        let s = &r.s;
        let ok = writeln!(
            w,
            "{:.1},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.t,
            r.phase,
            s.live_tasks,
            s.inbound_connections,
            s.upstream_connections,
            s.in_flight_requests,
            s.open_streams,
            s.open_fds,
            s.rss_bytes,
            s.threads,
            s.tcp_close_wait,
            r.requests,
            r.errors
        )
        .and_then(|()| w.flush());
        if ok.is_err() {
            eprintln!("soak: cannot write samples.csv; continuing without it");
            self.0 = None;
        }
    }
}

pub struct Report<'a> {
    pub args: &'a Args,
    pub warmup: Duration,
    pub load_secs: f64,
    pub settle_secs: f64,
    pub settled: bool,
    pub trends: Vec<Trend>,
    pub finals: Vec<Final>,
    pub tol: Tolerances,
    pub idle: Sample,
    pub tally: Tally,
    pub sim_stats: serde_json::Value,
    pub relay_counters: Option<serde_json::Value>,
    pub stop: Stop,
    pub sample_failures: u64,
    pub rows: Vec<Row>,
}

fn pct(h: &Histogram<u64>) -> serde_json::Value {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    json!({"count": h.len(), "p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99),
           "max_ms": h.max() as f64 / 1000.0})
}

impl Report<'_> {
    /// Writes the files, prints the summary, and returns whether the soak passed.
    pub fn write(self) -> Result<bool, String> {
        let out = &self.args.out;
        let failures = self.failures();
        let pass = failures.is_empty();
        let warm_end = self
            .rows
            .iter()
            .find(|r| r.phase == "load")
            .map_or(0.0, |r| r.t);
        let load_end = self
            .rows
            .iter()
            .find(|r| r.phase == "settle")
            .map_or(0.0, |r| r.t);
        let title = format!(
            "sluice soak: {} at {}/s, seed {} ({})",
            humantime::format_duration(self.args.duration),
            self.args.rate,
            self.args.seed,
            if pass { "pass" } else { "FAIL" }
        );
        let svg = chart::svg(&self.rows, warm_end, load_end, &title);
        let md = self.markdown(&failures);
        let json = self.json(pass, &failures);
        let write = |name: &str, text: &str| {
            let p = out.join(name);
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
        };
        write("chart.svg", &svg)?;
        write("summary.md", &md)?;
        write(
            "summary.json",
            &serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?,
        )?;
        println!("\n{md}");
        println!(
            "report: {} (summary.md, summary.json, samples.csv, chart.svg, relay.log, relay.toml)",
            out.display()
        );
        Ok(pass)
    }

    fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        for t in self.trends.iter().filter(|t| t.verdict == "FAIL") {
            f.push(format!(
                "{} grows {:.2} ± {:.2} {}/min (tolerance {})",
                t.series, t.slope_per_min, t.stderr_per_min, t.unit, t.tolerance_per_min
            ));
        }
        for x in self.finals.iter().filter(|x| !x.ok) {
            f.push(format!(
                "{} ended at {} (allowed {}: {})",
                x.series, x.last, x.allowed, x.rule
            ));
        }
        if self.tally.hung > 0 {
            f.push(format!(
                "{} requests got no end from the relay within the client deadline",
                self.tally.hung
            ));
        }
        if self.sample_failures > 0 {
            f.push(format!(
                "{} health samples went unanswered",
                self.sample_failures
            ));
        }
        if !self.stop.exited_within_grace {
            f.push(format!("relay stop after SIGTERM: {}", self.stop.status));
        }
        f
    }

    fn markdown(&self, failures: &[String]) -> String {
        let t = &self.tally;
        let mut m = String::new();
        let _ = writeln!(m, "# sluice soak report\n");
        let _ = writeln!(
            m,
            "Load {} at {}/s (seed {}), warm-up {}, settle {:.0} s ({}). Verdict: **{}**.\n",
            humantime::format_duration(self.args.duration),
            self.args.rate,
            self.args.seed,
            humantime::format_duration(self.warmup),
            self.settle_secs,
            if self.settled {
                "settled"
            } else {
                "did not settle"
            },
            if failures.is_empty() { "pass" } else { "FAIL" }
        );
        for f in failures {
            let _ = writeln!(m, "- FAIL: {f}");
        }
        let _ = writeln!(m, "\n## Requests\n");
        let _ = writeln!(
            m,
            "{} started, {} finished in {:.0} s ({:.1}/s), {} shed (driver at max in flight), {} errors, {} hung.\n",
            t.started,
            t.finished,
            self.load_secs,
            t.finished as f64 / self.load_secs.max(0.001),
            t.shed,
            t.errors_total,
            t.hung
        );
        let p = |h: &Histogram<u64>| {
            let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            format!(
                "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
                ms(0.5),
                ms(0.9),
                ms(0.99),
                h.max() as f64 / 1000.0,
                h.len()
            )
        };
        let _ = writeln!(m, "- latency (whole answer): {}", p(&t.latency));
        let _ = writeln!(m, "- time to first stream event: {}\n", p(&t.first_event));
        let _ = writeln!(m, "| errors by kind | count |\n|---|---|");
        for (k, v) in &t.errors {
            let _ = writeln!(m, "| {k} | {v} |");
        }
        let _ = writeln!(m, "\n| planned disconnects | count |\n|---|---|");
        for (k, v) in &t.disconnects {
            let _ = writeln!(m, "| {k} | {v} |");
        }
        let _ = writeln!(m, "\n| request kind | finished |\n|---|---|");
        for (k, v) in &t.by_kind {
            let _ = writeln!(m, "| {k} | {v} |");
        }
        let _ = writeln!(m, "\n## Faults injected (simulator stats)\n");
        let _ = writeln!(m, "| fault | count |\n|---|---|");
        if let Some(faults) = self.sim_stats["faults"].as_object() {
            for (k, v) in faults {
                let _ = writeln!(m, "| {k} | {v} |");
            }
        }
        let _ = writeln!(
            m,
            "\nSimulator: {} requests, {} connections accepted.",
            self.sim_stats["requests_total"], self.sim_stats["connections_accepted"]
        );
        if let Some(c) = &self.relay_counters {
            let _ = writeln!(m, "\nRelay counters: `{c}`");
        }
        let _ = writeln!(
            m,
            "\n## Trends after warm-up (least squares; FAIL when slope - 3 SE > tolerance)\n"
        );
        let _ = writeln!(
            m,
            "| series | samples | slope /min | ± SE | tolerance /min | verdict |\n|---|---|---|---|---|---|"
        );
        for x in &self.trends {
            let _ = writeln!(
                m,
                "| {} ({}) | {} | {:.3} | {:.3} | {} | {} |",
                x.series,
                x.unit,
                x.samples,
                x.slope_per_min,
                x.stderr_per_min,
                x.tolerance_per_min,
                x.verdict
            );
        }
        let _ = writeln!(m, "\n## Final counts after the load stopped\n");
        let _ = writeln!(
            m,
            "| gauge | baseline | final | allowed | rule | ok |\n|---|---|---|---|---|---|"
        );
        for x in &self.finals {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                x.series,
                x.baseline,
                x.last,
                x.allowed,
                x.rule,
                if x.ok { "yes" } else { "NO" }
            );
        }
        let _ = writeln!(
            m,
            "\nBaselines: counts from the idle relay before the load; RSS from the last warm-up sample.\n\n## Shutdown\n\nSIGTERM -> exit in {:.2} s ({}), grace {}: {}.",
            self.stop.seconds,
            self.stop.status,
            humantime::format_duration(super::tuning().shutdown_grace),
            if self.stop.exited_within_grace { "clean" } else { "NOT clean" }
        );
        m
    }

    fn json(&self, pass: bool, failures: &[String]) -> serde_json::Value {
        let t = &self.tally;
        json!({
            "pass": pass,
            "failures": failures,
            "duration_s": self.args.duration.as_secs_f64(),
            "rate": self.args.rate,
            "seed": self.args.seed,
            "warmup_s": self.warmup.as_secs_f64(),
            "load_s": self.load_secs,
            "settle_s": self.settle_secs,
            "settled": self.settled,
            "requests": {"started": t.started, "finished": t.finished, "shed": t.shed,
                         "errors": t.errors_total, "hung": t.hung, "by_kind": t.by_kind},
            "errors": t.errors,
            "disconnects": t.disconnects,
            "latency": pct(&t.latency),
            "first_stream_event": pct(&t.first_event),
            "simulator": self.sim_stats,
            "relay_counters": self.relay_counters,
            "trends": self.trends,
            "finals": self.finals,
            "tolerances": self.tol,
            "idle_baseline": self.idle,
            "stop": self.stop,
            "sample_failures": self.sample_failures,
        })
    }
}
