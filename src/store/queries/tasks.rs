//! Video task statements: insert, reads, the owner's pages, the leased take of due tasks, the
//! compare-and-set update, delete, the deadline scan and the counts.
//!
//! Must never: write a task whose stored version is not the one its writer read, write over a
//! terminal state, or take a task another instance holds a live lease on.

use super::{Db, Handle};
use crate::store::tasks::{Order, TaskRow, TaskValues};
use crate::store::StoreResult;

macro_rules! columns {
    () => {
        "id, token_id, owner, front, channel, key_index, provider, model, upstream_model, \
         upstream_id, upstream_ref, spec, state, progress, failure_code, failure_message, \
         result_url, video_ms, charged_units, request_id, created_at, updated_at, completed_at, \
         expires_at, deadline_at, next_poll_at, polls, poll_errors, lease_owner, lease_until, \
         version, deleted"
    };
}

macro_rules! select_tasks {
    () => {
        concat!("SELECT ", columns!(), " FROM video_tasks")
    };
}

/// The states a task is polled in (the SQL twin of `!TaskState::is_terminal`).
macro_rules! pending {
    () => {
        "state IN ('queued', 'in_progress')"
    };
}

/// Due at `$2`: pending, its poll time come, no live lease.
macro_rules! due {
    () => {
        concat!(pending!(), " AND next_poll_at <= $2 AND lease_until <= $2")
    };
}

/// The leased take (SQLite, whose write transactions are serial): the due ids chosen by a
/// subquery, the due condition checked again on each row taken.
const TAKE_DUE: &str = concat!(
    "UPDATE video_tasks SET lease_owner = $1, lease_until = $3, version = version + 1 \
     WHERE id IN (SELECT id FROM video_tasks WHERE ",
    due!(),
    " ORDER BY next_poll_at LIMIT $4) AND ",
    due!(),
    " RETURNING ",
    columns!()
);

/// The leased take (PostgreSQL): the due rows locked once in a materialised CTE, rows another
/// instance is taking skipped (a subquery under `IN` may be evaluated again when a concurrent
/// update makes the executor recheck a row, and take more than its `LIMIT`), the due condition
/// checked again on each row taken.
const TAKE_DUE_SKIP_LOCKED: &str = concat!(
    "WITH due AS MATERIALIZED (SELECT id FROM video_tasks WHERE ",
    due!(),
    " ORDER BY next_poll_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE video_tasks SET lease_owner = $1, lease_until = $3, version = version + 1 \
     WHERE id IN (SELECT id FROM due) AND ",
    due!(),
    " RETURNING ",
    columns!()
);

fn is_postgres() -> bool {
    <Db as sqlx::Database>::NAME == "PostgreSQL"
}

type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>;

/// Binds every column but `id`, `version` and those fixed at creation, in the order
/// `update`'s `SET` names them.
fn bind_mutable<'q>(q: Query<'q>, v: &'q TaskValues<'_>) -> Query<'q> {
    q.bind(v.upstream_ref)
        .bind(&v.spec)
        .bind(v.state)
        .bind(v.progress)
        .bind(v.failure_code)
        .bind(v.failure_message)
        .bind(v.result_url)
        .bind(v.video_ms)
        .bind(v.charged_units)
        .bind(v.updated_at)
        .bind(v.completed_at)
        .bind(v.expires_at)
        .bind(v.deadline_at)
        .bind(v.next_poll_at)
        .bind(v.polls)
        .bind(v.poll_errors)
        .bind(v.lease_owner)
        .bind(v.lease_until)
        .bind(v.deleted)
}

