//! The deadline policy on a paused clock: each case says which deadline closes the connection,
//! and when (virtual time, so exact).

use super::*;

const D: Deadlines = Deadlines {
    header: Duration::from_secs(60),
    idle: Duration::from_secs(75),
};

/// Waits for the deadline; returns which one fired and how long after `from` it did.
async fn expiry(a: &Activity, from: Instant) -> (Expired, Duration) {
    let which = a.expired(D).await;
    (which, Instant::now() - from)
}

#[tokio::test(start_paused = true)]
async fn a_first_request_must_arrive_within_the_header_deadline() {
    let a = Activity::new();
    let t0 = Instant::now();
    a.read(); // some bytes, never a whole head
    assert_eq!(expiry(&a, t0).await, (Expired::Header, D.header));
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_gets_the_idle_deadline_from_its_last_response() {
    let a = Activity::new();
    let busy = a.begin(false);
    tokio::time::sleep(Duration::from_secs(500)).await; // a long request: no deadline here
    drop(busy);
    let ended = Instant::now();
    assert_eq!(expiry(&a, ended).await, (Expired::Idle, D.idle));
}

#[tokio::test(start_paused = true)]
async fn the_next_requests_first_byte_starts_its_header_deadline() {
    let a = Activity::new();
    drop(a.begin(false));
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    a.read();
    // 10 s idle, then headers that never complete: closed 60 s after their first byte.
    assert_eq!(
        expiry(&a, ended).await,
        (Expired::Header, Duration::from_secs(70))
    );
    // A first byte late in the idle period does not extend it past the idle deadline.
    let b = Activity::new();
    drop(b.begin(false));
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(70)).await;
    b.read();
    assert_eq!(expiry(&b, ended).await, (Expired::Idle, D.idle));
}

#[tokio::test(start_paused = true)]
async fn a_first_byte_while_the_watchdog_waits_for_the_idle_deadline_brings_it_forward() {
    let a = Activity::new();
    drop(a.begin(false));
    let ended = Instant::now();
    let watch = a.expired(D);
    tokio::pin!(watch);
    assert!(tokio::time::timeout(Duration::from_secs(5), &mut watch)
        .await
        .is_err());
    a.read();
    assert_eq!(watch.await, Expired::Header);
    assert_eq!(Instant::now() - ended, Duration::from_secs(65));
}

#[tokio::test(start_paused = true)]
async fn http2_frames_between_streams_do_not_keep_it_open() {
    let a = Activity::new();
    drop(a.begin(true));
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.read(); // a PING or SETTINGS frame: not a request's head
    assert_eq!(expiry(&a, ended).await, (Expired::Idle, D.idle));
}

#[tokio::test(start_paused = true)]
async fn nothing_expires_while_a_request_is_in_flight() {
    let a = Activity::new();
    let first = a.begin(true);
    let second = a.begin(true);
    let watch = a.expired(D);
    tokio::pin!(watch);
    // Far past both deadlines with streams open: still waiting.
    let waited = tokio::time::timeout(Duration::from_secs(3600), &mut watch).await;
    assert!(waited.is_err());
    drop(first);
    let waited = tokio::time::timeout(Duration::from_secs(3600), &mut watch).await;
    assert!(waited.is_err(), "one stream is still open");
    drop(second);
    let ended = Instant::now();
    assert_eq!(watch.await, Expired::Idle);
    assert_eq!(Instant::now() - ended, D.idle);
}

#[tokio::test(start_paused = true)]
async fn bytes_read_are_reported_by_the_io() {
    let a = Activity::new();
    drop(a.begin(false));
    let (client, server) = tokio::io::duplex(64);
    let mut watched = Watched::new(server, Arc::clone(&a));
    let mut client = client;
    tokio::io::AsyncWriteExt::write_all(&mut client, b"G")
        .await
        .unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::io::AsyncReadExt::read(&mut watched, &mut buf)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_ne!(a.head_started.load(Ordering::Relaxed), NONE);
}
