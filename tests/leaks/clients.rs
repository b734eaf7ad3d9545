//! Clients that leave or stop reading: the relay must let go of the upstream as soon as the
//! client is gone, before the answer's headers, mid-stream, or while it is blocked writing.

use super::{warm, SETTLE};
use futures_util::future::join_all;
use futures_util::StreamExt;
use sluice_test_support::leak::traffic::Route;
use sluice_test_support::leak::{self};
use sluice_test_support::{assert_eventually, eventually, Harness, TOKEN};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[test]
fn client_disconnect_before_headers_does_not_leak_upstream() {
    // The upstream stalls before its headers (the first-byte deadline is far: 5 s); once all 24
    // requests have reached it, every client leaves. The relay must cancel the upstream calls.
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        let disconnects = h.state.monitor.ledger().counters().client_disconnects;
        let sends = Route::MAIN.iter().flat_map(|&route| {
            let h = &h;
            (0..6).map(move |i| async move {
                let body = route.body(Some("stall-headers"), i % 2 == 1, 8);
                route.request(h, &body).send().await
            })
        });
        let arrived = eventually(
            Duration::from_secs(5),
            "24 requests stalled upstream",
            || {
                let n = h.sim.stats().faults_of("stall-headers");
                async move { n == 24 }
            },
        );
        tokio::select! {
            answered = join_all(sends) => panic!("the upstream stalls, yet: {answered:?}"),
            () = arrived => {} // dropping the sends: every client leaves at once
        }
        base.assert_returns(&h, SETTLE).await;
        let c = h.state.monitor.ledger().counters();
        assert_eq!(c.client_disconnects - disconnects, 24, "{c:?}");
        assert_eq!(base.requests_since(&h), 24, "each request counted once");
        h.shutdown().await;
    });
}

#[test]
fn client_disconnect_mid_stream_does_not_leak_upstream() {
    // 20 slow streams (400 tokens at 50 ms: 20 s each) read to their first chunk, then dropped.
    leak::run(|| async {
        let (h, base) = warm(|_, _| {}).await;
        leave_mid_stream(&h, &Route::MAIN, 5).await;
        base.assert_returns(&h, SETTLE).await;
        assert_eq!(base.requests_since(&h), 20, "each request counted once");
        h.shutdown().await;
    });
}

/// `per_route` slow streams on each of `routes` (400 tokens at 50 ms), read to their first
/// chunk, all open at once, then dropped.
pub(super) async fn leave_mid_stream(h: &Harness, routes: &[Route], per_route: usize) {
    let opens = routes.iter().flat_map(|&route| {
        (0..per_route).map(move |_| async move {
            let body = route.body(Some("drip=50ms"), true, 400);
            let resp = route.request(h, &body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut body = resp.bytes_stream();
            let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
            assert!(matches!(first, Ok(Some(Ok(_)))), "first chunk");
            body
        })
    });
    let held = join_all(opens).await;
    let n = routes.len() * per_route;
    assert_eq!(h.state.monitor.ledger().counts().open_streams, n as u64);
    assert!(h.sim.stats().connections_open >= n as u64);
    drop(held);
}

/// Opens a raw HTTP/1.1 connection with a tiny receive buffer, sends a streaming request, and
/// reads no more than the response head: the client that stops reading.
async fn stalled_reader(h: &Harness, route: Route, fault: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(h.addr()).await.unwrap();
    let body = route.body(Some(fault), true, 400).to_string();
    let auth = if route.anthropic_client() {
        format!("x-api-key: {TOKEN}\r\nanthropic-version: 2023-06-01")
    } else {
        format!("authorization: Bearer {TOKEN}")
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\n{auth}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        route.path(),
        h.addr(),
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body.as_bytes()).await.unwrap();
    let mut first = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    tcp
}

#[test]
fn slow_client_that_stops_reading_does_not_leak_upstream() {
    // 8 streams to clients that read nothing after the head, then leave. Natively the 2nd event
    // is 8 MiB, more than the kernel's socket buffers take (4 MiB send buffer at most, the
    // client's receive buffer pinned at 4 KiB): the relay blocks writing, so it stops reading
    // upstream (backpressure, no buffering). Converted, the padding is dropped, so those streams
    // are made long instead (400 tokens at 20 ms). Either way the relay holds the upstream only
    // as long as the client stays.
    leak::run(|| async {
        let (h, base) = warm(|c, _| c.limits.max_stream_event = 16 << 20).await;
        let opens = Route::MAIN
            .iter()
            .flat_map(|&route| (0..2).map(move |_| route))
            .map(|route| stalled_reader(&h, route, "oversize=8MiB, drip=20ms"));
        let held = join_all(opens).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Still open for the clients: blocked writing, or still dripping.
        assert_eventually!(
            h.state.monitor.ledger().counts().open_streams == 8,
            "8 streams blocked on their clients"
        );
        assert!(h.sim.stats().connections_open >= 8, "upstreams held back");
        drop(held);
        base.assert_returns(&h, SETTLE).await;
        assert_eq!(base.requests_since(&h), 8, "each request counted once");
        h.shutdown().await;
    });
}

#[test]
fn client_that_stops_reading_does_not_hold_the_upstream_past_the_idle_deadline() {
    // A client that stops reading and never leaves: after `stream_idle` (here 500 ms) without
    // taking a byte, the relay drops its connection, and with it the upstream. (Before the write
    // deadline, nothing fired: the body, total deadline included, is not polled while hyper
    // waits for the socket, so the upstream stayed open for as long as the client stayed.)
    leak::run(|| async {
        let (h, base) = warm(|c, _| {
            c.limits.max_stream_event = 16 << 20;
            c.timeouts.stream_idle = Duration::from_millis(500);
        })
        .await;
        let held = stalled_reader(&h, Route::OpenAiChat, "oversize=8MiB").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(h.state.monitor.ledger().counts().open_streams, 1);
        let within = Duration::from_secs(3);
        eventually(within, "upstream released at the write deadline", || {
            let open = h.sim.stats().connections_open;
            async move { open == 0 }
        })
        .await;
        drop(held);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}
