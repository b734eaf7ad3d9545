//! Token statements: create, read, update, revoke, and the file tokens' sync.

use super::{meta, Db, Handle, Tx};
use crate::store::tokens::{json_list, KeyHash, Source, Token, TokenRow, TokenSpec};
use crate::store::{now_ms, StoreError, StoreResult};

macro_rules! select_tokens {
    () => {
        "SELECT t.id, t.key_hash, t.key_prefix, t.name, t.enabled, t.expires_at, t.quota_limit, \
         t.models, t.allow_ips, t.rpm, t.tpm, t.rate_window_ms, \
         t.source, t.revision, t.created_at, t.updated_at, \
         t.revoked_at, COALESCE(tt.used_units, 0) AS used_units, \
         COALESCE(tt.requests, 0) AS requests \
         FROM tokens t LEFT JOIN token_totals tt ON tt.token_id = t.id"
    };
}

fn window_ms(spec: &TokenSpec) -> Option<i64> {
    spec.rate_window
        .map(|w| i64::try_from(w.as_millis()).unwrap_or(i64::MAX))
}

fn tokens(rows: Vec<TokenRow>) -> StoreResult<Vec<Token>> {
    rows.into_iter().map(Token::try_from).collect()
}

pub(crate) async fn list(h: &Handle, include_revoked: bool) -> StoreResult<Vec<Token>> {
    let rows = sqlx::query_as::<Db, TokenRow>(concat!(
        select_tokens!(),
        " WHERE ($1 OR t.revoked_at IS NULL) ORDER BY t.id"
    ))
    .bind(include_revoked)
    .fetch_all(h.reader())
    .await?;
    tokens(rows)
}

