//! What one committed batch adds to the totals and the daily rollups.
//!
//! Owns: aggregating the ledger rows a batch really inserted into per-token totals and
//! per-(day, token, model, channel) rollups, and splitting a batch into statements bounded by
//! rows and bytes.
//! Must never: count a row the ledger did not insert (a replayed record adds nothing).

use super::{Outcome, UsageRecord, UsageSource};
use std::collections::BTreeMap;

/// Rows per INSERT statement at most (both backends' bind-parameter limits allow it).
pub(crate) const MAX_ROWS_PER_STATEMENT: usize = 1000;

/// The increments of one token's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TotalDelta {
    pub units: i64,
    pub requests: i64,
    /// The part of `units` this process's quota counters hold as unflushed.
    pub local_units: i64,
}

/// The increments of one daily rollup row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DailyDelta {
    pub requests: i64,
    pub errors: i64,
    pub estimated: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub images: i64,
    pub characters: i64,
    pub audio_ms: i64,
    pub video_ms: i64,
    pub cost_units: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DailyKey {
    pub day: String,
    pub token_id: i64,
    pub model: String,
    pub channel: String,
}

pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The UTC calendar day (`YYYY-MM-DD`) of a Unix-milliseconds time.
pub fn day_of(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "1970-01-01".to_owned())
}

/// Totals per token (records without a token are left out) and rollups per key.
pub(crate) fn aggregate<'a>(
    inserted: impl IntoIterator<Item = &'a UsageRecord>,
    origin: u64,
) -> (BTreeMap<i64, TotalDelta>, BTreeMap<DailyKey, DailyDelta>) {
    let mut totals: BTreeMap<i64, TotalDelta> = BTreeMap::new();
    let mut daily: BTreeMap<DailyKey, DailyDelta> = BTreeMap::new();
    for r in inserted {
        let token_id = r.token_id.unwrap_or(0);
        if token_id != 0 {
            let t = totals.entry(token_id).or_default();
            t.units = t.units.saturating_add(r.cost_units);
            t.requests += 1;
            if origin != 0 && r.origin == origin {
                t.local_units = t.local_units.saturating_add(r.cost_units);
            }
        }
        let key = DailyKey {
            day: day_of(r.created_at),
            token_id,
            model: r.model.clone(),
            channel: r.channel.clone().unwrap_or_default(),
        };
        let d = daily.entry(key).or_default();
        d.requests += 1;
        d.errors += i64::from(r.outcome != Outcome::Ok);
        d.estimated += i64::from(r.usage_source == UsageSource::Estimated);
        d.prompt_tokens = d.prompt_tokens.saturating_add(int(r.prompt_tokens));
        d.completion_tokens = d.completion_tokens.saturating_add(int(r.completion_tokens));
        d.cached_tokens = d.cached_tokens.saturating_add(int(r.cached_tokens));
        d.images = d.images.saturating_add(i64::from(r.images));
        d.characters = d.characters.saturating_add(int(r.characters));
        d.audio_ms = d.audio_ms.saturating_add(int(r.audio_ms));
        d.video_ms = d.video_ms.saturating_add(int(r.video_ms));
        d.cost_units = d.cost_units.saturating_add(r.cost_units);
    }
    (totals, daily)
}

/// Splits `records` into statements of at most `MAX_ROWS_PER_STATEMENT` rows and about
/// `max_bytes` of row data (a single larger row still gets its own statement).
pub(crate) fn statements(records: &[UsageRecord], max_bytes: usize) -> Vec<&[UsageRecord]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, r) in records.iter().enumerate() {
        let size = r.approx_bytes();
        let rows = i - start;
        if rows > 0 && (rows >= MAX_ROWS_PER_STATEMENT || bytes + size > max_bytes) {
            out.push(&records[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(token: Option<i64>, model: &str, cost: i64, origin: u64) -> UsageRecord {
        let mut r = UsageRecord::new("r", "chat", model);
        r.token_id = token;
        r.cost_units = cost;
        r.prompt_tokens = 10;
        r.origin = origin;
        r.outcome = Outcome::Ok;
        r.usage_source = UsageSource::Upstream;
        r.created_at = 86_400_000 * 3 + 5; // 1970-01-04
        r
    }

    #[test]
    fn totals_and_rollups_sum_the_rows() {
        let rows = [
            record(Some(1), "a", 5, 9),
            record(Some(1), "a", 7, 0),
            record(Some(2), "b", 1, 9),
            record(None, "a", 100, 9),
        ];
        let (totals, daily) = aggregate(&rows, 9);
        assert_eq!(
            totals[&1],
            TotalDelta {
                units: 12,
                requests: 2,
                local_units: 5
            }
        );
        assert_eq!(totals[&2].units, 1);
        assert!(!totals.contains_key(&0), "no token: no totals");
        assert_eq!(daily.len(), 3);
        let k = DailyKey {
            day: "1970-01-04".into(),
            token_id: 0,
            model: "a".into(),
            channel: "".into(),
        };
        assert_eq!(daily[&k].cost_units, 100);
    }

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_767_225_599_999), "2025-12-31");
        assert_eq!(day_of(1_767_225_600_000), "2026-01-01");
        assert_eq!(day_of(-1), "1969-12-31");
    }

    proptest! {
        #[test]
        fn statements_cover_every_row_once_within_their_bounds(
            sizes in proptest::collection::vec(0usize..3000, 0..2500),
            max_bytes in 200usize..20_000,
        ) {
            let rows: Vec<UsageRecord> = sizes.iter().map(|n| {
                let mut r = UsageRecord::new("r", "chat", "m");
                r.request_id = "x".repeat(*n);
                r
            }).collect();
            let parts = statements(&rows, max_bytes);
            let total: usize = parts.iter().map(|p| p.len()).sum();
            prop_assert_eq!(total, rows.len());
            for p in &parts {
                prop_assert!(!p.is_empty() && p.len() <= MAX_ROWS_PER_STATEMENT);
                let bytes: usize = p.iter().map(UsageRecord::approx_bytes).sum();
                prop_assert!(p.len() == 1 || bytes <= max_bytes);
            }
        }
    }
}
