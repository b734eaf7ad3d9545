//! The usage batch: ledger rows, token totals and daily rollups in one transaction.

use super::{Db, Handle, Tx};
use crate::store::now_ms;
use crate::store::usage::batch::{aggregate, int, statements, DailyDelta, DailyKey, TotalDelta};
use crate::store::usage::{Committed, TokenCommit, UsageRecord};
use crate::store::StoreResult;
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Writes a batch: `INSERT … ON CONFLICT (usage_id) DO NOTHING` (the new rows told apart only
/// when some were not new: `insert_part`), then the totals and rollups of the rows that were
/// really inserted, then commits.
pub(crate) async fn insert_batch(
    h: &Handle,
    records: &[UsageRecord],
    max_statement_bytes: usize,
    origin: u64,
) -> StoreResult<Committed> {
    let mut tx = h.begin_write().await?;
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(records.len());
    for part in statements(records, max_statement_bytes) {
        inserted.extend(insert_part(&mut tx, part).await?);
    }
    // A record offered twice in one batch counts once.
    let mut counted: HashSet<Uuid> = HashSet::with_capacity(inserted.len());
    let rows = records
        .iter()
        .filter(|r| inserted.contains(&r.usage_id) && counted.insert(r.usage_id));
    let (totals, daily) = aggregate(rows, origin);
    let tokens = upsert_totals(&mut tx, &totals).await?;
    upsert_daily(&mut tx, &daily).await?;
    tx.commit().await?;
    Ok(Committed {
        offered: records.len(),
        inserted: inserted.len(),
        tokens,
    })
}

/// The ledger rows of one statement's records, and which of them were new. The common case,
/// every record new, is one `INSERT` whose row count says so: asking for the inserted ids
/// (`RETURNING`) costs the database a row sent back per record, and the relay a wake-up per row
/// (a third of the relay's work per request at full load). Only when some were already there
/// (a spool replayed after a crash, a record offered twice) is the statement rolled back to its
/// savepoint and run again with `RETURNING usage_id`, to count exactly the new ones.
// The batch statements' text depends on how many rows they carry: each is prepared for its
// batch and not kept in the connection's statement cache (one cached statement per batch size,
// each holding its compiled program, grew the writer's memory with the traffic's variety).
async fn insert_part(tx: &mut Tx, part: &[UsageRecord]) -> StoreResult<Vec<Uuid>> {
    let mut savepoint = sqlx::Connection::begin(&mut **tx).await?;
    let added = events(part, "")
        .build()
        .persistent(false)
        .execute(&mut *savepoint)
        .await?;
    if added.rows_affected() == part.len() as u64 {
        savepoint.commit().await?;
        return Ok(part.iter().map(|r| r.usage_id).collect());
    }
    savepoint.rollback().await?;
    Ok(events(part, " RETURNING usage_id")
        .build_query_scalar::<Uuid>()
        .persistent(false)
        .fetch_all(&mut **tx)
        .await?)
}

/// `INSERT … ON CONFLICT (usage_id) DO NOTHING` of `part`, then `tail`.
fn events(part: &[UsageRecord], tail: &str) -> QueryBuilder<Db> {
    let mut q = QueryBuilder::<Db>::new(
        "INSERT INTO usage_events (usage_id, request_id, token_id, channel, model, \
         upstream_model, endpoint, outcome, usage_source, status, prompt_tokens, \
         completion_tokens, cached_tokens, images, image_size, image_quality, characters, \
         audio_ms, video_ms, cost_units, stream, ttft_ms, latency_ms, client_ip, created_at) ",
    );
    q.push_values(part, |mut row, r| {
        row.push_bind(r.usage_id)
            .push_bind(r.request_id.clone())
            .push_bind(r.token_id.unwrap_or(0))
            .push_bind(r.channel.clone().unwrap_or_default())
            .push_bind(r.model.clone())
            .push_bind(r.upstream_model.clone().unwrap_or_default())
            .push_bind(r.endpoint.clone())
            .push_bind(r.outcome.as_str())
            .push_bind(r.usage_source.as_str())
            .push_bind(i64::from(r.status))
            .push_bind(int(r.prompt_tokens))
            .push_bind(int(r.completion_tokens))
            .push_bind(int(r.cached_tokens))
            .push_bind(i64::from(r.images))
            .push_bind(r.image_size.clone().unwrap_or_default())
            .push_bind(r.image_quality.clone().unwrap_or_default())
            .push_bind(int(r.characters))
            .push_bind(int(r.audio_ms))
            .push_bind(int(r.video_ms))
            .push_bind(r.cost_units)
            .push_bind(r.stream)
            .push_bind(r.ttft_ms.map(int))
            .push_bind(int(r.latency_ms))
            .push_bind(r.client_ip.map(|ip| ip.to_string()))
            .push_bind(r.created_at);
    });
    q.push(" ON CONFLICT (usage_id) DO NOTHING");
    q.push(tail);
    q
}

async fn upsert_totals(
    tx: &mut Tx,
    totals: &BTreeMap<i64, TotalDelta>,
) -> StoreResult<Vec<TokenCommit>> {
    if totals.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let mut q = QueryBuilder::<Db>::new(
        "INSERT INTO token_totals (token_id, used_units, requests, updated_at) ",
    );
    q.push_values(totals, |mut row, (token_id, d)| {
        row.push_bind(*token_id)
            .push_bind(d.units)
            .push_bind(d.requests)
            .push_bind(now);
    });
    q.push(
        " ON CONFLICT (token_id) DO UPDATE SET \
         used_units = token_totals.used_units + excluded.used_units, \
         requests = token_totals.requests + excluded.requests, \
         updated_at = excluded.updated_at RETURNING token_id, used_units",
    );
    let rows: Vec<(i64, i64)> = q
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(token_id, used_units)| TokenCommit {
            token_id,
            used_units,
            local_units: totals.get(&token_id).map_or(0, |d| d.local_units),
        })
        .collect())
}