pub(crate) async fn get(h: &Handle, id: i64) -> StoreResult<Option<Token>> {
    let row = sqlx::query_as::<Db, TokenRow>(concat!(select_tokens!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(h.reader())
        .await?;
    row.map(Token::try_from).transpose()
}

/// Live tokens with this name (one per source at most).
pub(crate) async fn by_name(h: &Handle, name: &str) -> StoreResult<Vec<Token>> {
    let rows = sqlx::query_as::<Db, TokenRow>(concat!(
        select_tokens!(),
        " WHERE t.name = $1 AND t.revoked_at IS NULL ORDER BY t.id"
    ))
    .bind(name)
    .fetch_all(h.reader())
    .await?;
    tokens(rows)
}

pub(crate) async fn by_hash(h: &Handle, hash: &KeyHash) -> StoreResult<Option<Token>> {
    let row = sqlx::query_as::<Db, TokenRow>(concat!(select_tokens!(), " WHERE t.key_hash = $1"))
        .bind(hash.to_hex())
        .fetch_optional(h.reader())
        .await?;
    row.map(Token::try_from).transpose()
}

async fn get_in(tx: &mut Tx, id: i64) -> StoreResult<Token> {
    let row = sqlx::query_as::<Db, TokenRow>(concat!(select_tokens!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
    Token::try_from(row)
}

pub(crate) async fn insert(
    h: &Handle,
    spec: &TokenSpec,
    hash: &KeyHash,
    prefix: &str,
    source: Source,
) -> StoreResult<Token> {
    let mut tx = h.begin_write().await?;
    let revision = meta::bump(&mut tx).await?;
    let id = insert_in(&mut tx, spec, hash, prefix, source, revision).await?;
    let token = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(token)
}

async fn insert_in(
    tx: &mut Tx,
    spec: &TokenSpec,
    hash: &KeyHash,
    prefix: &str,
    source: Source,
    revision: i64,
) -> StoreResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar::<Db, i64>(
        "INSERT INTO tokens (key_hash, key_prefix, name, enabled, expires_at, quota_limit, \
         models, allow_ips, rpm, tpm, source, revision, created_at, updated_at, rate_window_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(hash.to_hex())
    .bind(prefix)
    .bind(&spec.name)
    .bind(spec.enabled)
    .bind(spec.expires_at)
    .bind(spec.quota_limit)
    .bind(json_list(&spec.models))
    .bind(json_list(&spec.allow_ips))
    .bind(spec.rpm.map(i64::from))
    .bind(spec.tpm.map(|t| t as i64))
    .bind(source.as_str())
    .bind(revision)
    .bind(now)
    .bind(now)
    .bind(window_ms(spec))
    .fetch_one(&mut **tx)
    .await?)
}

async fn write_fields(tx: &mut Tx, id: i64, spec: &TokenSpec, revision: i64) -> StoreResult<()> {
    sqlx::query::<Db>(
        "UPDATE tokens SET name = $1, enabled = $2, expires_at = $3, quota_limit = $4, \
         models = $5, allow_ips = $6, rpm = $7, tpm = $8, revision = $9, updated_at = $10, \
         rate_window_ms = $12 WHERE id = $11",
    )
    .bind(&spec.name)
    .bind(spec.enabled)
    .bind(spec.expires_at)
    .bind(spec.quota_limit)
    .bind(json_list(&spec.models))
    .bind(json_list(&spec.allow_ips))
    .bind(spec.rpm.map(i64::from))
    .bind(spec.tpm.map(|t| t as i64))
    .bind(revision)
    .bind(now_ms())
    .bind(id)
    .bind(window_ms(spec))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reads the token, lets `change` compute its new fields, writes them; one transaction.
pub(crate) async fn update(
    h: &Handle,
    id: i64,
    change: impl FnOnce(&Token) -> StoreResult<TokenSpec>,
) -> StoreResult<Token> {
    let mut tx = h.begin_write().await?;
    let current = get_in(&mut tx, id).await?;
    if current.is_revoked() {
        return Err(StoreError::Conflict(format!("token {id} is revoked")));
    }
    let spec = change(&current)?;
    let revision = meta::bump(&mut tx).await?;
    write_fields(&mut tx, id, &spec, revision).await?;
    let token = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(token)
}

pub(crate) async fn revoke(
    h: &Handle,
    id: i64,
    check: impl FnOnce(&Token) -> StoreResult<()>,
) -> StoreResult<Token> {
    let mut tx = h.begin_write().await?;
    let current = get_in(&mut tx, id).await?;
    check(&current)?;
    if !current.is_revoked() {
        let revision = meta::bump(&mut tx).await?;
        revoke_in(&mut tx, id, revision).await?;
    }
    let token = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(token)
}

/// Makes the live `source = 'file'` tokens exactly `wanted` (by name): updates those whose
/// fields or key changed, inserts new ones, revokes those the file no longer lists. Bumps the
/// revision only when something changed. Returns how many rows changed.
pub(crate) async fn sync_file(
    h: &Handle,
    wanted: &[(TokenSpec, KeyHash, String)],
) -> StoreResult<usize> {
    let mut tx = h.begin_write().await?;
    let rows = sqlx::query_as::<Db, TokenRow>(concat!(
        select_tokens!(),
        " WHERE t.source = 'file' AND t.revoked_at IS NULL"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let live = tokens(rows)?;
    let mut revision = None;
    let mut changed = 0;
    for (spec, hash, prefix) in wanted {
        let same_name = live.iter().find(|t| t.name == spec.name);
        match same_name {
            Some(t) if t.key_hash == hash.to_hex() && TokenSpec::from(t) == *spec => {}
            Some(t) if t.key_hash == hash.to_hex() => {
                let rev = bumped(&mut tx, &mut revision).await?;
                write_fields(&mut tx, t.id, spec, rev).await?;
                changed += 1;
            }
            Some(t) => {
                // The file gave this name a new key: the old key stops working.
                let rev = bumped(&mut tx, &mut revision).await?;
                revoke_in(&mut tx, t.id, rev).await?;
                insert_in(&mut tx, spec, hash, prefix, Source::File, rev).await?;
                changed += 1;
            }
            None => {
                let rev = bumped(&mut tx, &mut revision).await?;
                insert_in(&mut tx, spec, hash, prefix, Source::File, rev).await?;
                changed += 1;
            }
        }
    }
    for t in live
        .iter()
        .filter(|t| !wanted.iter().any(|(s, ..)| s.name == t.name))
    {
        let rev = bumped(&mut tx, &mut revision).await?;
        revoke_in(&mut tx, t.id, rev).await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
}

async fn bumped(tx: &mut Tx, revision: &mut Option<i64>) -> StoreResult<i64> {
    match revision {
        Some(r) => Ok(*r),
        None => {
            let r = meta::bump(tx).await?;
            *revision = Some(r);
            Ok(r)
        }
    }
}

async fn revoke_in(tx: &mut Tx, id: i64, revision: i64) -> StoreResult<()> {
    let now = now_ms();
    sqlx::query::<Db>(
        "UPDATE tokens SET enabled = FALSE, revoked_at = $1, updated_at = $2, revision = $3 \
         WHERE id = $4",
    )
    .bind(now)
    .bind(now)
    .bind(revision)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `(token_id, used_units)` of every token with totals.
pub(crate) async fn totals(h: &Handle) -> StoreResult<Vec<(i64, i64)>> {
    Ok(
        sqlx::query_as::<Db, (i64, i64)>("SELECT token_id, used_units FROM token_totals")
            .fetch_all(h.reader())
            .await?,
    )
}
