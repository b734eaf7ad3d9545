//! The store as the running relay uses it: opened at start, its jobs on the supervisor.
//!
//! Owns: the start-up order (open and migrate, sync the file's `[[tokens]]`, load the token
//! snapshot, build the usage pipeline and the limits, merge stored channels with the file's);
//! the store jobs (usage writer, revision poll, token refresher, routes refresher, and the
//! cluster's: heartbeat and, with Redis, its link, prefetch and quota push); and the
//! merged channel list (file channels win a name clash, logged at start; they never change at
//! run time).
//! Must never: be awaited on the request path (requests read `limits` and hand usage to
//! `sink`), or start a job outside the supervisor.

use super::StartError;
use crate::cluster::Cluster;
use crate::config::{ChannelConfig, Config};
use crate::limits::{Limits, PriceTable, TokenTable};
use crate::routing::Routes;
use crate::server::store_api::StoreApi;
use crate::store::usage::{self, CommitListener};
use crate::store::{merge_channels, Store, StoreError, UsageSink};
use crate::supervisor::Supervisor;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The store and what the request path reads of it.
pub struct Metered {
    pub store: Store,
    /// Authentication, limits and quota, from memory.
    pub limits: Limits,
    /// Where every request's usage record goes (never waits).
    pub sink: UsageSink,
    /// The store's admin API state (tokens, stored channels, usage).
    pub api: Arc<StoreApi>,
    /// This instance among the others on the store: heartbeat, shared limits and quotas.
    pub cluster: Arc<Cluster>,
    /// The stored channels' revisions loaded at start (for the routes refresher).
    loaded: Loaded,
}

impl Metered {
    /// Opens the store of `config.store` and everything that reads it; `None` without one.
    /// The channel list is the file's merged with the store's (`config.channels` is changed to
    /// the merged list, so `Routes::new` sees it).
    pub(super) async fn open(
        config: &mut Config,
    ) -> Result<Option<(Self, usage::UsageWriter)>, StartError> {
        let Some(sc) = config.store.clone() else {
            return Ok(None);
        };
        let store = Store::open(&sc).await?;
        let changed = store.sync_file_tokens(&config.tokens).await?;
        if changed > 0 {
            tracing::info!(target: "sluice::store", changed, "config-file tokens synced to the store");
        }
        let table = TokenTable::load(store.clone(), &sc).await?;
        let listener: Arc<dyn CommitListener> = table.clone();
        let (sink, writer) = usage::pipeline(&store, &sc, Some(listener))?;
        let prices = PriceTable::new(&config.prices)?;
        let cluster = Arc::new(Cluster::new(&sc).map_err(|e| StartError::Cluster(e.to_string()))?);
        let limits = Limits::new(table.clone(), prices, Some(sink.clone()))
            .with_shared(cluster.rates().cloned(), cluster.quota().cloned());
        let file_channels: HashSet<String> =
            config.channels.iter().map(|c| c.name.clone()).collect();
        let (channels, loaded) = merged(&store, &config.channels, true).await?;
        config.channels = channels;
        let api = Arc::new(StoreApi {
            store: store.clone(),
            tokens: Some(table),
            file_channels,
        });
        let metered = Self {
            store,
            limits,
            sink,
            api,
            cluster,
            loaded,
        };
        Ok(Some((metered, writer)))
    }

    /// Starts the store's jobs: the usage writer (flushes at shutdown), the revision poll, the
    /// token refresher and the routes refresher (stored channels changed at run time applied
    /// without a restart).
    pub(super) fn start_jobs(
        &self,
        config: &Config,
        writer: usage::UsageWriter,
        routes: Arc<Routes>,
        supervisor: &Supervisor,
    ) -> Result<(), StartError> {
        let Some(sc) = &config.store else {
            return Ok(());
        };
        supervisor.spawn("usage_writer", move |cancel| writer.run(cancel))?;
        let (store, every, listen) = (self.store.clone(), sc.revision_poll, sc.cluster.listen);
        supervisor.spawn_critical("store_revision_poll", move |cancel| {
            store.clone().run_revision_poll(every, listen, cancel)
        })?;
        let table = self.limits.table().clone();
        self.cluster.start_jobs(&self.store, &table, supervisor)?;
        supervisor.spawn_critical("token_refresher", move |cancel| {
            table.clone().run_refresher(cancel)
        })?;
        let (store, file) = (self.store.clone(), self.api.file_channels.clone());
        let loaded = self.loaded.clone();
        let file_configs: Arc<[ChannelConfig]> = config
            .channels
            .iter()
            .filter(|c| file.contains(&c.name))
            .cloned()
            .collect();
        supervisor.spawn_critical("routes_refresher", move |cancel| {
            refresh_routes(
                store.clone(),
                file_configs.clone(),
                file.clone(),
                routes.clone(),
                loaded.clone(),
                cancel,
            )
        })?;
        Ok(())
    }
}

/// The stored channels' names and revisions as last loaded.
type Loaded = HashMap<String, i64>;

/// The file's channels and the stored ones the file does not shadow (each shadowed name logged
/// when `log` is set), and the stored channels' revisions; a stored channel whose keys cannot be
/// read is left out and logged.
async fn merged(
    store: &Store,
    file: &[ChannelConfig],
    log: bool,
) -> Result<(Vec<ChannelConfig>, Loaded), StoreError> {
    let listed = store.list_channels().await?;
    let loaded: Loaded = listed
        .iter()
        .map(|c| (c.name.clone(), c.revision))
        .collect();
    let mut stored = Vec::new();
    for c in listed {
        match c.to_config(store.secrets()) {
            Ok(config) => stored.push(config),
            Err(e) => {
                tracing::warn!(target: "sluice::store", channel = %c.name, error = %e, "stored channel not loaded")
            }
        }
    }
    let (all, shadowed) = merge_channels(file, stored);
    if log {
        for name in shadowed {
            tracing::warn!(
                target: "sluice::store",
                channel = %name,
                "a stored channel has the name of a config-file channel: the file's wins"
            );
        }
    }
    Ok((all, loaded))
}

/// Follows the store's revision until `cancel`: when a stored channel changed (its revision, or
/// the set of names), rebuilds the channel list. Unchanged channels, the file's and the stored
/// ones, keep their state (breaker, keys, counts); changed ones start afresh.
async fn refresh_routes(
    store: Store,
    file: Arc<[ChannelConfig]>,
    file_names: HashSet<String>,
    routes: Arc<Routes>,
    mut loaded: Loaded,
    cancel: CancellationToken,
) {
    let mut revision = store.subscribe_revision();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = revision.changed() => {
                if changed.is_err() {
                    return;
                }
                match merged(&store, &file, false).await {
                    Ok((_, now)) if now == loaded => {}
                    Ok((all, now)) => {
                        let mut keep = file_names.clone();
                        keep.extend(
                            now.iter()
                                .filter(|(name, rev)| loaded.get(*name) == Some(*rev))
                                .map(|(name, _)| name.clone()),
                        );
                        let n = routes.replace(&all, &keep);
                        tracing::info!(target: "sluice::store", channels = n, "channels reloaded");
                        loaded = now;
                    }
                    Err(e) => tracing::warn!(target: "sluice::store", error = %e, "channel reload failed; serving the last list"),
                }
            }
        }
    }
}
