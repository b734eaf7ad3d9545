//! The text view of one health snapshot, as `sluice monitor` draws it.
//!
//! Owns: layout, units (bytes as KiB/MiB/GiB), colors by level; the store's line (status, queue,
//! spool, write latency and failures) when the relay has a store; the video tasks' lines once
//! the relay polls tasks.
//! Must never: fail on a snapshot it does not fully know; missing fields show as `-` or 0.

use serde_json::Value;
use std::fmt::Write;

/// The text view of one snapshot; `color` adds ANSI colors to levels.
pub fn render(v: &Value, url: &str, color: bool) -> String {
    let paint = |level: &str, text: String| if color { paint(level, text) } else { text };
    let mut out = String::new();
    let status = v["status"].as_str().unwrap_or("?");
    if v.get("gauges").is_none() {
        let _ = writeln!(
            out,
            "sluice monitor  {url}  status: {}\n\nonly the status is shown: the full view needs \
             the relay's admin_token (--token or SLUICE_ADMIN_TOKEN), or the URL of its admin \
             listener (admin_listen)",
            paint(status, status.to_uppercase()),
        );
        return out;
    }
    let _ = writeln!(
        out,
        "sluice monitor  {url}  status: {}  version {}  up {}",
        paint(status, status.to_uppercase()),
        v["version"].as_str().unwrap_or("?"),
        uptime(v["uptime_seconds"].as_f64().unwrap_or(0.0)),
    );
    let _ = writeln!(
        out,
        "\n{:<24}{:>14}{:>16}  level",
        "gauge", "value", "trend/min"
    );
    let empty = serde_json::Map::new();
    for (name, value) in v["gauges"].as_object().unwrap_or(&empty) {
        let level = v["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["gauge"] == name.as_str()))
            .and_then(|a| a["status"].as_str())
            .unwrap_or("ok");
        let bytes = name.ends_with("_bytes");
        let shown = value
            .as_u64()
            .map_or("-".to_owned(), |n| amount(n as f64, bytes));
        let trend = v["trend"][name].as_f64().map_or("-".to_owned(), |t| {
            let arrow = if t > 0.0 { "+" } else { "" };
            format!("{arrow}{}", amount(t, bytes))
        });
        let _ = writeln!(
            out,
            "{name:<24}{shown:>14}{trend:>16}  {}",
            paint(level, level.to_owned())
        );
    }
    if let Some(g) = v["growing"].as_array().filter(|g| !g.is_empty()) {
        let names: Vec<&str> = g.iter().filter_map(|x| x["gauge"].as_str()).collect();
        let _ = writeln!(
            out,
            "\n{}",
            paint("warn", format!("growing: {}", names.join(", ")))
        );
    }
    let c = &v["counters"];
    let sum = |x: &Value| -> u64 {
        x.as_object().map_or(0, |m| {
            m.values()
                .map(|n| n.as_u64().unwrap_or_else(|| sum_nested(n)))
                .sum()
        })
    };
    let _ = writeln!(
        out,
        "\nrequests {}  upstream errors {}  retries {}  client disconnects {}  timeouts {}",
        sum(&c["requests"]),
        sum(&c["upstream_errors"]),
        c["retries"].as_u64().unwrap_or(0),
        c["client_disconnects"].as_u64().unwrap_or(0),
        sum(&c["timeouts"]),
    );
    if let Some(tcp) = v["tcp_sockets"].as_object() {
        let parts: Vec<String> = tcp
            .iter()
            .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let parts = if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join("  ")
        };
        let _ = writeln!(out, "tcp sockets: {parts}");
    }
    if let Some(st) = v["store"].as_object() {
        let n = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
        let state = st.get("status").and_then(Value::as_str).unwrap_or("?");
        let level = match state {
            "ok" => "ok",
            "degraded" => "warn",
            _ => "critical",
        };
        let batches = n("batches_written");
        let mean = n("write_micros_sum")
            .checked_div(batches)
            .map_or_else(|| "-".to_owned(), |m| format!("{m}µs"));
        let _ = writeln!(
            out,
            "store {} {}  queue {}/{}  spool {}{}  writes {} (mean {mean}, max {}µs)  failures {}  dropped {}",
            st.get("backend").and_then(Value::as_str).unwrap_or("?"),
            paint(level, state.to_owned()),
            n("queue_depth"),
            n("queue_capacity"),
            amount(n("spool_bytes") as f64, true),
            if st.get("spool_full").and_then(Value::as_bool) == Some(true) { " FULL" } else { "" },
            batches,
            n("write_micros_max"),
            n("write_failures"),
            n("records_dropped"),
        );
    }
    if let Some(video) = v["video"].as_object().filter(|x| {
        !x.get("counted_at").is_none_or(Value::is_null)
            || x.get("polls_total").and_then(Value::as_u64).unwrap_or(0) > 0
    }) {
        video_lines(&mut out, video, &paint);
    }
    let _ = writeln!(
        out,
        "samples {} over {}s (every {}s)",
        v["samples"].as_u64().unwrap_or(0),
        v["window_seconds"].as_f64().unwrap_or(0.0),
        v["interval_seconds"].as_f64().unwrap_or(0.0),
    );
    out
}

