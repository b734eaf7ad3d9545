//! The two-instance bench's report: per round and merged figures of A (local limits) and B
//! (shared through Redis), the added p99 against its target as a pass/fail line, and the checks
//! that make the comparison valid; written to OUT/cluster/cluster.md and cluster.json.
//!
//! Owns: the target, the checks' verdicts and their wording.
//! Must never: fail the run on a timing (only on a check: refusals or errors in a run, B not on
//! Redis, A on it).

use super::{Args, Checks, ClusterPair};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// Added p99 with the limits shared, in ms (issue 15).
const TARGET_ADDED_P99_MS: f64 = 0.3;

pub struct Report<'a> {
    pub args: &'a Args,
    pub layout: String,
    pub pairs: Vec<ClusterPair>,
    pub checks: Checks,
    pub loadavg: (String, String),
}

/// One check: its wording and whether it held.
struct Check {
    name: String,
    held: bool,
}

fn counter(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// Whether the instances did what their config says: B's on Redis throughout without a
/// fallback or an error, A's off it, keys under B's prefix, no refusal or error in any run.
fn checks(r: &Report) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, before, after) in &r.checks.readings {
        let shared = name.starts_with('b');
        if after.is_null() {
            out.push(Check {
                name: format!(
                    "{name}: the health JSON has no `cluster` block (a relay without shared limits)"
                ),
                held: false,
            });
            continue;
        }
        let want = if shared { "up" } else { "off" };
        let (r0, r1) = (&before["redis"], &after["redis"]);
        let delta = |k: &str| {
            counter(after, k)
                .zip(counter(before, k))
                .map(|(a, b)| a.saturating_sub(b))
        };
        let (fallbacks, errors) = (delta("redis_fallbacks"), delta("redis_errors"));
        // B holds a chunk of the token's shared rpm and tpm buckets; A holds none.
        let shares = counter(after, "shares");
        let held = r0 == want
            && r1 == want
            && (!shared
                || (fallbacks == Some(0) && errors == Some(0) && shares.is_some_and(|s| s > 0)));
        let show = |d: Option<u64>| d.map_or_else(|| "?".to_owned(), |d| format!("+{d}"));
        out.push(Check {
            name: format!(
                "{name}: cluster.redis {r0} before the load, {r1} after (want \"{want}\"); over the load redis_fallbacks {}, redis_errors {}, redis_waits {}, quota_pushes {}; shares {}, live_instances {}",
                show(fallbacks),
                show(errors),
                show(delta("redis_waits")),
                show(delta("quota_pushes")),
                after["shares"],
                after["live_instances"]
            ),
            held,
        });
    }
    out.push(Check {
        name: format!(
            "{} keys under B's prefix `{}` in Redis after the load (want > 0)",
            r.checks.key_count, r.checks.prefix
        ),
        held: r.checks.key_count > 0,
    });
    let errors: u64 = r.pairs.iter().map(|p| p.a.errors + p.b.errors).sum();
    out.push(Check {
        name: format!(
            "{errors} refused or failed requests over all runs (want 0: a refusal would mean the limits were low enough to shape the load)"
        ),
        held: errors == 0 && !r.pairs.is_empty(),
    });
    out
}

