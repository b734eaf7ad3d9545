//! `store_meta`: the revision every admin write bumps.

use super::{Db, Handle, Tx};
use crate::store::StoreResult;

pub(crate) async fn revision(h: &Handle) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar::<Db, i64>("SELECT revision FROM store_meta WHERE id = 1")
            .fetch_one(h.reader())
            .await?,
    )
}

/// Bumps the revision inside a write transaction and returns the new value.
pub(crate) async fn bump(tx: &mut Tx) -> StoreResult<i64> {
    Ok(sqlx::query_scalar::<Db, i64>(
        "UPDATE store_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
    )
    .fetch_one(&mut **tx)
    .await?)
}
