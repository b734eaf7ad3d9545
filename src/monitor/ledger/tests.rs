use super::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn ledger() -> Arc<Ledger> {
    Ledger::new(&["main".to_owned(), "backup".to_owned()])
}

/// Reads one gauge by name from `counts()`.
fn gauge(l: &Ledger, name: &str) -> u64 {
    let c = l.counts();
    match name {
        "inbound" => c.inbound_connections,
        "upstream" => c.upstream_connections,
        "streams" => c.open_streams,
        "jobs" => c.background_jobs,
        family => c.in_flight[family],
    }
}

type MakeGuard = fn(&Arc<Ledger>) -> Guard;

fn makers() -> Vec<(&'static str, MakeGuard)> {
    vec![
        ("inbound", |l| l.inbound_connection()),
        ("upstream", |l| l.upstream_connection()),
        ("streams", |l| l.open_stream()),
        ("jobs", |l| l.background_job()),
        ("chat", |l| l.in_flight(Family::Chat)),
        ("messages", |l| l.in_flight(Family::Messages)),
        ("models", |l| l.in_flight(Family::Models)),
    ]
}

#[test]
fn each_gauge_rises_on_create_and_falls_on_drop() {
    let l = ledger();
    for (name, make) in makers() {
        let a = make(&l);
        let b = make(&l);
        assert_eq!(gauge(&l, name), 2, "{name}");
        drop(a);
        assert_eq!(gauge(&l, name), 1, "{name}");
        drop(b);
        assert_eq!(gauge(&l, name), 0, "{name}");
    }
    assert_eq!(l.counts(), Ledger::new(&[]).counts());
}

#[test]
fn guards_fall_when_dropped_by_panic_unwinding() {
    let l = ledger();
    for (name, make) in makers() {
        let l2 = Arc::clone(&l);
        let result = catch_unwind(AssertUnwindSafe(move || {
            let _g = make(&l2);
            assert_eq!(gauge(&l2, name), 1);
            panic!("handler blew up");
        }));
        assert!(result.is_err());
        assert_eq!(gauge(&l, name), 0, "{name}");
    }
}

#[tokio::test]
async fn guards_fall_when_their_task_is_aborted() {
    let l = ledger();
    let mut tasks = tokio::task::JoinSet::new();
    for (_, make) in makers() {
        let g = make(&l);
        tasks.spawn(async move {
            let _g = g;
            std::future::pending::<()>().await;
        });
    }
    assert_eq!(l.counts().in_flight_total(), 3);
    assert_eq!(l.counts().inbound_connections, 1);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    assert_eq!(l.counts(), Ledger::new(&[]).counts());
}

#[test]
fn ledgers_are_independent() {
    let a = ledger();
    let b = ledger();
    let _g = a.open_stream();
    assert_eq!(a.counts().open_streams, 1);
    assert_eq!(b.counts().open_streams, 0);
}

#[test]
fn counters_count_with_bounded_labels() {
    let l = ledger();
    l.request(200);
    l.request(200);
    l.request(503);
    l.request(42); // nonsense status: counted as "other"
    l.upstream_error("main", 429u16);
    l.upstream_error("main", 429u16);
    l.upstream_error("backup", ErrorKind::Connect);
    l.upstream_error("not-configured", 500u16);
    l.retry();
    l.client_disconnect();
    l.client_disconnect();
    l.timeout(TimeoutKind::FirstByte);
    l.timeout(TimeoutKind::ClientBody);
    let c = l.counters();
    assert_eq!(c.requests["200"], 2);
    assert_eq!(c.requests["503"], 1);
    assert_eq!(c.requests["other"], 1);
    assert_eq!(c.requests.len(), 3);
    assert_eq!(c.upstream_errors["main"]["429"], 2);
    assert_eq!(c.upstream_errors["backup"]["connect"], 1);
    assert_eq!(c.upstream_errors["other"]["500"], 1);
    assert!(!c.upstream_errors.contains_key("not-configured"));
    assert_eq!((c.retries, c.client_disconnects), (1, 2));
    assert_eq!(c.timeouts["first_byte"], 1);
    assert_eq!(c.timeouts["client_body"], 1);
    assert_eq!(c.timeouts["connect"], 0);
    assert_eq!(c.timeouts.len(), TimeoutKind::ALL.len());
}

#[test]
fn histograms_record_observations() {
    let l = ledger();
    l.observe_upstream_latency(Duration::from_millis(120));
    l.observe_time_to_first_token(Duration::from_millis(300));
    l.observe_relay_overhead(Duration::from_micros(200));
    for (name, _, h) in l.histograms() {
        assert_eq!(h.count, 1, "{name}");
    }
}
