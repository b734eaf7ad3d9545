//! The stream body's clocks on a paused runtime: keep-alives while the upstream is silent, the
//! idle and total deadlines, and the end of a stream, polled step by step (tokio-test).

use super::*;
use crate::monitor::Ledger;
use crate::wire::Endpoint;
use futures_util::stream;
use std::sync::Arc;
use tokio_test::{assert_pending, assert_ready, task};

fn limits(idle: u64, keepalive: u64, total: u64) -> StreamLimits {
    StreamLimits {
        idle: Duration::from_secs(idle),
        keepalive: Duration::from_secs(keepalive),
        total: Instant::now() + Duration::from_secs(total),
        max_event: 1 << 20,
    }
}

fn body(
    upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
    limits: StreamLimits,
    ledger: &Arc<Ledger>,
) -> RelayStream {
    let held = crate::stream::testing::held(Endpoint::Chat, ledger);
    RelayStream::new(
        upstream,
        crate::providers::provider_for(crate::config::ProviderKind::Openai)
            .pass_stream(crate::providers::PassOptions::default()),
        WireFormat::OpenAi,
        limits,
        held,
    )
}

fn text(item: Option<Result<Bytes, Infallible>>) -> String {
    match item {
        Some(Ok(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected bytes, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_upstream_gets_keepalives_then_the_idle_deadline() {
    let ledger = Ledger::new(&[]);
    let mut s = task::spawn(body(stream::pending().boxed(), limits(3, 1, 60), &ledger));
    assert_pending!(s.poll_next());
    tokio::time::advance(Duration::from_millis(1001)).await;
    assert_eq!(text(assert_ready!(s.poll_next())), ": keep-alive\n\n");
    assert_pending!(s.poll_next());
    tokio::time::advance(Duration::from_millis(1000)).await;
    assert_eq!(text(assert_ready!(s.poll_next())), ": keep-alive\n\n");
    tokio::time::advance(Duration::from_millis(1000)).await;
    let last = text(assert_ready!(s.poll_next()));
    assert!(
        last.starts_with("data: {\"error\"") && last.contains("stream_idle"),
        "{last}"
    );
    assert!(
        assert_ready!(s.poll_next()).is_none(),
        "the stream ends after its error event"
    );
    assert_eq!(ledger.counts().open_streams, 1, "counted until dropped");
    drop(s);
    assert_eq!(ledger.counts().open_streams, 0);
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_ends_a_stream_that_keeps_talking() {
    let ledger = Ledger::new(&[]);
    // One event every 500 ms for ever: never idle, but the total deadline is 2 s.
    let ticks = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((Ok(Bytes::from_static(b"data: {\"choices\":[]}\n\n")), ()))
    });
    let mut s = task::spawn(body(ticks.boxed(), limits(60, 60, 2), &ledger));
    let mut events = 0;
    let last = loop {
        match s.poll_next() {
            std::task::Poll::Ready(item) => {
                let t = text(item);
                if t.contains("\"error\"") {
                    break t;
                }
                events += 1;
            }
            std::task::Poll::Pending => tokio::time::advance(Duration::from_millis(100)).await,
        }
    };
    assert!(last.contains("total"), "{last}");
    assert!(
        (3..=4).contains(&events),
        "{events} events in 2 s at one per 500 ms"
    );
    assert!(assert_ready!(s.poll_next()).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_clean_upstream_end_passes_every_event_and_closes() {
    let ledger = Ledger::new(&[]);
    let chunks: Vec<Result<Bytes, hyper::Error>> = vec![
        Ok(Bytes::from_static(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\nda",
        )),
        Ok(Bytes::from_static(b"ta: [DONE]\n\n")),
    ];
    let mut s = task::spawn(body(
        stream::iter(chunks).boxed(),
        limits(60, 1, 60),
        &ledger,
    ));
    assert!(text(assert_ready!(s.poll_next())).contains("\"hi\""));
    assert_eq!(text(assert_ready!(s.poll_next())), "data: [DONE]\n\n");
    assert!(assert_ready!(s.poll_next()).is_none());
}

#[tokio::test(start_paused = true)]
async fn an_upstream_that_ends_without_its_terminator_gets_an_error_event() {
    let ledger = Ledger::new(&[]);
    let chunks: Vec<Result<Bytes, hyper::Error>> =
        vec![Ok(Bytes::from_static(b"data: {\"choices\":[]}\n\n"))];
    let mut s = task::spawn(body(
        stream::iter(chunks).boxed(),
        limits(60, 1, 60),
        &ledger,
    ));
    assert!(text(assert_ready!(s.poll_next())).contains("choices"));
    let last = text(assert_ready!(s.poll_next()));
    assert!(last.contains("before its terminator"), "{last}");
    assert!(assert_ready!(s.poll_next()).is_none());
}