impl Report<'_> {
    /// Writes the report; `Ok(false)` when a check failed (the figures are then not a valid
    /// comparison), whatever the timings.
    pub fn write(self, dir: &Path) -> Result<bool, String> {
        let checks = checks(&self);
        let md = self.markdown(&checks);
        let path = dir.join("cluster.md");
        std::fs::write(&path, &md).map_err(|e| format!("{}: {e}", path.display()))?;
        let text = serde_json::to_string_pretty(&self.json(&checks)).map_err(|e| e.to_string())?;
        let path = dir.join("cluster.json");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("\n{md}");
        println!(
            "report: {} (cluster.md, cluster.json, a1..b2.toml and .log)",
            dir.display()
        );
        Ok(checks.iter().all(|c| c.held))
    }

    fn markdown(&self, checks: &[Check]) -> String {
        let a = self.args;
        let mut m = String::new();
        let _ = writeln!(
            m,
            "Layout: {}.\nMachine load average (1 min) {} before the scenarios, {} after.\nTwo relays per pair on one PostgreSQL database; A: limits local to each instance (no store.redis_url); B: shared through Redis. One token: a quota, rpm {} and tpm {} per {} (never refusing). Each run: {} warm-up + {} measured, closed loop, the workers spread evenly over the pair's two relays; {} rounds per scenario, A then B in odd rounds, B then A in even ones.\n",
            self.layout,
            self.loadavg.0,
            self.loadavg.1,
            a.rpm,
            a.tpm,
            humantime::format_duration(a.rate_window),
            humantime::format_duration(a.warmup),
            humantime::format_duration(a.duration),
            a.rounds
        );
        let _ = writeln!(
            m,
            "| scenario | round | A req/s | B req/s | ratio B/A | p50 A / B ms | p99 A / B ms | added p99 ms | errors A / B |\n|---|---|---|---|---|---|---|---|---|"
        );
        for p in &self.pairs {
            for (i, (ra, rb)) in p.rounds.iter().enumerate() {
                let _ = writeln!(
                    m,
                    "| {} | {} | {:.0} | {:.0} | {:.3} | {:.2} / {:.2} | {:.2} / {:.2} | {:+.3} | {} / {} |",
                    p.name,
                    i + 1,
                    ra.rps,
                    rb.rps,
                    rb.rps / ra.rps.max(1e-9),
                    ra.p50,
                    rb.p50,
                    ra.p99,
                    rb.p99,
                    rb.p99 - ra.p99,
                    ra.errors,
                    rb.errors
                );
            }
            let _ = writeln!(
                m,
                "| {} | all | {:.0} | {:.0} | **{:.3}** | {:.2} / {:.2} | {:.2} / {:.2} | **{:+.3}** | {} / {} |",
                p.name,
                p.a.rps(),
                p.b.rps(),
                p.b.rps() / p.a.rps().max(1e-9),
                p.a.p(0.5),
                p.b.p(0.5),
                p.a.p(0.99),
                p.b.p(0.99),
                p.b.p(0.99) - p.a.p(0.99),
                p.a.errors,
                p.b.errors
            );
        }
        let _ = writeln!(m, "\nRelay CPU per request (both instances of the pair, user + system, warm-up included):");
        for p in &self.pairs {
            let _ = writeln!(
                m,
                "- {}: A {:.1} µs, B {:.1} µs",
                p.name, p.cpu_us.0, p.cpu_us.1
            );
        }
        let _ = writeln!(
            m,
            "\nTarget (one run, all rounds; informative, never an assertion):\n"
        );
        for p in &self.pairs {
            let added = p.b.p(0.99) - p.a.p(0.99);
            let tag = if added < TARGET_ADDED_P99_MS {
                "PASS"
            } else {
                "MISS"
            };
            let _ = writeln!(
                m,
                "- [{tag}] {}: added p99 with shared limits {added:+.3} ms (target < {TARGET_ADDED_P99_MS} ms)",
                p.name
            );
        }
        let _ = writeln!(
            m,
            "\nChecks (the comparison is valid only if all hold; the run exits 1 otherwise):\n"
        );
        for c in checks {
            let tag = if c.held { "ok" } else { "FAILED" };
            let _ = writeln!(m, "- [{tag}] {}", c.name);
        }
        m
    }

    fn json(&self, checks: &[Check]) -> Value {
        let pairs: Vec<_> = self
            .pairs
            .iter()
            .map(|p| {
                let rounds: Vec<_> = p
                    .rounds
                    .iter()
                    .map(|(a, b)| {
                        json!({"a": {"rps": a.rps, "p50_ms": a.p50, "p99_ms": a.p99, "errors": a.errors},
                               "b": {"rps": b.rps, "p50_ms": b.p50, "p99_ms": b.p99, "errors": b.errors}})
                    })
                    .collect();
                json!({"scenario": p.name, "rounds": rounds,
                       "a_rps": p.a.rps(), "b_rps": p.b.rps(), "ratio": p.b.rps() / p.a.rps().max(1e-9),
                       "a_p50_ms": p.a.p(0.5), "b_p50_ms": p.b.p(0.5),
                       "a_p99_ms": p.a.p(0.99), "b_p99_ms": p.b.p(0.99),
                       "added_p99_ms": p.b.p(0.99) - p.a.p(0.99),
                       "target_added_p99_ms": TARGET_ADDED_P99_MS,
                       "a_errors": p.a.errors, "b_errors": p.b.errors,
                       "a_cpu_us_per_request": p.cpu_us.0, "b_cpu_us_per_request": p.cpu_us.1})
            })
            .collect();
        let readings: Vec<_> = self
            .checks
            .readings
            .iter()
            .map(|(n, b, a)| json!({"instance": n, "before": b, "after": a}))
            .collect();
        let verdicts: Vec<_> = checks
            .iter()
            .map(|c| json!({"check": c.name, "held": c.held}))
            .collect();
        json!({"layout": self.layout, "scenarios": pairs, "cluster_health": readings,
               "redis_prefix": self.checks.prefix, "redis_keys": self.checks.key_count,
               "redis_key_sample": self.checks.keys, "database": self.checks.database,
               "checks": verdicts, "loadavg_before_after": [self.loadavg.0, self.loadavg.1]})
    }
}
