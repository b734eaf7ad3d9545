//! Streams that go wrong after the 200 went out: the relay ends them with one error event and
//! must drop the upstream at once, whatever state its connection is in.

use super::warm;
use sluice_test_support::leak::traffic::{Outcome, Route, Shape};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::Harness;
use std::time::Duration;

/// `per_route` streams on each main route, at once, each with `fault`; every one must be a
/// 200 ending with `shape`.
async fn streams(h: &Harness, fault: &str, per_route: usize, shape: Shape) -> Vec<Outcome> {
    let outs = streams_any(h, fault, per_route).await;
    for o in &outs {
        assert_eq!(o.shape(), Ok(shape), "{o:?}");
    }
    outs
}

/// Like [`streams`], accepting any well-formed end.
async fn streams_any(h: &Harness, fault: &str, per_route: usize) -> Vec<Outcome> {
    super::streams_on(h, &Route::MAIN, fault, per_route).await
}

async fn check(h: Harness, base: Baseline, kind: &str, n: u64) {
    super::check_served(h, base, kind, n).await;
}

#[test]
fn streams_cut_mid_event_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        streams(&h, "cut=3", 10, Shape::Error).await;
        check(h, base, "cut", 40).await;
    });
}

#[test]
fn streams_without_terminator_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        // Natively the client sees an error event. Converted from OpenAI to Anthropic, the
        // converter completes a stream whose finish_reason arrived (only `[DONE]` is missing)
        // with message_stop: well-formed either way.
        let outs = streams_any(&h, "no-done", 10).await;
        for o in outs.iter().filter(|o| o.route != Route::GptViaMessages) {
            assert_eq!(o.shape(), Ok(Shape::Error), "{o:?}");
        }
        check(h, base, "no-done", 40).await;
    });
}

#[test]
fn upstream_error_events_do_not_leak_connections() {
    // The provider's own in-stream error event, then a clean end.
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        streams(&h, "error-event=2", 10, Shape::Error).await;
        check(h, base, "error-event", 40).await;
    });
}

#[test]
fn oversized_stream_events_do_not_leak_connections() {
    // The 2nd event is 256 KiB against a 16 KiB event limit: the relay stops mid-body.
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.limits.max_stream_event = 16 * 1024).await;
        streams(&h, "oversize=256KiB", 10, Shape::Error).await;
        check(h, base, "oversize", 40).await;
    });
}

#[test]
fn upstream_stall_mid_stream_does_not_leak_connections() {
    // Two events, then silence on an open connection: keep-alives, then the idle deadline.
    leak::run(|| async {
        let (h, base) = warm(|c, _| {
            c.timeouts.stream_idle = Duration::from_millis(300);
            c.timeouts.keepalive = Duration::from_millis(100);
        })
        .await;
        let outs = streams(&h, "stall-after=2", 6, Shape::Error).await;
        assert!(outs.iter().all(|o| o.body.contains("stream_idle")));
        check(h, base, "stall-after", 24).await;
    });
}
