//! Graceful shutdown with streams open: once the relay has stopped, nothing of it is left.

use super::{warm, SETTLE};
use futures_util::future::join_all;
use sluice_test_support::leak::traffic::{self, Route, Shape};
use sluice_test_support::leak::{self};
use sluice_test_support::Harness;
use std::time::Duration;

#[test]
fn shutdown_with_open_streams_leaves_nothing() {
    // 12 streams that would take 20 s each; shutdown with a 300 ms grace period cancels them.
    // Afterwards: no connection in either direction, no task, no fd beyond the baseline (which
    // included the relay's own listener and server task).
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.shutdown_grace = Duration::from_millis(300)).await;
        let opens = Route::MAIN.iter().flat_map(|&route| {
            let h = &h;
            (0..3).map(move |_| async move {
                let body = route.body(Some("drip=50ms"), true, 400);
                (route, route.request(h, &body).send().await.unwrap())
            })
        });
        let open = join_all(opens).await;
        assert_eq!(h.state.monitor.ledger().counts().open_streams, 12);
        let Harness {
            sim, relay, state, ..
        } = h;
        let reads = open.into_iter().map(|(route, resp)| {
            tokio::time::timeout(SETTLE * 2, traffic::read(route, true, resp))
        });
        let (outs, ()) = tokio::join!(join_all(reads), relay.shutdown());
        for o in outs {
            let o = o.expect("each stream ended by the shutdown");
            assert_eq!(o.status, 200);
            // Cancelled after the grace period: the connection closes mid-stream.
            assert!(o.cut || o.shape() == Ok(Shape::Error), "{o:?}");
        }
        base.assert_returns_to(&state, &sim, SETTLE).await;
        drop(state);
        sim.shutdown().await;
    });
}
