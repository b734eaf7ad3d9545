//! `instances`: each running relay's heartbeat row.

use super::{Db, Handle};
use crate::store::StoreResult;

/// Writes `id`'s heartbeat, forgets rows not seen since `forget_before`, and counts the
/// instances seen since `live_since` (this one included).
pub(crate) async fn beat(
    h: &Handle,
    id: &str,
    started_at: i64,
    now: i64,
    live_since: i64,
    forget_before: i64,
) -> StoreResult<u32> {
    let mut tx = h.begin_write().await?;
    sqlx::query::<Db>(
        "INSERT INTO instances (id, started_at, seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(id)
    .bind(started_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query::<Db>("DELETE FROM instances WHERE seen_at < $1")
        .bind(forget_before)
        .execute(&mut *tx)
        .await?;
    let live = sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM instances WHERE seen_at >= $1")
        .bind(live_since)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
}

/// Removes `id`'s row (a clean stop: the others count one fewer at once).
pub(crate) async fn leave(h: &Handle, id: &str) -> StoreResult<()> {
    let mut tx = h.begin_write().await?;
    sqlx::query::<Db>("DELETE FROM instances WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