/// The video tasks' lines: pending by provider and state, the oldest one's age, polls and
/// their rate, poll errors by kind, callbacks, and those past their deadline (a warning).
fn video_lines(
    out: &mut String,
    video: &serde_json::Map<String, Value>,
    paint: &dyn Fn(&str, String) -> String,
) {
    let n = |k: &str| video.get(k).and_then(Value::as_u64).unwrap_or(0);
    let oldest = video
        .get("oldest_pending_seconds")
        .and_then(Value::as_f64)
        .map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s"));
    let errors: Vec<String> = video
        .get("poll_errors")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
                .map(|(k, n)| format!("{k} {n}"))
                .collect()
        })
        .unwrap_or_default();
    let errors = if errors.is_empty() {
        "none".to_owned()
    } else {
        errors.join(", ")
    };
    let overdue = n("overdue");
    let overdue = if overdue > 0 {
        paint("warn", format!("overdue {overdue}"))
    } else {
        "overdue 0".to_owned()
    };
    let _ = writeln!(
        out,
        "video pending {}  oldest {oldest}  {overdue}  polls {} ({:.1}/s)  poll errors: {errors}  callbacks {}",
        n("pending_total"),
        n("polls_total"),
        video.get("polls_per_second").and_then(Value::as_f64).unwrap_or(0.0),
        n("callbacks_total"),
    );
    let groups: Vec<String> = video
        .get("pending")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|g| {
                    format!(
                        "{} {} {}",
                        g["provider"].as_str().unwrap_or("?"),
                        g["state"].as_str().unwrap_or("?"),
                        g["count"].as_u64().unwrap_or(0)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !groups.is_empty() {
        let _ = writeln!(out, "  by provider: {}", groups.join(", "));
    }
}

fn sum_nested(v: &Value) -> u64 {
    v.as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

fn paint(level: &str, text: String) -> String {
    match level {
        "critical" | "draining" => format!("\x1b[1;31m{text}\x1b[0m"),
        "warn" => format!("\x1b[33m{text}\x1b[0m"),
        "ok" => format!("\x1b[32m{text}\x1b[0m"),
        _ => text,
    }
}

/// 1234 -> "1234"; with bytes, 1536 -> "1.5 KiB".
fn amount(n: f64, bytes: bool) -> String {
    if !bytes {
        return if n.fract() == 0.0 {
            format!("{n}")
        } else {
            format!("{n:.2}")
        };
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n;
    let mut i = 0;
    while x.abs() >= 1024.0 && i < units.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", units[i])
    }
}

fn uptime(secs: f64) -> String {
    let s = secs as u64;
    format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
}