pub(crate) async fn insert(h: &Handle, v: &TaskValues<'_>) -> StoreResult<()> {
    let q = sqlx::query::<Db>(
        "INSERT INTO video_tasks (id, token_id, owner, front, channel, key_index, provider, \
         model, upstream_model, upstream_id, request_id, created_at, version, upstream_ref, \
         spec, state, progress, failure_code, failure_message, result_url, video_ms, \
         charged_units, updated_at, completed_at, expires_at, deadline_at, next_poll_at, polls, \
         poll_errors, lease_owner, lease_until, deleted) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
         $25, $26, $27, $28, $29, $30, $31, $32)",
    )
    .bind(v.id)
    .bind(v.token_id)
    .bind(v.owner)
    .bind(v.front)
    .bind(v.channel)
    .bind(v.key_index)
    .bind(v.provider)
    .bind(v.model)
    .bind(v.upstream_model)
    .bind(v.upstream_id)
    .bind(v.request_id)
    .bind(v.created_at)
    .bind(v.version);
    let mut tx = h.begin_write().await?;
    bind_mutable(q, v).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn get(h: &Handle, id: &str) -> StoreResult<Option<TaskRow>> {
    Ok(
        sqlx::query_as::<Db, TaskRow>(concat!(select_tasks!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(h.reader())
            .await?,
    )
}

pub(crate) async fn by_upstream(
    h: &Handle,
    channel: &str,
    upstream_id: &str,
) -> StoreResult<Option<TaskRow>> {
    Ok(sqlx::query_as::<Db, TaskRow>(concat!(
        select_tasks!(),
        " WHERE channel = $1 AND upstream_id = $2"
    ))
    .bind(channel)
    .bind(upstream_id)
    .fetch_optional(h.reader())
    .await?)
}

macro_rules! owned {
    () => {
        " WHERE owner = $1 AND COALESCE(token_id, 0) = $2 AND deleted = $3"
    };
}

/// `limit` rows of the owner's list (the caller asks one more than a page to tell `has_more`).
pub(crate) async fn list(
    h: &Handle,
    owner: &str,
    token_id: i64,
    after: Option<&str>,
    limit: i64,
    order: Order,
) -> StoreResult<Vec<TaskRow>> {
    // The cursor is the `after` task's (created_at, id); one that names no task compares as
    // NULL, so the page is empty.
    let sql = match (after.is_some(), order) {
        (false, Order::Asc) => concat!(
            select_tasks!(),
            owned!(),
            " ORDER BY created_at, id LIMIT $4"
        ),
        (false, Order::Desc) => concat!(
            select_tasks!(),
            owned!(),
            " ORDER BY created_at DESC, id DESC LIMIT $4"
        ),
        (true, Order::Asc) => concat!(
            select_tasks!(),
            owned!(),
            " AND (created_at, id) > (SELECT created_at, id FROM video_tasks WHERE id = $5) \
             ORDER BY created_at, id LIMIT $4"
        ),
        (true, Order::Desc) => concat!(
            select_tasks!(),
            owned!(),
            " AND (created_at, id) < (SELECT created_at, id FROM video_tasks WHERE id = $5) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ),
    };
    let mut q = sqlx::query_as::<Db, TaskRow>(sql)
        .bind(owner)
        .bind(token_id)
        .bind(false)
        .bind(limit);
    if let Some(after) = after {
        q = q.bind(after);
    }
    Ok(q.fetch_all(h.reader()).await?)
}

pub(crate) async fn take_due(
    h: &Handle,
    owner: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> StoreResult<Vec<TaskRow>> {
    let sql = if is_postgres() {
        TAKE_DUE_SKIP_LOCKED
    } else {
        TAKE_DUE
    };
    let mut tx = h.begin_write().await?;
    let rows = sqlx::query_as::<Db, TaskRow>(sql)
        .bind(owner)
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The compare-and-set: written only if the stored version is the one the writer read and the
/// stored state is not terminal; the new version, or `None`.
pub(crate) async fn update(h: &Handle, v: &TaskValues<'_>) -> StoreResult<Option<i64>> {
    let q = sqlx::query::<Db>(concat!(
        "UPDATE video_tasks SET upstream_ref = $1, spec = $2, state = $3, progress = $4, \
         failure_code = $5, failure_message = $6, result_url = $7, video_ms = $8, \
         charged_units = $9, updated_at = $10, completed_at = $11, expires_at = $12, \
         deadline_at = $13, next_poll_at = $14, polls = $15, poll_errors = $16, \
         lease_owner = $17, lease_until = $18, deleted = $19, version = version + 1 \
         WHERE id = $20 AND version = $21 AND ",
        pending!(),
        " RETURNING version"
    ));
    let mut tx = h.begin_write().await?;
    let written = bind_mutable(q, v)
        .bind(v.id)
        .bind(v.version)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(written
        .map(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
        .transpose()?)
}

pub(crate) async fn delete(h: &Handle, id: &str) -> StoreResult<bool> {
    let mut tx = h.begin_write().await?;
    let done = sqlx::query::<Db>(
        "UPDATE video_tasks SET deleted = $1, version = version + 1 WHERE id = $2 AND deleted = $3",
    )
    .bind(true)
    .bind(id)
    .bind(false)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn overdue(h: &Handle, now: i64, limit: i64) -> StoreResult<Vec<TaskRow>> {
    Ok(sqlx::query_as::<Db, TaskRow>(concat!(
        select_tasks!(),
        " WHERE ",
        pending!(),
        " AND deadline_at <= $1 ORDER BY deadline_at, id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(h.reader())
    .await?)
}

/// `(provider, state, count, oldest created_at)` per pending group, and the pending tasks past
/// their deadline at `now`.
pub(crate) async fn counts(
    h: &Handle,
    now: i64,
) -> StoreResult<(Vec<(String, String, i64, i64)>, i64)> {
    let groups = sqlx::query_as::<Db, (String, String, i64, i64)>(concat!(
        "SELECT provider, state, COUNT(*), MIN(created_at) FROM video_tasks WHERE ",
        pending!(),
        " GROUP BY provider, state"
    ))
    .fetch_all(h.reader())
    .await?;
    let overdue = sqlx::query_scalar::<Db, i64>(concat!(
        "SELECT COUNT(*) FROM video_tasks WHERE ",
        pending!(),
        " AND deadline_at <= $1"
    ))
    .bind(now)
    .fetch_one(h.reader())
    .await?;
    Ok((groups, overdue))
}
