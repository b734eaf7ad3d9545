//! The video task store's contract, against real SQLite (a file in a tempdir) and real
//! PostgreSQL (a database of its own per test; skipped with a printed reason when no server can
//! be had, failed under `CI=true`): insert and reads, the owner's pages in both orders, owner
//! isolation, one compare-and-set winner among concurrent writers, two instances taking due
//! tasks never sharing one, terminal states never overwritten, the deadline scan and the counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use sluice::config::{ProviderKind, StoreConfig};
use sluice::store::tasks::{Order, Owner};
use sluice::store::Store;
use sluice::tasks::{Front, Task, TaskFailure, TaskSpec, TaskState};
use sluice_test_support::db::test_secret;
use std::collections::HashSet;
use std::time::Duration;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = sluice_test_support::db::TestSqlite::new();
                    let mut config = db.config();
                    // Two instances share one file here: give a writer waiting for the other
                    // room to wait.
                    config.busy_timeout = std::time::Duration::from_secs(2);
                    super::$name(config).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = sluice_test_support::db::TestPg::new() else { return };
                    super::$name(db.config()).await;
                }
            )*
        }
    };
}

contract!(
    tasks_are_stored_read_back_and_listed_per_owner,
    one_compare_and_set_wins_among_concurrent_writers,
    two_instances_taking_due_tasks_never_share_one,
    a_terminal_task_is_never_overwritten,
    overdue_tasks_and_counts,
);

async fn open(config: &StoreConfig) -> Store {
    Store::open_with(config, Some(test_secret())).await.unwrap()
}

const T0: i64 = 1_800_000_000_000;

fn task(n: u32, owner: &str, token_id: Option<i64>) -> Task {
    Task {
        id: format!("video_{n:04}"),
        token_id,
        owner: owner.to_owned(),
        front: Front::Openai,
        channel: "sim".to_owned(),
        key_index: 0,
        provider: ProviderKind::Kling,
        model: "kling-v1".to_owned(),
        upstream_model: "kling-v1-up".to_owned(),
        upstream_id: format!("up-{n}"),
        upstream_ref: Some("videos/text2video".to_owned()),
        spec: TaskSpec {
            prompt: format!("prompt {n}"),
            seconds: Some(4),
            size: Some("1280x720".to_owned()),
            remixed_from: None,
            action: None,
        },
        state: TaskState::Queued,
        progress: 0,
        failure: None,
        result_url: None,
        video_ms: None,
        charged_units: 400,
        request_id: format!("req-{n}"),
        created_at: T0 + i64::from(n / 2) * 1000,
        updated_at: T0,
        completed_at: None,
        expires_at: None,
        deadline_at: T0 + 7_200_000,
        next_poll_at: T0,
        polls: 0,
        poll_errors: 0,
        lease_owner: None,
        lease_until: 0,
        version: 0,
        deleted: false,
    }
}

fn ids(tasks: &[Task]) -> Vec<String> {
    tasks.iter().map(|t| t.id.clone()).collect()
}

/// Every page of `owner`'s list, `size` at a time.
async fn pages(store: &Store, owner: Owner<'_>, size: u32, order: Order) -> Vec<String> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..50 {
        let page = store
            .list_tasks(owner, after.as_deref(), size, order)
            .await
            .unwrap();
        assert!(page.tasks.len() <= size as usize);
        all.extend(ids(&page.tasks));
        if !page.has_more {
            return all;
        }
        after = page.tasks.last().map(|t| t.id.clone());
    }
    panic!("more than 50 pages");
}

