//! CSV for billing: ledger rows and summaries, as spreadsheets read them.
//!
//! Owns: the column sets and their order, times as RFC 3339 UTC, token names beside ids.
//! Must never: write a cell a spreadsheet would run as a formula (client-chosen text starting
//! with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`).

use super::query::UsageSummary;
use super::UsageRecord;
use std::collections::HashMap;

pub const EVENT_COLUMNS: [&str; 27] = [
    "usage_id",
    "created_at",
    "request_id",
    "token_id",
    "token_name",
    "channel",
    "model",
    "upstream_model",
    "endpoint",
    "outcome",
    "usage_source",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "images",
    "image_size",
    "image_quality",
    "characters",
    "audio_ms",
    "video_ms",
    "cost_units",
    "stream",
    "ttft_ms",
    "latency_ms",
    "client_ip",
    "created_at_ms",
];

pub const SUMMARY_COLUMNS: [&str; 16] = [
    "day",
    "token_id",
    "token_name",
    "model",
    "channel",
    "requests",
    "errors",
    "estimated",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "images",
    "characters",
    "audio_ms",
    "video_ms",
    "cost_units",
];

/// A text cell that cannot start a formula.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().unwrap_or_default()
}

/// The header line of the events CSV.
pub fn events_header() -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(EVENT_COLUMNS);
    finish(w)
}

/// Ledger rows (no header), token names looked up in `names`.
pub fn events(rows: &[UsageRecord], names: &HashMap<i64, String>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
    for r in rows {
        let name = r
            .token_id
            .and_then(|id| names.get(&id))
            .map_or("", String::as_str);
        let _ = w.write_record([
            r.usage_id.to_string(),
            rfc3339(r.created_at),
            text(&r.request_id),
            opt(r.token_id),
            text(name),
            text(r.channel.as_deref().unwrap_or("")),
            text(&r.model),
            text(r.upstream_model.as_deref().unwrap_or("")),
            text(&r.endpoint),
            r.outcome.as_str().to_owned(),
            r.usage_source.as_str().to_owned(),
            r.status.to_string(),
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.cached_tokens.to_string(),
            r.images.to_string(),
            text(r.image_size.as_deref().unwrap_or("")),
            text(r.image_quality.as_deref().unwrap_or("")),
            r.characters.to_string(),
            r.audio_ms.to_string(),
            r.video_ms.to_string(),
            r.cost_units.to_string(),
            r.stream.to_string(),
            opt(r.ttft_ms),
            r.latency_ms.to_string(),
            opt(r.client_ip),
            r.created_at.to_string(),
        ]);
    }
    finish(w)
}

/// Summary rows with a header.
pub fn summary(rows: &[UsageSummary], names: &HashMap<i64, String>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(256 + rows.len() * 128));
    let _ = w.write_record(SUMMARY_COLUMNS);
    for r in rows {
        let name = r
            .token_id
            .and_then(|id| names.get(&id))
            .map_or("", String::as_str);
        let _ = w.write_record([
            opt(r.day.as_deref()),
            opt(r.token_id),
            text(name),
            text(r.model.as_deref().unwrap_or("")),
            text(r.channel.as_deref().unwrap_or("")),
            r.requests.to_string(),
            r.errors.to_string(),
            r.estimated.to_string(),
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            r.cached_tokens.to_string(),
            r.images.to_string(),
            r.characters.to_string(),
            r.audio_ms.to_string(),
            r.video_ms.to_string(),
            r.cost_units.to_string(),
        ]);
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_fields_quoted() {
        let mut r = UsageRecord::new("=HYPERLINK(\"x\")", "chat", "gpt,4o");
        r.token_id = Some(3);
        r.created_at = 0;
        let names = HashMap::from([(3, "@team".to_owned())]);
        let out = String::from_utf8(events(&[r], &names)).unwrap();
        assert!(out.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{out}");
        assert!(out.contains("'@team"));
        assert!(out.contains("\"gpt,4o\""));
        assert!(out.contains("1970-01-01T00:00:00Z"));
        let header = String::from_utf8(events_header()).unwrap();
        assert_eq!(header.trim_end().split(',').count(), EVENT_COLUMNS.len());
        assert_eq!(
            out.lines().next().unwrap().matches(',').count(),
            27,
            "26 separators + 1 in a quoted cell"
        );
    }

    #[test]
    fn summaries_have_a_header_and_one_line_per_row() {
        let rows = vec![UsageSummary {
            day: Some("2026-01-02".into()),
            requests: 4,
            cost_units: 9,
            ..UsageSummary::default()
        }];
        let out = String::from_utf8(summary(&rows, &HashMap::new())).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("day,token_id"));
        assert!(lines[1].starts_with("2026-01-02,,"));
    }
}
