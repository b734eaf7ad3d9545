//! Channel statements: create, read, update, delete.

use super::{meta, Db, Handle, Tx};
use crate::store::channels::{ChannelRow, ChannelValues, StoredChannel};
use crate::store::{now_ms, StoreError, StoreResult};

macro_rules! select_channels {
    () => {
        "SELECT id, name, provider, base_url, keys_enc, key_hints, models, model_mapping, \
         headers, anthropic_version, priority, weight, max_concurrency, first_byte_ms, \
         stream_idle_ms, total_ms, enabled, rpm, tpm, rate_window_ms, revision, created_at, \
         updated_at FROM channels"
    };
}

type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

/// Binds the eighteen value columns, `provider` to `enabled` in table order, then `rpm`,
/// `tpm` and `rate_window_ms`.
fn bind_values<'q>(q: Query<'q>, v: &'q ChannelValues) -> Query<'q> {
    q.bind(v.provider)
        .bind(&v.base_url)
        .bind(&v.keys_enc)
        .bind(&v.key_hints)
        .bind(&v.models)
        .bind(&v.model_mapping)
        .bind(&v.headers)
        .bind(&v.anthropic_version)
        .bind(v.priority)
        .bind(v.weight)
        .bind(v.max_concurrency)
        .bind(v.first_byte_ms)
        .bind(v.stream_idle_ms)
        .bind(v.total_ms)
        .bind(v.enabled)
        .bind(v.rpm)
        .bind(v.tpm)
        .bind(v.rate_window_ms)
}

pub(crate) async fn list(h: &Handle) -> StoreResult<Vec<StoredChannel>> {
    let rows = sqlx::query_as::<Db, ChannelRow>(concat!(select_channels!(), " ORDER BY id"))
        .fetch_all(h.reader())
        .await?;
    rows.into_iter().map(StoredChannel::try_from).collect()
}

pub(crate) async fn get(h: &Handle, name: &str) -> StoreResult<Option<StoredChannel>> {
    let row = sqlx::query_as::<Db, ChannelRow>(concat!(select_channels!(), " WHERE name = $1"))
        .bind(name)
        .fetch_optional(h.reader())
        .await?;
    row.map(StoredChannel::try_from).transpose()
}

async fn get_in(tx: &mut Tx, name: &str) -> StoreResult<StoredChannel> {
    let row = sqlx::query_as::<Db, ChannelRow>(concat!(select_channels!(), " WHERE name = $1"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("channel `{name}`")))?;
    StoredChannel::try_from(row)
}

pub(crate) async fn insert(
    h: &Handle,
    name: &str,
    v: &ChannelValues,
) -> StoreResult<StoredChannel> {
    let mut tx = h.begin_write().await?;
    let revision = meta::bump(&mut tx).await?;
    let now = now_ms();
    let q = sqlx::query::<Db>(
        "INSERT INTO channels (name, provider, base_url, keys_enc, key_hints, models, \
         model_mapping, headers, anthropic_version, priority, weight, max_concurrency, \
         first_byte_ms, stream_idle_ms, total_ms, enabled, rpm, tpm, rate_window_ms, revision, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22)",
    )
    .bind(name);
    bind_values(q, v)
        .bind(revision)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let channel = get_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(channel)
}

/// Reads the channel, lets `change` compute its new columns, writes them; one transaction.
pub(crate) async fn update(
    h: &Handle,
    name: &str,
    change: impl FnOnce(&StoredChannel) -> StoreResult<ChannelValues>,
) -> StoreResult<StoredChannel> {
    let mut tx = h.begin_write().await?;
    let current = get_in(&mut tx, name).await?;
    let v = change(&current)?;
    let revision = meta::bump(&mut tx).await?;
    let q = sqlx::query::<Db>(
        "UPDATE channels SET provider = $1, base_url = $2, keys_enc = $3, key_hints = $4, \
         models = $5, model_mapping = $6, headers = $7, anthropic_version = $8, priority = $9, \
         weight = $10, max_concurrency = $11, first_byte_ms = $12, stream_idle_ms = $13, \
         total_ms = $14, enabled = $15, rpm = $16, tpm = $17, rate_window_ms = $18, \
         revision = $19, updated_at = $20 WHERE name = $21",
    );
    bind_values(q, &v)
        .bind(revision)
        .bind(now_ms())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let channel = get_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(channel)
}

/// Enables or disables without touching the keys (no secret key needed).
pub(crate) async fn set_enabled(
    h: &Handle,
    name: &str,
    enabled: bool,
) -> StoreResult<StoredChannel> {
    let mut tx = h.begin_write().await?;
    get_in(&mut tx, name).await?;
    let revision = meta::bump(&mut tx).await?;
    sqlx::query::<Db>(
        "UPDATE channels SET enabled = $1, revision = $2, updated_at = $3 WHERE name = $4",
    )
    .bind(enabled)
    .bind(revision)
    .bind(now_ms())
    .bind(name)
    .execute(&mut *tx)
    .await?;
    let channel = get_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(channel)
}

pub(crate) async fn delete(h: &Handle, name: &str) -> StoreResult<()> {
    let mut tx = h.begin_write().await?;
    let done = sqlx::query::<Db>("DELETE FROM channels WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("channel `{name}`")));
    }
    meta::bump(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
