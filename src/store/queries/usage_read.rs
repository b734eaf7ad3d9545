//! Usage reads: summaries (from the daily rollups when the range is whole days, from the
//! ledger otherwise) and pages of ledger rows.

use super::{Db, Handle, DAY_SQL};
use crate::store::usage::query::{
    Cursor, UsageFilter, UsageQuery, UsageSummary, MAX_PAGE, MAX_SUMMARY_ROWS,
};
use crate::store::usage::{Outcome, UsageRecord, UsageSource};
use crate::store::{StoreError, StoreResult};
use sqlx::QueryBuilder;

const SUMS: [&str; 11] = [
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

fn push_filters(q: &mut QueryBuilder<Db>, f: &UsageFilter, rollups: bool) {
    q.push(" WHERE 1 = 1");
    if let Some(t) = f.token_id {
        q.push(" AND token_id = ").push_bind(t);
    }
    if let Some(m) = &f.model {
        q.push(" AND model = ").push_bind(m.clone());
    }
    if let Some(c) = &f.channel {
        q.push(" AND channel = ").push_bind(c.clone());
    }
    if rollups {
        if let Some(d) = f.first_day() {
            q.push(" AND day >= ").push_bind(d);
        }
        if let Some(d) = f.end_day() {
            q.push(" AND day < ").push_bind(d);
        }
    } else {
        if let Some(t) = f.from {
            q.push(" AND created_at >= ").push_bind(t);
        }
        if let Some(t) = f.to {
            q.push(" AND created_at < ").push_bind(t);
        }
    }
}

pub(crate) async fn summary(h: &Handle, query: &UsageQuery) -> StoreResult<Vec<UsageSummary>> {
    let rollups = query.filter.whole_days();
    let mut q = QueryBuilder::<Db>::new("SELECT ");
    for (column, null) in [
        ("day", "CAST(NULL AS TEXT)"),
        ("token_id", "CAST(NULL AS BIGINT)"),
        ("model", "CAST(NULL AS TEXT)"),
        ("channel", "CAST(NULL AS TEXT)"),
    ] {
        let grouped = query.group_by.iter().any(|g| g.column() == column);
        q.push(if grouped { column } else { null });
        q.push(" AS ").push(column).push(", ");
    }
    for (i, sum) in SUMS.iter().enumerate() {
        let sep = if i + 1 < SUMS.len() { ", " } else { "" };
        q.push(format_args!(
            "CAST(COALESCE(SUM({sum}), 0) AS BIGINT) AS {sum}{sep}"
        ));
    }
    if rollups {
        q.push(" FROM usage_daily");
    } else {
        q.push(format_args!(
            " FROM (SELECT {DAY_SQL} AS day, token_id, model, channel, created_at, \
             1 AS requests, CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END AS errors, \
             CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END AS estimated, \
             prompt_tokens, completion_tokens, cached_tokens, images, characters, audio_ms, \
             video_ms, cost_units FROM usage_events) u"
        ));
    }
    push_filters(&mut q, &query.filter, rollups);
    if !query.group_by.is_empty() {
        let keys: Vec<&str> = query.group_by.iter().map(|g| g.column()).collect();
        let keys = keys.join(", ");
        q.push(format_args!(" GROUP BY {keys} ORDER BY {keys}"));
    }
    q.push(" LIMIT ").push_bind((MAX_SUMMARY_ROWS + 1) as i64);
    let rows: Vec<UsageSummary> = q.build_query_as().fetch_all(h.reader()).await?;
    if rows.len() > MAX_SUMMARY_ROWS {
        return Err(StoreError::Invalid(format!(
            "more than {MAX_SUMMARY_ROWS} rows: narrow the time range or the grouping"
        )));
    }
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct EventRow {
    usage_id: uuid::Uuid,
    request_id: String,
    token_id: i64,
    channel: String,
    model: String,
    upstream_model: String,
    endpoint: String,
    outcome: String,
    usage_source: String,
    status: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    images: i64,
    image_size: String,
    image_quality: String,
    characters: i64,
    audio_ms: i64,
    video_ms: i64,
    cost_units: i64,
    stream: bool,
    ttft_ms: Option<i64>,
    latency_ms: i64,
    client_ip: Option<String>,
    created_at: i64,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl EventRow {
    fn into_record(self) -> StoreResult<UsageRecord> {
        let bad = |what: &str, v: &str| StoreError::Invalid(format!("stored {what} `{v}`"));
        Ok(UsageRecord {
            usage_id: self.usage_id,
            request_id: self.request_id,
            token_id: (self.token_id != 0).then_some(self.token_id),
            channel: non_empty(self.channel),
            model: self.model,
            upstream_model: non_empty(self.upstream_model),
            endpoint: self.endpoint,
            outcome: Outcome::parse(&self.outcome).ok_or_else(|| bad("outcome", &self.outcome))?,
            usage_source: UsageSource::parse(&self.usage_source)
                .ok_or_else(|| bad("usage_source", &self.usage_source))?,
            status: u16::try_from(self.status).unwrap_or(0),
            prompt_tokens: count(self.prompt_tokens),
            completion_tokens: count(self.completion_tokens),
            cached_tokens: count(self.cached_tokens),
            images: u32::try_from(self.images).unwrap_or(0),
            image_size: non_empty(self.image_size),
            image_quality: non_empty(self.image_quality),
            characters: count(self.characters),
            audio_ms: count(self.audio_ms),
            video_ms: count(self.video_ms),
            cost_units: self.cost_units,
            stream: self.stream,
            ttft_ms: self.ttft_ms.map(count),
            latency_ms: count(self.latency_ms),
            client_ip: self.client_ip.and_then(|ip| ip.parse().ok()),
            created_at: self.created_at,
            origin: 0,
        })
    }
}

/// Ledger rows in `(created_at, usage_id)` order, after `cursor`, at most `limit`.
pub(crate) async fn events(
    h: &Handle,
    filter: &UsageFilter,
    cursor: Option<Cursor>,
    limit: usize,
) -> StoreResult<Vec<UsageRecord>> {
    let mut q = QueryBuilder::<Db>::new(
        "SELECT usage_id, request_id, token_id, channel, model, upstream_model, endpoint, \
         outcome, usage_source, status, prompt_tokens, completion_tokens, cached_tokens, \
         images, image_size, image_quality, characters, audio_ms, video_ms, cost_units, stream, \
         ttft_ms, latency_ms, client_ip, created_at FROM usage_events",
    );
    push_filters(&mut q, filter, false);
    if let Some(c) = cursor {
        q.push(" AND (created_at > ")
            .push_bind(c.created_at)
            .push(" OR (created_at = ")
            .push_bind(c.created_at)
            .push(" AND usage_id > ")
            .push_bind(c.usage_id)
            .push("))");
    }
    q.push(" ORDER BY created_at, usage_id LIMIT ")
        .push_bind(limit.clamp(1, MAX_PAGE) as i64);
    let rows: Vec<EventRow> = q.build_query_as().fetch_all(h.reader()).await?;
    rows.into_iter().map(EventRow::into_record).collect()
}

/// How many ledger rows match (for tests and reconciliation).
pub(crate) async fn count_events(h: &Handle, filter: &UsageFilter) -> StoreResult<i64> {
    let mut q = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM usage_events");
    push_filters(&mut q, filter, false);
    Ok(q.build_query_scalar::<i64>().fetch_one(h.reader()).await?)
}