async fn tasks_are_stored_read_back_and_listed_per_owner(config: StoreConfig) {
    let store = open(&config).await;
    // Ten of alice's (two per second: ties on created_at are ordered by id), three of bob's,
    // two of a store token also named alice, one of alice's deleted.
    let mut alice = Vec::new();
    for n in 0..10 {
        let mut t = task(n, "alice", None);
        if n == 3 {
            t.failure = Some(TaskFailure::new("bad", "went wrong"));
            t.result_url = Some("https://cdn/x.mp4".to_owned());
            t.video_ms = Some(4100);
            t.lease_owner = Some("host-1".to_owned());
        }
        store.insert_task(&t).await.unwrap();
        alice.push(t);
    }
    for n in 10..13 {
        store.insert_task(&task(n, "bob", None)).await.unwrap();
    }
    for n in 13..15 {
        store.insert_task(&task(n, "alice", Some(7))).await.unwrap();
    }
    let gone = task(15, "alice", None);
    store.insert_task(&gone).await.unwrap();
    assert!(store.delete_task(&gone.id).await.unwrap());
    assert!(!store.delete_task(&gone.id).await.unwrap(), "deleted once");
    assert!(store.get_task(&gone.id).await.unwrap().unwrap().deleted);

    // Read back as written, by id and by the upstream's id.
    assert_eq!(
        store.get_task(&alice[3].id).await.unwrap().as_ref(),
        Some(&alice[3])
    );
    assert_eq!(
        store
            .task_by_upstream("sim", "up-3")
            .await
            .unwrap()
            .as_ref(),
        Some(&alice[3])
    );
    assert_eq!(store.task_by_upstream("other", "up-3").await.unwrap(), None);
    assert_eq!(store.get_task("video_none").await.unwrap(), None);
    // One upstream task is one relay task.
    let mut twin = task(99, "alice", None);
    twin.upstream_id = "up-3".to_owned();
    assert!(store.insert_task(&twin).await.is_err());

    let file_alice = Owner {
        token_id: None,
        name: "alice",
    };
    let asc: Vec<String> = ids(&alice);
    let mut desc = asc.clone();
    desc.reverse();
    for size in [1, 3, 4, 10, 100] {
        assert_eq!(
            pages(&store, file_alice, size, Order::Asc).await,
            asc,
            "asc by {size}"
        );
        assert_eq!(
            pages(&store, file_alice, size, Order::Desc).await,
            desc,
            "desc by {size}"
        );
    }
    let bob = Owner {
        token_id: None,
        name: "bob",
    };
    assert_eq!(
        pages(&store, bob, 2, Order::Asc).await,
        ["video_0010", "video_0011", "video_0012"]
    );
    let store_alice = Owner {
        token_id: Some(7),
        name: "alice",
    };
    assert_eq!(
        pages(&store, store_alice, 5, Order::Desc).await,
        ["video_0014", "video_0013"]
    );
    // Another owner's task as a cursor gives nothing of theirs; an unknown one, an empty page.
    let page = store
        .list_tasks(bob, Some("video_0001"), 10, Order::Asc)
        .await
        .unwrap();
    assert!(page
        .tasks
        .iter()
        .all(|t| t.owner == "bob" && t.token_id.is_none()));
    let page = store
        .list_tasks(file_alice, Some("video_nope"), 10, Order::Asc)
        .await
        .unwrap();
    assert!(page.tasks.is_empty() && !page.has_more);
    store.close().await;
}

async fn one_compare_and_set_wins_among_concurrent_writers(config: StoreConfig) {
    let store = open(&config).await;
    let t = task(1, "alice", None);
    store.insert_task(&t).await.unwrap();
    for round in 0..3 {
        let read = store.get_task(&t.id).await.unwrap().unwrap();
        let writers = (0..8u8).map(|w| {
            let store = store.clone();
            let mut mine = read.clone();
            mine.progress = w * 10;
            mine.state = TaskState::InProgress;
            async move { (w, store.update_task(&mine).await.unwrap()) }
        });
        let results = futures_util::future::join_all(writers).await;
        let winners: Vec<_> = results.iter().filter(|(_, v)| v.is_some()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let (w, version) = winners[0];
        let now = store.get_task(&t.id).await.unwrap().unwrap();
        assert_eq!(Some(now.version), *version);
        assert_eq!(now.version, read.version + 1);
        assert_eq!(now.progress, w * 10, "the winner's write is the one stored");
    }
    store.close().await;
}

async fn two_instances_taking_due_tasks_never_share_one(config: StoreConfig) {
    let a = open(&config).await;
    let b = open(&config).await;
    let lease = Duration::from_secs(60);
    for n in 0..60 {
        let mut t = task(n, "alice", None);
        t.next_poll_at = T0 + i64::from(n % 5);
        a.insert_task(&t).await.unwrap();
    }
    // Not due: later, terminal, or leased by someone else.
    let mut later = task(60, "alice", None);
    later.next_poll_at = T0 + 10_000;
    let mut done = task(61, "alice", None);
    done.state = TaskState::Completed;
    let mut held = task(62, "alice", None);
    held.lease_owner = Some("someone".to_owned());
    held.lease_until = T0 + 30_000;
    for t in [&later, &done, &held] {
        a.insert_task(t).await.unwrap();
    }
    let now = T0 + 5;
    let take = |store: Store, owner: &'static str| async move {
        let mut got = Vec::new();
        for _ in 0..100 {
            let batch = store.take_due_tasks(owner, now, lease, 7).await.unwrap();
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() <= 7);
            assert!(batch
                .windows(2)
                .all(|w| w[0].next_poll_at <= w[1].next_poll_at));
            for t in &batch {
                assert_eq!(t.lease_owner.as_deref(), Some(owner));
                assert_eq!(t.lease_until, now + 60_000);
                assert_eq!(t.version, 1);
            }
            got.extend(ids(&batch));
            tokio::task::yield_now().await;
        }
        got
    };
    let (got_a, got_b) = tokio::join!(take(a.clone(), "a"), take(b.clone(), "b"));
    let set_a: HashSet<_> = got_a.iter().cloned().collect();
    let set_b: HashSet<_> = got_b.iter().cloned().collect();
    assert_eq!(set_a.len(), got_a.len(), "a took a task twice");
    assert_eq!(set_b.len(), got_b.len(), "b took a task twice");
    assert!(
        set_a.is_disjoint(&set_b),
        "both took {:?}",
        set_a.intersection(&set_b)
    );
    let all: HashSet<_> = set_a.union(&set_b).cloned().collect();
    let expected: HashSet<_> = (0..60).map(|n| format!("video_{n:04}")).collect();
    assert_eq!(all, expected);
    // A lease that lapsed is taken again, as is a task whose poll time came.
    let after = b
        .take_due_tasks("b", T0 + 30_000, lease, 100)
        .await
        .unwrap();
    assert_eq!(
        ids(&after),
        [held.id.clone(), later.id.clone()],
        "soonest first"
    );
    let again = b
        .take_due_tasks("b", now + 60_000, lease, 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 60);
    a.close().await;
    b.close().await;
}

