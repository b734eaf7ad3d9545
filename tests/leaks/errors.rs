//! Upstream answers that are errors, or that break before the answer is complete: the error body
//! must be read bounded and its connection reused or closed, never kept.

use super::{all_well_formed, burst, warm, SETTLE};
use sluice_test_support::leak::{self, traffic::Route, traffic::Shape};
use std::time::Duration;

/// 10 requests per main route (40, at once) answered by the upstream with `status` and a body;
/// the client gets `expect` in its own format; then every count returns.
async fn status_bodies(status: u16, expect: u16) {
    let (h, base) = warm(|_, _| {}).await;
    // retry-after=0: no cool-down, so every one of the 40 concurrent requests meets the upstream.
    let fault = format!("status={status}");
    let outs = burst(&h, &Route::MAIN, &format!("{fault}, retry-after=0"), 10).await;
    all_well_formed(&outs, expect, Shape::Error);
    super::served(&h, &fault, 40);
    assert_eq!(base.requests_since(&h), 40);
    base.assert_returns(&h, SETTLE).await;
    h.shutdown().await;
}

#[test]
fn upstream_429_bodies_do_not_leak_connections() {
    leak::run(|| status_bodies(429, 429));
}

#[test]
fn upstream_503_bodies_do_not_leak_connections() {
    leak::run(|| status_bodies(503, 503));
}

#[test]
fn upstream_504_bodies_do_not_leak_connections() {
    leak::run(|| status_bodies(504, 504));
}

#[test]
fn error_bodies_failing_mid_read_do_not_leak_connections() {
    // The error body promises its length and the connection closes after 20 bytes of it.
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        let outs = burst(
            &h,
            &Route::MAIN,
            "status=503, retry-after=0, truncate=20",
            10,
        )
        .await;
        all_well_formed(&outs, 503, Shape::Error);
        super::served(&h, "truncate", 40);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn error_bodies_over_the_limit_do_not_leak_connections() {
    // A 256 KiB error body against a 1 KiB limit: read up to the limit, the rest left unread,
    // so the connection must be closed rather than pooled.
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.limits.max_error_body = 1024).await;
        let outs = burst(
            &h,
            &Route::MAIN,
            "status=503, retry-after=0, oversize=256KiB",
            10,
        )
        .await;
        all_well_formed(&outs, 503, Shape::Error);
        super::served(&h, "oversize", 40);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn truncated_answers_do_not_leak_connections() {
    // A 200 whose JSON body (or stream) breaks off after 30 bytes.
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        let outs = burst(&h, &Route::MAIN, "truncate=30", 10).await;
        for o in &outs {
            let expect = if o.stream { 200 } else { 502 };
            assert_eq!(o.status, expect, "{o:?}");
            assert_eq!(o.shape(), Ok(Shape::Error), "{o:?}");
        }
        super::served(&h, "truncate", 40);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn malformed_answers_do_not_leak_connections() {
    // Half a JSON body (a 502), or a stream with one broken event (converted: an error event;
    // native: passed through as sent, see `shape_passthrough`).
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        let outs = burst(&h, &Route::MAIN, "malformed", 10).await;
        for o in &outs {
            if o.stream {
                o.shape_passthrough().unwrap();
            } else {
                assert_eq!((o.status, o.shape()), (502, Ok(Shape::Error)), "{o:?}");
            }
        }
        super::served(&h, "malformed", 40);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn upstream_resets_do_not_leak_connections() {
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        let outs = burst(&h, &Route::MAIN, "reset", 10).await;
        all_well_formed(&outs, 502, Shape::Error);
        super::served(&h, "reset", 40);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn upstream_stall_before_headers_does_not_leak_connections() {
    // The upstream reads the request and never answers: the first-byte deadline ends it.
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.timeouts.first_byte = Duration::from_millis(300)).await;
        let outs = burst(&h, &Route::MAIN, "stall-headers", 6).await;
        all_well_formed(&outs, 504, Shape::Error);
        super::served(&h, "stall-headers", 24);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn blackholed_upstreams_do_not_leak_connections() {
    // The upstream stops reading and answering but keeps the socket open.
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.timeouts.first_byte = Duration::from_millis(300)).await;
        let outs = burst(&h, &Route::MAIN, "blackhole", 6).await;
        all_well_formed(&outs, 504, Shape::Error);
        super::served(&h, "blackhole", 24);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}
