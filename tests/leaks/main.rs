//! Leak regressions: one test per leak class, each named after the leak it rules out. Each
//! drives enough traffic through the relay to make a leak visible (tens of requests, most of them
//! concurrent, on OpenAI and Anthropic channels, native and converted), checks the fault really
//! happened, and then requires every count (ledger, simulator, live tasks, fds, sockets) to be
//! back at its baseline (`sluice_test_support::leak`).
//!
//! Each test runs on its own runtime and takes its turn at the process (`leak::run`): fds and
//! sockets are process-wide.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod clients;
mod errors;
mod google;
mod jobs;
mod media;
mod shutdown;
mod streams;
mod uploads;
mod video;

use futures_util::future::join_all;
use sluice_test_support::leak::traffic::{self, Outcome, Route, Shape};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::Harness;
use std::time::Duration;

/// How long counts may take to return after the traffic: the pool's idle timeout (200 ms) plus
/// its eviction tick, with room for a loaded CI machine.
const SETTLE: Duration = Duration::from_secs(3);

/// One request may take this long, end to end, before the test calls it hung.
const REQUEST: Duration = Duration::from_secs(10);

/// A relay for a leak test (see `leak::harness`), warmed up on every route, streaming and not,
/// with the baseline taken once it is quiet.
async fn warm(
    tweak: impl FnOnce(&mut sluice::Config, &sluice_sim::SimHandle) + 'static,
) -> (Harness, Baseline) {
    let h = leak::harness(tweak).await;
    for route in Route::MAIN {
        for stream in [false, true] {
            let out = traffic::send(&h, route, None, stream, 4, REQUEST)
                .await
                .expect("warm-up request");
            assert_eq!(out.shape(), Ok(Shape::Answer), "warm-up");
        }
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

/// Sends `per_route` requests on each route, all at once (half of them streaming where the
/// route streams), each carrying `fault`; returns every outcome.
async fn burst(h: &Harness, routes: &[Route], fault: &str, per_route: usize) -> Vec<Outcome> {
    let sends = routes.iter().flat_map(|&route| {
        (0..per_route).map(move |i| traffic::send(h, route, Some(fault), i % 2 == 1, 8, REQUEST))
    });
    join_all(sends)
        .await
        .into_iter()
        .map(|o| o.expect("every request answered within its deadline"))
        .collect()
}

/// `per_route` streams on each of `routes`, at once, each with `fault`: every one a 200 with a
/// well-formed end.
async fn streams_on(h: &Harness, routes: &[Route], fault: &str, per_route: usize) -> Vec<Outcome> {
    let sends = routes.iter().flat_map(|&route| {
        (0..per_route).map(move |_| traffic::send(h, route, Some(fault), true, 30, REQUEST))
    });
    let outs: Vec<Outcome> = join_all(sends)
        .await
        .into_iter()
        .map(|o| o.expect("every stream ended within its deadline"))
        .collect();
    for o in &outs {
        assert_eq!(o.status, 200, "{o:?}");
        o.shape().unwrap();
    }
    outs
}

/// The fault `kind` was served `n` times to as many requests, and every count came back.
async fn check_served(h: Harness, base: Baseline, kind: &str, n: u64) {
    served(&h, kind, n);
    assert_eq!(base.requests_since(&h), n, "each request counted once");
    base.assert_returns(&h, SETTLE).await;
    h.shutdown().await;
}

/// Every outcome has `status` and is well-formed in the client's format.
fn all_well_formed(outs: &[Outcome], status: u16, shape: Shape) {
    for o in outs {
        assert_eq!(o.status, status, "{o:?}");
        assert_eq!(o.shape(), Ok(shape), "{o:?}");
    }
}

/// The simulator served `kind` at least `n` times: the fault really happened (more than once per
/// request where the relay retries).
fn served(h: &Harness, kind: &str, n: u64) {
    let served = h.sim.stats().faults_of(kind);
    assert!(
        served >= n,
        "fault {kind} served {served} times, expected {n}"
    );
}
