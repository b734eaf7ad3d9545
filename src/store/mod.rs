//! The store: tokens, channels and usage in SQLite (embedded, the default) or PostgreSQL,
//! behind one interface.
//!
//! Owns: opening the database (and migrating it), the revision that tells every instance an
//! admin change happened, and every read and write of tokens, channels and usage, each under
//! the `store.call_timeout` deadline. The backends are an enum (`Sqlite`, `Postgres`) with one
//! set of SQL compiled for each (`queries/`).
//! Must never: be awaited on the request path (the request path reads `limits`' in-memory
//! snapshot and hands usage to a `UsageSink`), keep a plain token key, or return a channel
//! key from a read.

pub mod channels;
pub mod cli;
pub mod crypto;
mod error;
mod migrate;
mod postgres;
mod sqlite;
pub mod stats;
pub mod tasks;
pub mod tokens;
pub mod usage;

pub use channels::{merge_channels, ChannelPatch, ChannelSpec, StoredChannel};
pub use crypto::SecretBox;
pub use error::{StoreError, StoreResult};
pub use migrate::{MigrationReport, SCHEMA_VERSION};
pub use stats::{StoreSnapshot, StoreStatus};
pub use tokens::{KeyHash, NewToken, Source, Token, TokenPatch, TokenSpec};
pub use usage::{Committed, Outcome, UsageRecord, UsageSink, UsageSource, UsageWriter};

use crate::config::{StoreBackend, StoreConfig, TokenConfig};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use usage::query::{Cursor, UsageFilter, UsageQuery, UsageSummary};

/// Wall-clock Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

enum Backend {
    Sqlite(sqlite::Handle),
    Postgres(Box<postgres::Handle>),
}

struct Inner {
    backend: Backend,
    call_timeout: Duration,
    max_statement_bytes: usize,
    secrets: Option<SecretBox>,
    revision: watch::Sender<i64>,
}

/// A handle to the store (cheap to clone).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Runs the same query text on whichever backend the store has, under the call deadline.
macro_rules! on_backend {
    ($store:expr, |$q:ident, $h:ident| $call:expr) => {
        match &$store.inner.backend {
            Backend::Sqlite($h) => {
                use self::sqlite::queries as $q;
                $store.deadline($call).await
            }
            Backend::Postgres($h) => {
                use self::postgres::queries as $q;
                $store.deadline($call).await
            }
        }
    };
}

impl Store {
    /// Opens the configured database, runs pending migrations, and reads the channel-key
    /// secret from `SLUICE_SECRET_KEY`.
    pub async fn open(config: &StoreConfig) -> StoreResult<Self> {
        Self::open_with(config, SecretBox::from_env()?).await
    }

    /// As [`Store::open`], with the secret box given (tests, tools).
    pub async fn open_with(config: &StoreConfig, secrets: Option<SecretBox>) -> StoreResult<Self> {
        config.validate()?;
        let backend = match config.backend()? {
            StoreBackend::Sqlite(path) => {
                let h = sqlite::Handle::connect(config, &path).await?;
                migrate::run_sqlite(&h, config.migrate_timeout).await?;
                Backend::Sqlite(h)
            }
            StoreBackend::Postgres(url) => {
                let h = postgres::Handle::connect(config, &url).await?;
                migrate::run_postgres(&h, config.migrate_timeout).await?;
                Backend::Postgres(Box::new(h))
            }
        };
        let store = Self {
            inner: Arc::new(Inner {
                backend,
                call_timeout: config.call_timeout,
                max_statement_bytes: config.usage.max_statement_bytes,
                secrets,
                revision: watch::Sender::new(0),
            }),
        };
        let revision = store.revision().await?;
        store.inner.revision.send_replace(revision);
        Ok(store)
    }