async fn a_terminal_task_is_never_overwritten(config: StoreConfig) {
    let store = open(&config).await;
    let t = task(1, "alice", None);
    store.insert_task(&t).await.unwrap();
    let mut done = t.clone();
    done.state = TaskState::Completed;
    done.progress = 100;
    done.result_url = Some("https://cdn/v.mp4".to_owned());
    let v = store.update_task(&done).await.unwrap();
    assert_eq!(v, Some(1));
    // A writer that read the old version loses; one that read the new one is refused too.
    let mut late = t.clone();
    late.state = TaskState::Failed;
    assert_eq!(store.update_task(&late).await.unwrap(), None);
    let mut fresh = store.get_task(&t.id).await.unwrap().unwrap();
    fresh.state = TaskState::Expired;
    fresh.failure = Some(TaskFailure::new("expired", "too late"));
    assert_eq!(store.update_task(&fresh).await.unwrap(), None);
    let stored = store.get_task(&t.id).await.unwrap().unwrap();
    assert_eq!(stored.state, TaskState::Completed);
    assert_eq!(stored.failure, None);
    assert_eq!(stored.version, 1);
    // Nor is it taken for polling.
    let taken = store
        .take_due_tasks("a", T0 + 1_000_000, Duration::from_secs(5), 10)
        .await
        .unwrap();
    assert!(taken.is_empty());
    store.close().await;
}

async fn overdue_tasks_and_counts(config: StoreConfig) {
    let store = open(&config).await;
    let mut all = Vec::new();
    for n in 0..8 {
        let mut t = task(n, "alice", None);
        t.provider = if n % 2 == 0 {
            ProviderKind::Kling
        } else {
            ProviderKind::Runway
        };
        t.upstream_id = format!("up-{n}");
        t.state = match n {
            0..=2 => TaskState::Queued,
            3..=5 => TaskState::InProgress,
            6 => TaskState::Completed,
            _ => TaskState::Expired,
        };
        t.deadline_at = T0 + i64::from(n) * 1000;
        store.insert_task(&t).await.unwrap();
        all.push(t);
    }
    let now = T0 + 3000;
    let overdue = store.overdue_tasks(now, 100).await.unwrap();
    assert_eq!(
        ids(&overdue),
        ["video_0000", "video_0001", "video_0002", "video_0003"]
    );
    assert_eq!(ids(&store.overdue_tasks(now, 2).await.unwrap()).len(), 2);
    let counts = store.task_counts(now).await.unwrap();
    assert_eq!(counts.overdue, 4);
    assert_eq!(
        counts.pending,
        [
            ("kling".to_owned(), TaskState::Queued, 2),
            ("kling".to_owned(), TaskState::InProgress, 1),
            ("runway".to_owned(), TaskState::Queued, 1),
            ("runway".to_owned(), TaskState::InProgress, 2),
        ]
    );
    assert_eq!(counts.oldest_pending_created_at, Some(all[0].created_at));
    assert_eq!(store.task_counts(T0).await.unwrap().overdue, 1);
    store.close().await;
}
