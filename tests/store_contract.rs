//! The store's contract, run against both backends: real SQLite (a file in a tempdir) and
//! real PostgreSQL (a database of its own per test; skipped with a printed reason when no
//! server can be had, failed under `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::config::{Secret, TokenConfig};
use sluice::store::usage::query::{Cursor, GroupBy, UsageFilter, UsageQuery, UsageSummary, DAY_MS};
use sluice::store::usage::{csv, Outcome, UsageRecord, UsageSource};
use sluice::store::{
    ChannelPatch, ChannelSpec, KeyHash, SecretBox, Source, Store, StoreError, TokenPatch, TokenSpec,
};
use sluice_test_support::db::{test_secret, TestPg, TestSqlite};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Raw access to the database under a store, to check what is really stored.
enum Raw<'a> {
    Sqlite(&'a TestSqlite),
    Pg(&'a TestPg),
}

impl Raw<'_> {
    /// Whether `needle` appears anywhere in the stored data (files, or channel/token rows).
    async fn contains(&self, needle: &str) -> bool {
        match self {
            Raw::Sqlite(db) => std::fs::read_dir(db.dir.path()).unwrap().any(|e| {
                let path = e.unwrap().path();
                path.is_file()
                    && std::fs::read(&path)
                        .unwrap()
                        .windows(needle.len())
                        .any(|w| w == needle.as_bytes())
            }),
            Raw::Pg(db) => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                let n: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM channels c WHERE position($1 in c::text) > 0 \
                       OR position(convert_to($1, 'UTF8') in c.keys_enc) > 0) \
                     + (SELECT COUNT(*) FROM tokens t WHERE position($1 in t::text) > 0)",
                )
                .bind(needle)
                .fetch_one(&mut c)
                .await
                .unwrap();
                n > 0
            }
        }
    }

    async fn open(&self, secrets: Option<SecretBox>) -> Store {
        let config = match self {
            Raw::Sqlite(db) => db.config(),
            Raw::Pg(db) => db.config(),
        };
        Store::open_with(&config, secrets).await.unwrap()
    }

    /// Runs SQL on the database directly (the SQLite text or the PostgreSQL text).
    async fn exec(&self, sqlite: &'static str, postgres: &'static str) {
        match self {
            Raw::Sqlite(db) => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&format!(
                    "sqlite://{}",
                    db.db_path().display()
                ))
                .await
                .unwrap();
                sqlx::raw_sql(sqlite).execute(&mut c).await.unwrap();
            }
            Raw::Pg(db) => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(postgres).execute(&mut c).await.unwrap();
            }
        }
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = sluice_test_support::db::TestSqlite::new();
                    let store = db.store().await;
                    super::$name(store, super::Raw::Sqlite(&db)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = sluice_test_support::db::TestPg::new() else { return };
                    let store = db.store().await;
                    super::$name(store.clone(), super::Raw::Pg(&db)).await;
                    store.close().await;
                }
            )*
        }
    };
}

contract!(
    tokens_are_created_once_hashed_changed_and_revoked,
    file_tokens_sync_and_are_read_only,
    every_admin_write_moves_the_revision,
    channel_keys_are_sealed_and_never_read_back,
    replaying_a_usage_batch_changes_nothing,
    rollups_and_totals_equal_the_ledger,
    usage_pages_filters_and_csv,
    media_units_are_kept_summed_and_exported,
    migrations_are_checked_and_newer_schemas_refused,
);

fn spec(name: &str) -> TokenSpec {
    TokenSpec {
        name: name.to_owned(),
        ..TokenSpec::default()
    }
}