    /// Reports applied, pending and unknown migrations without changing anything.
    pub async fn migrate_check(config: &StoreConfig) -> StoreResult<MigrationReport> {
        migrate::check(config).await
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub fn secrets(&self) -> Option<&SecretBox> {
        self.inner.secrets.as_ref()
    }

    async fn deadline<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let limit = self.inner.call_timeout;
        tokio::time::timeout(limit, call)
            .await
            .unwrap_or(Err(StoreError::Timeout(limit)))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(h) => h.close().await,
            Backend::Postgres(h) => h.close().await,
        }
    }

    // ---- revision --------------------------------------------------------------------

    /// The current revision (bumped by every admin write).
    pub async fn revision(&self) -> StoreResult<i64> {
        on_backend!(self, |q, h| q::meta::revision(h))
    }

    /// Follows the revision: changes made here are published at once, changes made by other
    /// instances within one [`Store::run_revision_poll`] interval.
    pub fn subscribe_revision(&self) -> watch::Receiver<i64> {
        self.inner.revision.subscribe()
    }

    fn published(&self, revision: i64) {
        self.inner.revision.send_if_modified(|r| {
            let newer = revision > *r;
            if newer {
                *r = revision;
            }
            newer
        });
    }

    async fn publish_current(&self) {
        if let Ok(r) = self.revision().await {
            self.published(r);
        }
    }

    /// Polls the revision every `interval` until `cancel`; a background job. On PostgreSQL
    /// with `listen`, also follows `LISTEN sluice_revision` (a trigger notifies every bump), so
    /// other instances' changes arrive at once; the poll stays for a notification missed while
    /// the listening connection was down.
    pub async fn run_revision_poll(
        self,
        interval: Duration,
        listen: bool,
        cancel: CancellationToken,
    ) {
        let mut listener = match &self.inner.backend {
            Backend::Postgres(h) if listen => postgres::RevisionListener::new(h),
            _ => postgres::RevisionListener::off(),
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                notified = listener.next() => {
                    if let Some(r) = notified {
                        self.published(r);
                    }
                }
                _ = tick.tick() => {
                    match self.revision().await {
                        Ok(r) => self.published(r),
                        Err(e) => tracing::debug!(target: "sluice::store", error = %e, "revision poll failed"),
                    }
                }
            }
        }
    }

    // ---- instances -------------------------------------------------------------------

    /// Writes this instance's heartbeat and counts the live instances (seen within `ttl`).
    pub async fn heartbeat(&self, id: &str, started_at: i64, ttl: Duration) -> StoreResult<u32> {
        let now = now_ms();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let live_since = now.saturating_sub(ttl_ms);
        let forget_before = now.saturating_sub(ttl_ms.saturating_mul(100).max(3_600_000));
        on_backend!(self, |q, h| q::instances::beat(
            h,
            id,
            started_at,
            now,
            live_since,
            forget_before
        ))
    }

    /// Removes this instance's heartbeat row (a clean stop).
    pub async fn leave(&self, id: &str) -> StoreResult<()> {
        on_backend!(self, |q, h| q::instances::leave(h, id))
    }

    // ---- tokens ----------------------------------------------------------------------

    /// Creates a token with a new random key, returned once.
    pub async fn create_token(&self, spec: TokenSpec) -> StoreResult<NewToken> {
        let spec = spec.validated()?;
        spec.check_not_expired()?;
        let key = tokens::generate_key();
        let hash = KeyHash::of(key.expose());
        let prefix = tokens::key_prefix(key.expose());
        let token = on_backend!(self, |q, h| q::tokens::insert(
            h,
            &spec,
            &hash,
            &prefix,
            Source::Store
        ))?;
        self.published(token.revision);
        Ok(NewToken { token, key })
    }

    pub async fn list_tokens(&self, include_revoked: bool) -> StoreResult<Vec<Token>> {
        on_backend!(self, |q, h| q::tokens::list(h, include_revoked))
    }

    pub async fn get_token(&self, id: i64) -> StoreResult<Token> {
        on_backend!(self, |q, h| q::tokens::get(h, id))?
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))
    }

    /// A token by id, or by name among live tokens (the store's own before the file's).
    pub async fn find_token(&self, id_or_name: &str) -> StoreResult<Token> {
        if let Ok(id) = id_or_name.parse::<i64>() {
            return self.get_token(id).await;
        }
        let mut found = on_backend!(self, |q, h| q::tokens::by_name(h, id_or_name))?;
        found.sort_by_key(|t| t.source == Source::File);
        found
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("token `{id_or_name}`")))
    }

    /// The token a key hash belongs to, revoked or not (for the request path's cache miss).
    pub async fn token_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<Token>> {
        on_backend!(self, |q, h| q::tokens::by_hash(h, hash))
    }

    /// Changes a store token (a file token is changed in the file).
    pub async fn update_token(&self, id: i64, patch: TokenPatch) -> StoreResult<Token> {
        let change = |t: &Token| {
            if t.source == Source::File {
                return Err(read_only("token", &t.name));
            }
            patch.apply(TokenSpec::from(t)).validated()
        };
        let token = on_backend!(self, |q, h| q::tokens::update(h, id, change))?;
        self.published(token.revision);
        Ok(token)
    }

    /// Revokes a store token for good (its usage stays in the ledger).
    pub async fn revoke_token(&self, id: i64) -> StoreResult<Token> {
        let check = |t: &Token| match t.source {
            Source::File => Err(read_only("token", &t.name)),
            Source::Store => Ok(()),
        };
        let token = on_backend!(self, |q, h| q::tokens::revoke(h, id, check))?;
        self.published(token.revision);
        Ok(token)
    }

    /// Makes the store's `file` tokens match the config file's `[[tokens]]` (so their usage
    /// and totals have ids). Returns how many changed.
    pub async fn sync_file_tokens(&self, file: &[TokenConfig]) -> StoreResult<usize> {
        let wanted = file
            .iter()
            .map(|t| {
                let key = t.key.expose();
                let spec = TokenSpec {
                    name: t.name.clone().unwrap_or_else(|| t.key.hint()),
                    models: t.models.clone(),
                    ..TokenSpec::default()
                }
                .validated()?;
                Ok((spec, KeyHash::of(key), tokens::key_prefix(key)))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let changed = on_backend!(self, |q, h| q::tokens::sync_file(h, &wanted))?;
        if changed > 0 {
            self.publish_current().await;
        }
        Ok(changed)
    }

    /// `(token_id, used_units)` for every token that has usage.
    pub async fn token_totals(&self) -> StoreResult<Vec<(i64, i64)>> {
        on_backend!(self, |q, h| q::tokens::totals(h))
    }

    // ---- channels --------------------------------------------------------------------

    pub async fn create_channel(&self, spec: ChannelSpec) -> StoreResult<StoredChannel> {
        let config = spec.to_config()?;
        let (keys_enc, key_hints) = channels::seal_keys(&config, self.secrets())?;
        let values = channels::values(&config, keys_enc, key_hints);
        let channel = on_backend!(self, |q, h| q::channels::insert(h, &config.name, &values))?;
        self.published(channel.revision);
        Ok(channel)
    }

    pub async fn list_channels(&self) -> StoreResult<Vec<StoredChannel>> {
        on_backend!(self, |q, h| q::channels::list(h))
    }

    pub async fn get_channel(&self, name: &str) -> StoreResult<StoredChannel> {
        on_backend!(self, |q, h| q::channels::get(h, name))?
            .ok_or_else(|| StoreError::NotFound(format!("channel `{name}`")))
    }

    /// Changes a stored channel; a patch that leaves `keys` out needs no secret key.
    pub async fn update_channel(
        &self,
        name: &str,
        patch: ChannelPatch,
    ) -> StoreResult<StoredChannel> {
        let secrets = self.secrets();
        let change = |current: &StoredChannel| channels::patched(current, patch, secrets);
        let channel = on_backend!(self, |q, h| q::channels::update(h, name, change))?;
        self.published(channel.revision);
        Ok(channel)
    }

    pub async fn set_channel_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> StoreResult<StoredChannel> {
        let channel = on_backend!(self, |q, h| q::channels::set_enabled(h, name, enabled))?;
        self.published(channel.revision);
        Ok(channel)
    }

    pub async fn delete_channel(&self, name: &str) -> StoreResult<()> {
        on_backend!(self, |q, h| q::channels::delete(h, name))?;
        self.publish_current().await;
        Ok(())
    }

    /// Every stored channel as the relay's `ChannelConfig` (keys decrypted); a channel whose
    /// keys cannot be decrypted comes back as its error, so the others still load.
    pub async fn channel_configs(
        &self,
    ) -> StoreResult<Vec<(String, StoreResult<crate::config::ChannelConfig>)>> {
        let stored = self.list_channels().await?;
        Ok(stored
            .into_iter()
            .map(|c| {
                let config = c.to_config(self.secrets());
                (c.name, config)
            })
            .collect())
    }

    // ---- usage -----------------------------------------------------------------------

    /// Writes one batch of usage records in one transaction, idempotently: a record whose
    /// `usage_id` is already in the ledger adds nothing (to the ledger, totals or rollups).
    pub async fn write_usage(
        &self,
        records: &[UsageRecord],
        origin: u64,
    ) -> StoreResult<Committed> {
        let max = self.inner.max_statement_bytes;
        on_backend!(self, |q, h| q::usage::insert_batch(h, records, max, origin))
    }

    /// Usage totals, grouped as asked.
    pub async fn usage_summary(&self, query: &UsageQuery) -> StoreResult<Vec<UsageSummary>> {
        query.validate()?;
        on_backend!(self, |q, h| q::usage_read::summary(h, query))
    }

    /// A page of ledger rows in time order, after `cursor`.
    pub async fn usage_events(
        &self,
        filter: &UsageFilter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<UsageRecord>> {
        filter.validate()?;
        on_backend!(self, |q, h| q::usage_read::events(h, filter, cursor, limit))
    }

    /// How many ledger rows match.
    pub async fn count_usage(&self, filter: &UsageFilter) -> StoreResult<i64> {
        on_backend!(self, |q, h| q::usage_read::count_events(h, filter))
    }
}

fn read_only(kind: &str, name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "{kind} `{name}` comes from the config file: change it there"
    ))
}
