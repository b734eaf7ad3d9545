//! Google's native routes (Gemini API and Vertex AI channels): status errors, streams cut,
//! stalled or ended by Google's error chunk, resets, and clients that leave mid-stream leave no
//! task, connection, stream or token exchange behind.

use super::{all_well_formed, burst, warm, REQUEST, SETTLE};
use sluice_test_support::leak::traffic::{self, Outcome, Route, Shape};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::Harness;
use std::time::Duration;

/// A relay warmed up on the main routes and on Google's (the Vertex token exchanged, its
/// connections pooled), with the baseline taken after.
async fn warm_google(
    tweak: impl FnOnce(&mut sluice::Config, &sluice_sim::SimHandle) + 'static,
) -> (Harness, Baseline) {
    let (h, _) = warm(tweak).await;
    for route in Route::GOOGLE {
        for stream in [false, true] {
            let out = traffic::send(&h, route, None, stream, 4, REQUEST)
                .await
                .expect("warm-up request");
            assert_eq!(out.shape(), Ok(Shape::Answer), "warm-up {route:?} {stream}");
        }
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

/// `per_route` streams on each Google route, at once, with `fault`: each a 200 ending `shape`.
async fn google_streams(h: &Harness, fault: &str, per_route: usize, shape: Shape) -> Vec<Outcome> {
    let outs = super::streams_on(h, &Route::GOOGLE, fault, per_route).await;
    for o in &outs {
        assert_eq!(o.shape(), Ok(shape), "{o:?}");
    }
    outs
}

#[test]
fn gemini_status_errors_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm_google(|_, _| {}).await;
        for (status, n) in [(503, 20), (429, 40)] {
            let fault = format!("status={status}");
            let outs = burst(&h, &Route::GOOGLE, &format!("{fault}, retry-after=0"), 10).await;
            all_well_formed(&outs, status, Shape::Error);
            super::served(&h, &fault, 20);
            assert_eq!(base.requests_since(&h), n);
        }
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn gemini_streams_cut_or_ended_by_error_chunks_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm_google(|_, _| {}).await;
        google_streams(&h, "cut=2", 10, Shape::Error).await;
        super::served(&h, "cut", 20);
        google_streams(&h, "error-event=1", 10, Shape::Error).await;
        super::served(&h, "error-event", 20);
        google_streams(&h, "no-done", 10, Shape::Error).await;
        super::served(&h, "no-done", 20);
        assert_eq!(base.requests_since(&h), 60, "each request counted once");
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn gemini_stall_mid_stream_does_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm_google(|c, _| {
            c.timeouts.stream_idle = Duration::from_millis(300);
            c.timeouts.keepalive = Duration::from_millis(100);
        })
        .await;
        let outs = google_streams(&h, "stall-after=2", 6, Shape::Error).await;
        assert!(
            outs.iter().all(|o| o.body.contains("stream_idle")),
            "{outs:?}"
        );
        super::check_served(h, base, "stall-after", 12).await;
    });
}

#[test]
fn gemini_upstream_resets_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm_google(|_, _| {}).await;
        let outs = burst(&h, &Route::GOOGLE, "reset", 10).await;
        all_well_formed(&outs, 502, Shape::Error);
        super::check_served(h, base, "reset", 20).await;
    });
}

#[test]
fn gemini_client_disconnect_mid_stream_does_not_leak_upstream() {
    // 10 slow streams (400 tokens at 50 ms) read to their first chunk, then dropped.
    leak::run(|| async {
        let (h, base) = warm_google(|_, _| {}).await;
        super::clients::leave_mid_stream(&h, &Route::GOOGLE, 5).await;
        base.assert_returns(&h, SETTLE).await;
        assert_eq!(base.requests_since(&h), 10, "each request counted once");
        h.shutdown().await;
    });
}