async fn tokens_are_created_once_hashed_changed_and_revoked(store: Store, raw: Raw<'_>) {
    let mut s = spec("team-a");
    s.quota_limit = Some(5_000_000);
    s.models = Some(vec!["gpt-4o*".into()]);
    s.allow_ips = Some(vec!["10.0.0.0/8".into()]);
    s.rpm = Some(60);
    s.tpm = Some(100_000);
    let new = store.create_token(s).await.unwrap();
    let key = new.key.expose().to_owned();
    assert!(key.starts_with("sk-sluice-"));
    assert!(!raw.contains(&key).await, "the plain key is stored");
    assert!(
        raw.contains(&KeyHash::of(&key).to_hex()).await,
        "the hash is stored"
    );
    let t = new.token;
    assert_eq!(t.source, Source::Store);
    assert_eq!(t.quota_limit, Some(5_000_000));
    assert_eq!(t.allow_ips.as_deref(), Some(&["10.0.0.0/8".to_owned()][..]));
    assert!(key.starts_with(t.key_prefix.trim_end_matches('…')));

    let by_hash = store
        .token_by_hash(&KeyHash::of(&key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.id, t.id);
    assert_eq!(store.find_token("team-a").await.unwrap().id, t.id);
    assert_eq!(
        store.find_token(&t.id.to_string()).await.unwrap().name,
        "team-a"
    );
    assert!(matches!(
        store.find_token("nobody").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        matches!(
            store.create_token(spec("team-a")).await,
            Err(StoreError::Conflict(_))
        ),
        "live names are unique"
    );

    let patch: TokenPatch = serde_json::from_value(
        serde_json::json!({"quota_limit": null, "rpm": 120, "enabled": false}),
    )
    .unwrap();
    let t2 = store.update_token(t.id, patch).await.unwrap();
    assert_eq!(
        (t2.quota_limit, t2.rpm, t2.enabled),
        (None, Some(120), false)
    );
    assert_eq!(t2.tpm, Some(100_000), "fields left out stay");
    assert!(t2.revision > t.revision);
    let bad: TokenPatch = serde_json::from_value(serde_json::json!({"allow_ips": ["x"]})).unwrap();
    assert!(matches!(
        store.update_token(t.id, bad).await,
        Err(StoreError::Invalid(_))
    ));

    let revoked = store.revoke_token(t.id).await.unwrap();
    assert!(revoked.is_revoked() && !revoked.enabled);
    assert!(store.list_tokens(false).await.unwrap().is_empty());
    assert_eq!(store.list_tokens(true).await.unwrap().len(), 1);
    assert!(matches!(
        store.update_token(t.id, TokenPatch::default()).await,
        Err(StoreError::Conflict(_))
    ));
    // The name is free again once revoked.
    store.create_token(spec("team-a")).await.unwrap();
    assert!(matches!(
        store.get_token(9999).await,
        Err(StoreError::NotFound(_))
    ));
}

fn file_token(name: &str, key: &str, models: Option<Vec<&str>>) -> TokenConfig {
    TokenConfig {
        name: Some(name.to_owned()),
        key: Secret::new(key),
        models: models.map(|m| m.into_iter().map(String::from).collect()),
    }
}

async fn file_tokens_sync_and_are_read_only(store: Store, _raw: Raw<'_>) {
    let file = vec![
        file_token("backend", "sk-file-backend-0001", None),
        file_token("batch", "sk-file-batch-0001", Some(vec!["m1"])),
    ];
    assert_eq!(store.sync_file_tokens(&file).await.unwrap(), 2);
    assert_eq!(
        store.sync_file_tokens(&file).await.unwrap(),
        0,
        "idempotent"
    );
    let batch = store
        .token_by_hash(&KeyHash::of("sk-file-batch-0001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (batch.source, batch.models.clone()),
        (Source::File, Some(vec!["m1".to_owned()]))
    );
    assert!(matches!(
        store.update_token(batch.id, TokenPatch::default()).await,
        Err(StoreError::Conflict(m)) if m.contains("config file")
    ));
    assert!(matches!(
        store.revoke_token(batch.id).await,
        Err(StoreError::Conflict(_))
    ));
    // A store token may share a file token's name; each source has its own names.
    store.create_token(spec("backend")).await.unwrap();
    assert_eq!(
        store.find_token("backend").await.unwrap().source,
        Source::Store
    );

    let changed = vec![
        file_token("backend", "sk-file-backend-0002", None),
        file_token("batch", "sk-file-batch-0001", Some(vec!["m1", "m2"])),
    ];
    assert_eq!(store.sync_file_tokens(&changed).await.unwrap(), 2);
    let old = store
        .token_by_hash(&KeyHash::of("sk-file-backend-0001"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        old.is_revoked(),
        "a new key in the file retires the old one"
    );
    let batch2 = store.get_token(batch.id).await.unwrap();
    assert_eq!(batch2.models.unwrap().len(), 2, "updated in place: same id");

    assert_eq!(store.sync_file_tokens(&changed[..1]).await.unwrap(), 1);
    assert!(
        store.get_token(batch.id).await.unwrap().is_revoked(),
        "gone from the file"
    );
}

async fn every_admin_write_moves_the_revision(store: Store, _raw: Raw<'_>) {
    let mut rx = store.subscribe_revision();
    let mut last = store.revision().await.unwrap();
    assert_eq!(*rx.borrow_and_update(), last);
    let t = store.create_token(spec("r")).await.unwrap().token;
    let mut steps = vec![t.revision];
    steps.push(
        store
            .update_token(t.id, TokenPatch::default())
            .await
            .unwrap()
            .revision,
    );
    let c = store.create_channel(channel("ch")).await.unwrap();
    steps.push(c.revision);
    steps.push(
        store
            .set_channel_enabled("ch", false)
            .await
            .unwrap()
            .revision,
    );
    steps.push(store.revoke_token(t.id).await.unwrap().revision);
    for r in steps {
        assert!(r > last, "revision {r} after {last}");
        last = r;
    }
    store.delete_channel("ch").await.unwrap();
    let after_delete = store.revision().await.unwrap();
    assert!(after_delete > last);
    assert!(rx.has_changed().unwrap());
    assert_eq!(
        *rx.borrow_and_update(),
        after_delete,
        "local writes are published at once"
    );
    // Reads never move it.
    store.list_tokens(true).await.unwrap();
    store.list_channels().await.unwrap();
    assert_eq!(store.revision().await.unwrap(), after_delete);
}

fn channel(name: &str) -> ChannelSpec {
    serde_json::from_value(serde_json::json!({
        "name": name, "provider": "anthropic", "base_url": "https://api.anthropic.com",
        "keys": ["sk-ant-plaintext-key-one", "sk-ant-plaintext-key-two"],
        "models": ["claude-*"], "model_mapping": {"c": "claude-3"}, "priority": 5, "weight": 2,
        "max_concurrency": 8, "timeouts": {"total": "2m"}
    }))
    .unwrap()
}

async fn channel_keys_are_sealed_and_never_read_back(store: Store, raw: Raw<'_>) {
    let c = store.create_channel(channel("claude")).await.unwrap();
    assert_eq!(c.key_hints, ["sk-***ne", "sk-***wo"]);
    let listed = serde_json::to_string(&store.list_channels().await.unwrap()).unwrap();
    assert!(
        !listed.contains("plaintext"),
        "a read returned a key: {listed}"
    );
    assert!(
        !raw.contains("plaintext-key").await,
        "a key is stored in plaintext"
    );

    let configs = store.channel_configs().await.unwrap();
    let config = configs[0].1.as_ref().unwrap();
    let keys: Vec<&str> = config.keys.iter().map(|k| k.expose()).collect();
    assert_eq!(
        keys,
        ["sk-ant-plaintext-key-one", "sk-ant-plaintext-key-two"]
    );
    assert_eq!(
        config.timeouts.total,
        Some(std::time::Duration::from_secs(120))
    );
    assert_eq!(
        (config.priority, config.weight, config.max_concurrency),
        (5, 2, Some(8))
    );

    // Without the secret key: no new keys can be stored, other fields can change.
    let keyless = raw.open(None).await;
    assert!(matches!(
        keyless.create_channel(channel("x")).await,
        Err(StoreError::NoSecretKey)
    ));
    let patch: ChannelPatch = serde_json::from_value(serde_json::json!({"weight": 7})).unwrap();
    assert_eq!(
        keyless
            .update_channel("claude", patch)
            .await
            .unwrap()
            .weight,
        7
    );
    let keys_patch: ChannelPatch =
        serde_json::from_value(serde_json::json!({"keys": ["sk-ant-new-plaintext-3"]})).unwrap();
    assert!(matches!(
        keyless.update_channel("claude", keys_patch.clone()).await,
        Err(StoreError::NoSecretKey)
    ));
    keyless.close().await;
    let c2 = store.update_channel("claude", keys_patch).await.unwrap();
    assert_eq!(c2.key_hints, ["sk-***-3"]);
    assert_eq!(c2.weight, 7);
    assert!(!raw.contains("new-plaintext").await);
    let config = store.channel_configs().await.unwrap().remove(0).1.unwrap();
    assert_eq!(config.keys[0].expose(), "sk-ant-new-plaintext-3");

    // The wrong secret key cannot open them, and says so.
    let wrong = raw
        .open(Some(SecretBox::from_hex(&"ee".repeat(32)).unwrap()))
        .await;
    let err = wrong
        .channel_configs()
        .await
        .unwrap()
        .remove(0)
        .1
        .unwrap_err();
    assert!(err.to_string().contains("SLUICE_SECRET_KEY"), "{err}");
    wrong.close().await;

    assert!(matches!(
        store.create_channel(channel("claude")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut bad = channel("bad");
    bad.base_url = "file:///etc/passwd".into();
    assert!(matches!(
        store.create_channel(bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        !store
            .set_channel_enabled("claude", false)
            .await
            .unwrap()
            .enabled
    );
    store.delete_channel("claude").await.unwrap();
    assert!(matches!(
        store.delete_channel("claude").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.list_channels().await.unwrap().is_empty());
    let _ = test_secret();
}

/// A record on day `day` (days since the epoch) at `offset_ms` into it.
fn record(
    token: Option<i64>,
    model: &str,
    channel: &str,
    cost: i64,
    day: i64,
    offset_ms: i64,
) -> UsageRecord {
    let mut r = UsageRecord::new("req", "chat", model);
    r.token_id = token;
    r.channel = Some(channel.to_owned());
    r.cost_units = cost;
    r.prompt_tokens = 10 + cost as u64;
    r.completion_tokens = 3;
    r.cached_tokens = 1;
    r.outcome = if cost % 3 == 0 {
        Outcome::UpstreamError
    } else {
        Outcome::Ok
    };
    r.usage_source = if cost % 2 == 0 {
        UsageSource::Estimated
    } else {
        UsageSource::Upstream
    };
    r.created_at = 20_000 * DAY_MS + day * DAY_MS + offset_ms;
    r.client_ip = Some("192.0.2.7".parse().unwrap());
    r
}

fn records(tokens: &[i64], n: usize) -> Vec<UsageRecord> {
    (0..n)
        .map(|i| {
            let token = tokens[i % tokens.len()];
            let model = ["gpt-4o", "claude-3", "grok-3"][i % 3];
            record(
                Some(token),
                model,
                ["a", "b"][i % 2],
                (i % 17) as i64 + 1,
                (i % 4) as i64,
                (i * 7919 % 86_000_000) as i64,
            )
        })
        .collect()
}

async fn replaying_a_usage_batch_changes_nothing(store: Store, _raw: Raw<'_>) {
    let t = store.create_token(spec("u")).await.unwrap().token;
    let batch = records(&[t.id], 300);
    let cost: i64 = batch.iter().map(|r| r.cost_units).sum();
    let first = store.write_usage(&batch, 0).await.unwrap();
    assert_eq!((first.offered, first.inserted), (300, 300));
    assert_eq!(first.tokens.len(), 1);
    assert_eq!(first.tokens[0].used_units, cost);
    let totals = store.usage_summary(&UsageQuery::default()).await.unwrap();

    let again = store.write_usage(&batch, 0).await.unwrap();
    assert_eq!(again.inserted, 0);
    assert!(again.tokens.is_empty());
    assert_eq!(
        store.usage_summary(&UsageQuery::default()).await.unwrap(),
        totals
    );
    assert_eq!(store.get_token(t.id).await.unwrap().used_units, cost);

    // Half old, half new, and a record offered twice within one batch.
    let mut mixed: Vec<UsageRecord> = batch[150..].to_vec();
    let fresh = records(&[t.id], 50);
    mixed.extend(fresh.iter().cloned());
    mixed.push(fresh[0].clone());
    let c = store.write_usage(&mixed, 0).await.unwrap();
    assert_eq!(c.inserted, 50);
    let fresh_cost: i64 = fresh.iter().map(|r| r.cost_units).sum();
    let after = store.get_token(t.id).await.unwrap();
    assert_eq!((after.used_units, after.requests), (cost + fresh_cost, 350));
    assert_eq!(
        store.count_usage(&UsageFilter::default()).await.unwrap(),
        350
    );
}

fn sum(rows: &[&UsageRecord]) -> (i64, i64, i64, i64) {
    rows.iter().fold((0, 0, 0, 0), |(n, cost, p, e), r| {
        (
            n + 1,
            cost + r.cost_units,
            p + r.prompt_tokens as i64,
            e + i64::from(r.outcome != Outcome::Ok),
        )
    })
}

async fn rollups_and_totals_equal_the_ledger(store: Store, _raw: Raw<'_>) {
    let a = store.create_token(spec("a")).await.unwrap().token.id;
    let b = store.create_token(spec("b")).await.unwrap().token.id;
    let mut all = records(&[a, b], 997);
    all.push(record(None, "gpt-4o", "a", 5, 1, 10));
    for chunk in all.chunks(128) {
        store.write_usage(chunk, 0).await.unwrap();
    }
    for group in [
        vec![],
        vec![GroupBy::Day],
        vec![GroupBy::Model, GroupBy::Token],
        vec![GroupBy::Day, GroupBy::Channel],
    ] {
        let daily = UsageQuery {
            group_by: group.clone(),
            ..UsageQuery::default()
        };
        // A range that is not whole days is answered from the ledger.
        let ledger = UsageQuery {
            group_by: group.clone(),
            filter: UsageFilter {
                from: Some(1),
                ..UsageFilter::default()
            },
        };
        let from_rollups = store.usage_summary(&daily).await.unwrap();
        let from_ledger = store.usage_summary(&ledger).await.unwrap();
        assert_eq!(from_rollups, from_ledger, "grouped by {group:?}");
    }
    let by_token = store
        .usage_summary(&UsageQuery {
            group_by: vec![GroupBy::Token],
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    for row in &by_token {
        let mine: Vec<&UsageRecord> = all
            .iter()
            .filter(|r| r.token_id.unwrap_or(0) == row.token_id.unwrap())
            .collect();
        let (n, cost, prompt, errors) = sum(&mine);
        assert_eq!(
            (row.requests, row.cost_units, row.prompt_tokens, row.errors),
            (n, cost, prompt, errors)
        );
        if let Ok(t) = store.get_token(row.token_id.unwrap()).await {
            assert_eq!(
                (t.used_units, t.requests),
                (cost, n),
                "token_totals = the ledger's sum"
            );
        }
    }
    assert_eq!(by_token.len(), 3, "two tokens and no token");
    let days = store
        .usage_summary(&UsageQuery {
            group_by: vec![GroupBy::Day],
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let names: Vec<&str> = days.iter().map(|d| d.day.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        ["2024-10-04", "2024-10-05", "2024-10-06", "2024-10-07"]
    );
    let totals: HashMap<i64, i64> = store.token_totals().await.unwrap().into_iter().collect();
    assert_eq!(totals.len(), 2);
}

async fn usage_pages_filters_and_csv(store: Store, _raw: Raw<'_>) {
    let a = store.create_token(spec("a")).await.unwrap().token.id;
    let all = records(&[a, a + 1000], 240);
    store.write_usage(&all, 0).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .usage_events(&UsageFilter::default(), cursor, 50)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(Cursor {
            created_at: last.created_at,
            usage_id: last.usage_id,
        });
        seen.extend(page);
    }
    assert_eq!(seen.len(), all.len());
    let ids: HashSet<_> = seen.iter().map(|r| r.usage_id).collect();
    assert_eq!(ids.len(), all.len(), "every row once");
    assert!(seen
        .windows(2)
        .all(|w| (w[0].created_at, w[0].usage_id) < (w[1].created_at, w[1].usage_id)));
    let by_id: BTreeMap<_, _> = all.iter().map(|r| (r.usage_id, r)).collect();
    for r in &seen {
        assert_eq!(
            &r,
            by_id.get(&r.usage_id).unwrap(),
            "a row reads back as written"
        );
    }

    let f = UsageFilter {
        token_id: Some(a),
        model: Some("gpt-4o".into()),
        channel: Some("a".into()),
        from: Some(20_001 * DAY_MS),
        to: Some(20_003 * DAY_MS + 5),
    };
    let expect: Vec<&UsageRecord> = all
        .iter()
        .filter(|r| {
            r.token_id == Some(a)
                && r.model == "gpt-4o"
                && r.channel.as_deref() == Some("a")
                && (20_001 * DAY_MS..20_003 * DAY_MS + 5).contains(&r.created_at)
        })
        .collect();
    assert!(!expect.is_empty());
    let got = store.usage_events(&f, None, 1000).await.unwrap();
    assert_eq!(got.len(), expect.len());
    assert_eq!(store.count_usage(&f).await.unwrap(), expect.len() as i64);
    let summary = store
        .usage_summary(&UsageQuery {
            filter: f.clone(),
            group_by: vec![],
        })
        .await
        .unwrap();
    assert_eq!(summary[0].requests, expect.len() as i64);
    assert_eq!(
        summary[0].cost_units,
        expect.iter().map(|r| r.cost_units).sum::<i64>()
    );
    let empty = UsageFilter {
        model: Some("none".into()),
        ..UsageFilter::default()
    };
    assert_eq!(
        store
            .usage_summary(&UsageQuery {
                filter: empty,
                group_by: vec![]
            })
            .await
            .unwrap(),
        [UsageSummary::default()]
    );

    let names = HashMap::from([(a, "a".to_owned())]);
    let mut out = csv::events_header();
    out.extend(csv::events(&got, &names));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), got.len() + 1);
    assert!(text.lines().nth(1).unwrap().contains(",a,a,gpt-4o,"));
    let groups = store
        .usage_summary(&UsageQuery {
            group_by: vec![GroupBy::Day, GroupBy::Token],
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(csv::summary(&groups, &names))
            .unwrap()
            .lines()
            .count(),
        groups.len() + 1
    );
    assert!(matches!(
        store
            .usage_summary(&UsageQuery {
                filter: UsageFilter {
                    from: Some(5),
                    to: Some(1),
                    ..UsageFilter::default()
                },
                group_by: vec![]
            })
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// Media records: an image generation (count, size, quality), a speech request (characters)
/// and a transcription (audio milliseconds), on two days.
fn media_records(token: i64) -> Vec<UsageRecord> {
    let mut out = Vec::new();
    for (i, day) in [0i64, 0, 1, 1, 1].into_iter().enumerate() {
        let mut image = record(Some(token), "dall-e-3", "a", 120_000, day, i as i64 * 10);
        image.endpoint = "images".into();
        image.images = 2;
        image.image_size = Some("1024x1792".into());
        image.image_quality = Some("hd".into());
        let mut speech = record(Some(token), "tts-1", "a", 15, day, i as i64 * 10 + 1);
        speech.endpoint = "speech".into();
        speech.characters = 1000 + i as u64;
        let mut heard = record(Some(token), "whisper-1", "b", 900, day, i as i64 * 10 + 2);
        heard.endpoint = "transcriptions".into();
        heard.audio_ms = 9_000;
        out.extend([image, speech, heard]);
    }
    out
}

async fn media_units_are_kept_summed_and_exported(store: Store, _raw: Raw<'_>) {
    let t = store.create_token(spec("m")).await.unwrap().token.id;
    let all = media_records(t);
    store.write_usage(&all, 0).await.unwrap();
    let rows = store
        .usage_events(&UsageFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(rows.len(), all.len());
    let by_id: BTreeMap<_, _> = all.iter().map(|r| (r.usage_id, r)).collect();
    for r in &rows {
        assert_eq!(&r, by_id.get(&r.usage_id).unwrap(), "media units read back");
    }
    let image = rows.iter().find(|r| r.model == "dall-e-3").unwrap();
    assert_eq!(
        (
            image.images,
            image.image_size.as_deref(),
            image.image_quality.as_deref()
        ),
        (2, Some("1024x1792"), Some("hd"))
    );
    // The same sums from the rollups (whole days) and from the ledger (not whole days).
    for group in [vec![], vec![GroupBy::Day, GroupBy::Model]] {
        let daily = UsageQuery {
            group_by: group.clone(),
            ..UsageQuery::default()
        };
        let ledger = UsageQuery {
            group_by: group.clone(),
            filter: UsageFilter {
                from: Some(1),
                ..UsageFilter::default()
            },
        };
        let from_rollups = store.usage_summary(&daily).await.unwrap();
        assert_eq!(from_rollups, store.usage_summary(&ledger).await.unwrap());
        let characters: i64 = from_rollups.iter().map(|s| s.characters).sum();
        let images: i64 = from_rollups.iter().map(|s| s.images).sum();
        let audio: i64 = from_rollups.iter().map(|s| s.audio_ms).sum();
        assert_eq!((characters, images, audio), (5010, 10, 45_000), "{group:?}");
    }
    let names = HashMap::from([(t, "m".to_owned())]);
    let mut out = csv::events_header();
    out.extend(csv::events(&rows, &names));
    let text = String::from_utf8(out).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    for column in [
        "images",
        "image_size",
        "image_quality",
        "characters",
        "audio_ms",
    ] {
        assert!(header.contains(&column), "{column} in {header:?}");
    }
    let at = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let line = text.lines().find(|l| l.contains("dall-e-3")).unwrap();
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(
        (
            cells[at("images")],
            cells[at("image_size")],
            cells[at("image_quality")]
        ),
        ("2", "1024x1792", "hd")
    );
    let line = text.lines().find(|l| l.contains("tts-1")).unwrap();
    assert_eq!(line.split(',').nth(at("characters")), Some("1000"));
    let summary = store
        .usage_summary(&UsageQuery {
            group_by: vec![GroupBy::Model],
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let summary_csv = String::from_utf8(csv::summary(&summary, &names)).unwrap();
    let header: Vec<&str> = summary_csv.lines().next().unwrap().split(',').collect();
    let chars = header.iter().position(|c| *c == "characters").unwrap();
    let tts = summary_csv.lines().find(|l| l.contains("tts-1")).unwrap();
    assert_eq!(tts.split(',').nth(chars), Some("5010"));
}

async fn migrations_are_checked_and_newer_schemas_refused(store: Store, raw: Raw<'_>) {
    let config = match &raw {
        Raw::Sqlite(db) => db.config(),
        Raw::Pg(db) => db.config(),
    };
    let report = Store::migrate_check(&config).await.unwrap();
    assert!(report.up_to_date(), "{report:?}");
    assert_eq!(report.applied.last(), Some(&sluice::store::SCHEMA_VERSION));
    assert!(
        report.pending.is_empty() && report.applied.len() >= 2,
        "{report:?}"
    );
    // Several instances starting at once migrate once (PostgreSQL: under the advisory lock).
    let (x, y) = tokio::join!(raw.open(None), raw.open(None));
    x.close().await;
    y.close().await;
    store.close().await;
    raw.exec(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29990101000000, 'from the future', TRUE, x'00', 1)",
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29990101000000, 'from the future', TRUE, decode('00', 'hex'), 1)",
    )
    .await;
    let report = Store::migrate_check(&config).await.unwrap();
    assert_eq!(report.unknown, [29990101000000]);
    match Store::open_with(&config, None).await {
        Err(StoreError::SchemaNewer(v)) => assert_eq!(v, 29990101000000),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}
