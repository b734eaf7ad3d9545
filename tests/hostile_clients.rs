//! End to end: clients that hold the relay's front door without using it. Headers sent a byte at
//! a time, idle keep-alive connections (HTTP/1.1 and HTTP/2), bodies that stall or trickle, a
//! hundred body-less HTTP/2 streams on one connection, a 10 GiB `Content-Length` with
//! `Expect: 100-continue`. Each meets its deadline or bound (short ones, configured here), the
//! relay keeps serving real clients meanwhile, and afterwards every count is back at its
//! baseline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::{json, Value};
use sluice_test_support::leak::{self, Baseline};
use sluice_test_support::{Harness, TOKEN};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long counts may take to return after the traffic.
const SETTLE: Duration = Duration::from_secs(3);
/// The outer bound of every wait for the relay to act: far beyond the configured deadlines.
const WITHIN: Duration = Duration::from_secs(10);

fn ask() -> Value {
    json!({"model": "gpt-4o-mini", "max_tokens": 2,
        "messages": [{"role": "user", "content": "hi"}]})
}

/// A leak harness with `tweak`'s deadlines, warmed up, and its baseline.
async fn warm(tweak: impl FnOnce(&mut sluice::Config) + 'static) -> (Harness, Baseline) {
    let h = leak::harness(|c, _| tweak(c)).await;
    for _ in 0..2 {
        assert_eq!(h.post("/v1/chat/completions", &ask()).await.status(), 200);
    }
    let base = Baseline::take(&h).await;
    (h, base)
}

fn timeouts(h: &Harness, kind: &str) -> u64 {
    let counters = h.state.monitor.ledger().counters();
    counters.timeouts.get(kind).copied().unwrap_or(0)
}

/// Waits (bounded) until the relay closes `tcp`: a read that returns 0 or fails.
async fn closed(tcp: &mut (impl AsyncRead + Unpin)) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WITHIN, read_to_end).await.is_ok()
}

/// Writes `bytes` one at a time, `gap` apart, until the relay closes the connection; true if it
/// did before the last byte (bounded by the length of `bytes`).
async fn drip_until_closed(tcp: &mut TcpStream, bytes: &[u8], gap: Duration) -> bool {
    let mut buf = [0u8; 1024];
    for b in bytes {
        if tcp.write_all(&[*b]).await.is_err() {
            return true;
        }
        if let Ok(read) = tokio::time::timeout(gap, tcp.read(&mut buf)).await {
            match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }
    false
}

/// Reads one HTTP/1.1 response (head and `content-length` body); `None` if the connection
/// closed first. Everything read is returned, so a stray `100 Continue` would show.
async fn response(tcp: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.rfind("\r\n\r\n") {
                let head = &text[..end];
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|n| n.trim().parse::<usize>().ok());
                if !head.starts_with("HTTP/1.1 100")
                    && len.is_some_and(|n| text.len() >= end + 4 + n)
                {
                    return Some(text);
                }
            }
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WITHIN, read)
        .await
        .expect("no answer and no close")
}

fn models_request(h: &Harness) -> String {
    format!(
        "GET /v1/models HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {TOKEN}\r\n\r\n",
        h.addr()
    )
}