async fn upsert_daily(tx: &mut Tx, daily: &BTreeMap<DailyKey, DailyDelta>) -> StoreResult<()> {
    let entries: Vec<(&DailyKey, &DailyDelta)> = daily.iter().collect();
    // 15 binds per row: stay well inside both backends' parameter limits.
    for part in entries.chunks(1000) {
        let mut q = QueryBuilder::<Db>::new(
            "INSERT INTO usage_daily (day, token_id, model, channel, requests, errors, \
             estimated, prompt_tokens, completion_tokens, cached_tokens, images, characters, \
             audio_ms, video_ms, cost_units) ",
        );
        q.push_values(part, |mut row, (k, d)| {
            row.push_bind(k.day.clone())
                .push_bind(k.token_id)
                .push_bind(k.model.clone())
                .push_bind(k.channel.clone())
                .push_bind(d.requests)
                .push_bind(d.errors)
                .push_bind(d.estimated)
                .push_bind(d.prompt_tokens)
                .push_bind(d.completion_tokens)
                .push_bind(d.cached_tokens)
                .push_bind(d.images)
                .push_bind(d.characters)
                .push_bind(d.audio_ms)
                .push_bind(d.video_ms)
                .push_bind(d.cost_units);
        });
        q.push(
            " ON CONFLICT (day, token_id, model, channel) DO UPDATE SET \
             requests = usage_daily.requests + excluded.requests, \
             errors = usage_daily.errors + excluded.errors, \
             estimated = usage_daily.estimated + excluded.estimated, \
             prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens, \
             cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens, \
             images = usage_daily.images + excluded.images, \
             characters = usage_daily.characters + excluded.characters, \
             audio_ms = usage_daily.audio_ms + excluded.audio_ms, \
             video_ms = usage_daily.video_ms + excluded.video_ms, \
             cost_units = usage_daily.cost_units + excluded.cost_units",
        );
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}
