//! The request path's token side on a real store: the snapshot, unknown keys (one store read,
//! then the negative cache), refresh on admin writes, and quota that holds under concurrency
//! and follows the usage writer's commits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::config::PricesConfig;
use sluice::limits::{AdmitRequest, LimitError, Limits, PriceTable, TokenTable};
use sluice::store::usage::{self, Outcome, UsageRecord, UsageSource};
use sluice::store::{Store, TokenPatch, TokenSpec};
use sluice_test_support::db::TestSqlite;
use sluice_test_support::eventually;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WITHIN: Duration = Duration::from_secs(20);

fn prices() -> PriceTable {
    // gpt-4o: 1 cost unit per prompt token, 2 per output token.
    let config: PricesConfig = toml::from_str(
        "[[models]]\nmatch = [\"gpt-4o*\"]\ninput = 1.0\noutput = 2.0\nmax_output = 100\n",
    )
    .unwrap();
    PriceTable::new(&config).unwrap()
}

fn spec(name: &str) -> TokenSpec {
    TokenSpec {
        name: name.to_owned(),
        ..TokenSpec::default()
    }
}

fn request(prompt_bytes: usize, max_tokens: u64) -> AdmitRequest<'static> {
    AdmitRequest {
        model: "gpt-4o",
        client_ip: None,
        prompt_bytes,
        max_tokens: Some(max_tokens),
        media: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_keys_need_no_store_and_unknown_keys_one_read() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let known = store.create_token(spec("known")).await.unwrap();
    let table = TokenTable::load(store.clone(), &db.config()).await.unwrap();
    assert_eq!(table.len(), 1);
    let entry = table.authenticate(known.key.expose()).await.unwrap();
    assert_eq!(entry.name, "known");
    assert_eq!(table.lookups(), 0, "a known key reads nothing");

    // 50 requests at once with the same unknown key: one store read, then the negative cache.
    let results = futures_util::future::join_all(
        (0..50).map(|_| table.authenticate("sk-sluice-not-a-token")),
    )
    .await;
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(LimitError::Unknown))));
    assert_eq!(table.lookups(), 1);
    assert_eq!(
        table
            .authenticate("sk-sluice-not-a-token")
            .await
            .unwrap_err(),
        LimitError::Unknown
    );
    assert_eq!(table.lookups(), 1, "cached as unknown");

    // A token created elsewhere (another store handle: this table was not told) is found by
    // one read, before any refresh.
    let elsewhere = Store::open_with(&db.config(), None).await.unwrap();
    let late = elsewhere.create_token(spec("late")).await.unwrap();
    let found =
        futures_util::future::join_all((0..20).map(|_| table.authenticate(late.key.expose())))
            .await;
    assert!(found.iter().all(|r| r.as_ref().unwrap().name == "late"));
    assert_eq!(table.lookups(), 2);

    // A revoked token is refused and remembered.
    elsewhere.revoke_token(late.token.id).await.unwrap();
    table.reload().await.unwrap();
    assert_eq!(
        table.authenticate(late.key.expose()).await.unwrap_err(),
        LimitError::Revoked
    );
    assert_eq!(
        table.authenticate(late.key.expose()).await.unwrap_err(),
        LimitError::Unknown
    );
    assert_eq!(table.lookups(), 3);
    elsewhere.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_reach_the_snapshot_through_the_revision() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let table = TokenTable::load(store.clone(), &db.config()).await.unwrap();
    let cancel = CancellationToken::new();
    #[allow(clippy::disallowed_methods, reason = "the test is the supervisor")]
    let refresher = tokio::spawn(table.clone().run_refresher(cancel.clone()));
    let new = store.create_token(spec("fresh")).await.unwrap();
    let hash = sluice::store::KeyHash::of(new.key.expose());
    eventually(WITHIN, "the new token is in the snapshot", || {
        let found = table.get(&hash).is_some();
        async move { found }
    })
    .await;
    let patch: TokenPatch = serde_json::from_value(serde_json::json!({"enabled": false})).unwrap();
    store.update_token(new.token.id, patch).await.unwrap();
    eventually(WITHIN, "the change is in the snapshot", || {
        let denied = table
            .get(&hash)
            .is_some_and(|e| e.check_access(0, "m", None) == Err(LimitError::Disabled));
        async move { denied }
    })
    .await;
    assert_eq!(table.lookups(), 0);
    cancel.cancel();
    refresher.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_requests_on_room_for_ten_admit_at_most_ten() {
    let db = TestSqlite::new();
    let store = db.store().await;
    // Each request: 30 bytes of prompt (10 tokens) + max_tokens 5 = 10 + 10 = 20 units.
    let mut s = spec("small");
    s.quota_limit = Some(200);
    let t = store.create_token(s).await.unwrap();
    let table = TokenTable::load(store.clone(), &db.config()).await.unwrap();
    let limits = Arc::new(Limits::new(table.clone(), prices(), None));
    let entry = limits.authenticate(t.key.expose()).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (limits, entry, barrier) = (limits.clone(), entry.clone(), barrier.clone());
        #[allow(clippy::disallowed_methods, reason = "concurrent requests in a test")]
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            limits.admit(entry, &request(30, 5)).await
        }));
    }
    let mut admitted = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(a) => admitted.push(a),
            Err(LimitError::QuotaExceeded(_)) => refused += 1,
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    // The estimate is an upper bound here (max_tokens set), so the documented in-flight bound
    // adds nothing: exactly the room.
    assert_eq!((admitted.len(), refused), (10, 40));
    assert_eq!(entry.quota.reserved(), 200);
    drop(admitted);
    assert_eq!(entry.quota.reserved(), 0, "dropped admissions release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_spend_follows_the_commit_and_a_restart() {
    let db = TestSqlite::new();
    let store = db.store().await;
    let mut s = spec("metered");
    s.quota_limit = Some(1_000);
    let t = store.create_token(s).await.unwrap();
    let config = db.config();
    let table = TokenTable::load(store.clone(), &config).await.unwrap();
    let (sink, writer) = usage::pipeline(&store, &config, Some(table.clone())).unwrap();
    let limits = Limits::new(table.clone(), prices(), Some(sink.clone()));
    let cancel = CancellationToken::new();
    #[allow(clippy::disallowed_methods, reason = "the test is the supervisor")]
    let task = tokio::spawn(writer.run(cancel.clone()));

    let entry = limits.authenticate(t.key.expose()).await.unwrap();
    for _ in 0..4 {
        let admission = limits
            .admit(entry.clone(), &request(300, 50))
            .await
            .unwrap();
        let mut r = UsageRecord::new("req", "chat", "gpt-4o");
        r.prompt_tokens = 90;
        r.completion_tokens = 30;
        r.outcome = Outcome::Ok;
        r.usage_source = UsageSource::Upstream;
        admission.finish(&mut r);
        assert_eq!(r.cost_units, 90 + 60);
        assert_eq!(r.token_id, Some(t.token.id));
        sink.submit(r);
    }
    assert_eq!(
        entry.quota.spent(),
        600,
        "settled at once, before any commit"
    );
    eventually(WITHIN, "committed", || async {
        store.get_token(t.token.id).await.unwrap().used_units == 600
    })
    .await;
    assert_eq!(
        (entry.quota.spent(), entry.quota.reserved()),
        (600, 0),
        "moved, not doubled"
    );
    // 400 left: an estimate of 300 + 2 × 100 = 500 does not fit, one of 100 + 200 = 300 does.
    let refused = limits
        .admit(entry.clone(), &request(900, 100))
        .await
        .unwrap_err();
    assert!(matches!(refused, LimitError::QuotaExceeded(_)));
    assert!(limits
        .admit(entry.clone(), &request(300, 100))
        .await
        .is_ok());
    cancel.cancel();
    task.await.unwrap();

    // A new process sees the committed total from the store.
    let table2 = TokenTable::load(store.clone(), &config).await.unwrap();
    let again = table2.authenticate(t.key.expose()).await.unwrap();
    assert_eq!(again.quota.spent(), 600);
}