#[test]
fn slow_headers_are_closed_at_the_header_deadline() {
    leak::run(|| async {
        let (h, base) = warm(|c| {
            c.timeouts.client_header = Duration::from_millis(300);
            c.timeouts.client_idle = Duration::from_secs(30);
        })
        .await;
        let request = models_request(&h);
        // Connects and sends nothing at all (not even enough to tell HTTP/1 from HTTP/2).
        let mut silent = TcpStream::connect(h.addr()).await.unwrap();
        // Sends its first request's headers a byte every 50 ms (about 4 s for all of them).
        let mut first = TcpStream::connect(h.addr()).await.unwrap();
        // A keep-alive client whose second request's headers drip.
        let mut second = TcpStream::connect(h.addr()).await.unwrap();
        second.write_all(request.as_bytes()).await.unwrap();
        let answer = response(&mut second).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let gap = Duration::from_millis(50);
        let (silent_closed, first_closed, second_closed) = tokio::join!(
            closed(&mut silent),
            drip_until_closed(&mut first, request.as_bytes(), gap),
            drip_until_closed(&mut second, request.as_bytes(), gap),
        );
        assert!(silent_closed, "a silent connection is closed");
        assert!(first_closed, "dripped first-request headers are cut off");
        assert!(second_closed, "dripped keep-alive headers are cut off");
        assert_eq!(timeouts(&h, "client_header"), 3);
        // A client within the deadline is served as ever.
        assert_eq!(h.post("/v1/chat/completions", &ask()).await.status(), 200);
        drop((silent, first, second));
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn idle_keep_alive_connections_are_closed_and_busy_ones_are_not() {
    leak::run(|| async {
        let (h, base) = warm(|c| {
            c.timeouts.client_idle = Duration::from_millis(300);
            c.timeouts.client_header = Duration::from_secs(30);
        })
        .await;
        // HTTP/1.1: one request, then nothing.
        let mut idle = TcpStream::connect(h.addr()).await.unwrap();
        idle.write_all(models_request(&h).as_bytes()).await.unwrap();
        assert!(response(&mut idle)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        assert!(
            closed(&mut idle).await,
            "an idle HTTP/1.1 connection is closed"
        );
        drop(idle);
        {
            // HTTP/2 (prior knowledge): a stream that takes about 1 s (longer than the idle
            // deadline) is served to its end; once it is over, the idle connection is closed.
            let tcp = TcpStream::connect(h.addr()).await.unwrap();
            let (client, conn) = h2::client::handshake(tcp).await.unwrap();
            let slow = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 20,
                "messages": [{"role": "user", "content": "go <<sim:drip=50ms..50ms>>"}]});
            let use_it = async {
                let (status, body) = h2_post(client.clone(), &slow).await;
                assert_eq!(status, 200);
                assert!(body.contains("[DONE]"), "the whole stream: {body}");
                client
            };
            tokio::pin!(conn);
            // The client handle is kept: only the server's idle deadline may end the connection.
            let _client = tokio::select! {
                ended = &mut conn => panic!("the busy HTTP/2 connection was closed: {ended:?}"),
                client = use_it => client,
            };
            let ended = tokio::time::timeout(WITHIN, &mut conn).await;
            assert!(ended.is_ok(), "an idle HTTP/2 connection is closed");
        }
        assert_eq!(timeouts(&h, "client_idle"), 2);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

/// The head of an HTTP/2 chat POST with the client token (its body is sent, or not, apart).
fn h2_chat(content_type: &str) -> http::Request<()> {
    http::Request::post("http://relay/v1/chat/completions")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", content_type)
        .body(())
        .unwrap()
}

/// POSTs `body` on an HTTP/2 connection (its driver polled elsewhere); returns status and body.
async fn h2_post(client: h2::client::SendRequest<Bytes>, body: &Value) -> (u16, String) {
    let mut client = client.ready().await.unwrap();
    let (resp, mut send) = client
        .send_request(h2_chat("application/json"), false)
        .unwrap();
    send.send_data(Bytes::from(body.to_string()), true).unwrap();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut recv = resp.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.unwrap();
        let _ = recv.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (status, String::from_utf8_lossy(&text).into_owned())
}

/// The head of a chat POST promising `len` body bytes.
fn chat_head(h: &Harness, len: u64, extra: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {len}\r\n{extra}\r\n",
        h.addr()
    )
}

#[test]
fn stalled_and_trickling_bodies_get_408_and_hold_no_slot() {
    leak::run(|| async {
        let (h, base) = warm(|c| {
            c.overload.max_in_flight = 1;
            c.timeouts.client_body = Duration::from_millis(300);
            c.timeouts.client_body_total = Duration::from_secs(1);
        })
        .await;
        // One byte of body, then nothing.
        let mut stalled = TcpStream::connect(h.addr()).await.unwrap();
        stalled
            .write_all(chat_head(&h, 1000, "").as_bytes())
            .await
            .unwrap();
        stalled.write_all(b"{").await.unwrap();
        // While it stalls, the one in-flight slot is free for a real client.
        sluice_test_support::eventually(WITHIN, "the stalled request reached the relay", || {
            let n = h.state.monitor.ledger().counts().in_flight_total();
            async move { n == 1 }
        })
        .await;
        assert_eq!(h.state.overload.snapshot().in_flight, 0);
        assert_eq!(h.post("/v1/chat/completions", &ask()).await.status(), 200);
        let answer = response(&mut stalled)
            .await
            .expect("an answer before the close");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
        assert!(
            closed(&mut stalled).await,
            "the half-read connection is closed"
        );

        // A byte every 100 ms never misses the gap deadline, but the total one ends it.
        let mut trickle = TcpStream::connect(h.addr()).await.unwrap();
        trickle
            .write_all(chat_head(&h, 1000, "").as_bytes())
            .await
            .unwrap();
        let (mut rd, mut wr) = trickle.split();
        let drip = async {
            for _ in 0..100 {
                if wr.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let answer = tokio::select! {
            answer = response(&mut rd) => answer.expect("an answer"),
            () = drip => panic!("10 s of trickle and no answer"),
        };
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert_eq!(timeouts(&h, "client_body"), 2);
        assert_eq!(h.state.overload.snapshot().in_flight, 0);
        drop((stalled, trickle));
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn bodyless_http2_streams_do_not_starve_real_clients() {
    leak::run(|| async {
        let (h, base) = warm(|c| {
            c.overload.max_in_flight = 8;
            c.limits.max_h2_streams = 120;
            c.timeouts.client_body = Duration::from_secs(2);
        })
        .await;
        let tcp = TcpStream::connect(h.addr()).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        // 100 streams on one connection: headers without END_STREAM, then no DATA ever.
        let open = async {
            let mut held = Vec::new();
            for _ in 0..100 {
                let mut c = client.clone().ready().await.unwrap();
                held.push(c.send_request(h2_chat("application/json"), false).unwrap());
            }
            sluice_test_support::eventually(WITHIN, "100 streams reach the relay", || {
                let n = h.state.monitor.ledger().counts().in_flight_total();
                async move { n == 100 }
            })
            .await;
            // They hold no in-flight slot: a real client on its own connection is served.
            assert_eq!(h.state.overload.snapshot().in_flight, 0);
            assert_eq!(h.post("/v1/chat/completions", &ask()).await.status(), 200);
            // And on the same connection too.
            let (status, _) = h2_post(client.clone(), &ask()).await;
            assert_eq!(status, 200);
            assert_eq!(
                client.current_max_send_streams(),
                120,
                "the advertised stream cap"
            );
            // Each stalled stream then meets the body deadline.
            let statuses = join_all(held.into_iter().map(|(resp, send)| async move {
                let status = resp.await.map(|r| r.status().as_u16());
                drop(send);
                status
            }))
            .await;
            assert!(
                statuses.iter().all(|s| matches!(s, Ok(408))),
                "{statuses:?}"
            );
        };
        tokio::select! {
            ended = conn => panic!("the HTTP/2 connection ended: {ended:?}"),
            () = open => {}
        }
        drop(client);
        assert_eq!(timeouts(&h, "client_body"), 100);
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}

#[test]
fn a_content_length_over_the_limit_gets_413_and_never_100_continue() {
    leak::run(|| async {
        let (h, base) = warm(|_| {}).await;
        let mut tcp = TcpStream::connect(h.addr()).await.unwrap();
        let head = chat_head(&h, 10_737_418_240, "expect: 100-continue\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let answer = response(&mut tcp).await.expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(!answer.contains("100 Continue"), "{answer}");
        assert!(
            answer.contains("\"code\":\"request_too_large\""),
            "{answer}"
        );
        // HTTP/2 as well: refused from its content-length, before any DATA.
        let tcp2 = TcpStream::connect(h.addr()).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp2).await.unwrap();
        let ask_big = async {
            let mut c = client.clone().ready().await.unwrap();
            let mut req = h2_chat("application/json");
            req.headers_mut()
                .insert("content-length", "10737418240".parse().unwrap());
            let (resp, _send) = c.send_request(req, false).unwrap();
            resp.await.unwrap().status().as_u16()
        };
        let status = tokio::select! {
            ended = conn => panic!("the HTTP/2 connection ended: {ended:?}"),
            s = ask_big => s,
        };
        assert_eq!(status, 413);
        drop((tcp, client));
        base.assert_returns(&h, SETTLE).await;
        h.shutdown().await;
    });
}
