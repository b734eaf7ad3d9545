//! A binary (or plain text) answer streamed through as it arrives: speech audio, a
//! transcription's `text`/`srt`/`vtt`.
//!
//! Owns: the upstream body for exactly as long as the client reads, its idle and total
//! deadlines, and what it holds for its request ([`Held`]): the access record (finished when
//! the body ends, failed when it is cut) and the channel's lease (an end read whole is the
//! channel's success, a cut or a stall its failure).
//! Must never: buffer more than the chunk in hand, or keep reading upstream for a client that
//! left (dropping this drops the upstream connection and the lease unreported).

use super::Held;
use crate::error::RelayError;
use crate::routing::classify;
use crate::upstream::{error_chain, Deadline, UpstreamError};
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub(crate) struct RawStream {
    upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
    idle: Pin<Box<Sleep>>,
    idle_every: Duration,
    total: Pin<Box<Sleep>>,
    held: Option<Held>,
}

/// Why a passed-through body ended before its end: the client's connection is cut (its
/// length or chunking says the answer is incomplete).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Cut(String);

impl RawStream {
    pub(crate) fn new(
        upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
        idle: Duration,
        total: Instant,
        held: Held,
    ) -> Self {
        #[cfg(feature = "canary")]
        let upstream = crate::canary::held_upstream(upstream);
        Self {
            upstream,
            idle: Box::pin(tokio::time::sleep_until(Instant::now() + idle)),
            idle_every: idle,
            total: Box::pin(tokio::time::sleep_until(total)),
            held: Some(held),
        }
    }

    fn finish(&mut self) {
        if let Some(mut held) = self.held.take() {
            held.record.finish_ok();
            if let Some(mut lease) = held.lease.take() {
                lease.succeeded(Instant::now());
            }
        }
        self.upstream = futures_util::stream::empty().boxed();
    }

    fn fail(&mut self, e: UpstreamError) -> Cut {
        let cut = Cut(e.to_string());
        if let Some(mut held) = self.held.take() {
            if let Some(mut lease) = held.lease.take() {
                // The relay's own total deadline may be either side's: left unreported.
                if !matches!(e, UpstreamError::Timeout(Deadline::Total)) {
                    lease.failed(classify(&e), Instant::now());
                }
            }
            held.record.fail(&RelayError::Upstream(e));
        }
        self.upstream = futures_util::stream::empty().boxed();
        cut
    }
}

impl Stream for RawStream {
    type Item = Result<Bytes, Cut>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.held.is_none() {
            return Poll::Ready(None);
        }
        if this.total.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(
                Err(this.fail(UpstreamError::Timeout(Deadline::Total))),
            ));
        }
        match this.upstream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.idle.as_mut().reset(Instant::now() + this.idle_every);
                if let Some(held) = &mut this.held {
                    held.record.first_token();
                    held.record.streamed += 1;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(this.fail(UpstreamError::Read(error_chain(&e))))))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(
                        this.fail(UpstreamError::Timeout(Deadline::StreamIdle))
                    )));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Ledger;
    use crate::stream::testing::{cut, held};
    use crate::wire::Endpoint;
    use proptest::prelude::*;

    /// The chunks the client gets for `body` arriving from upstream cut at `cuts`, and whether
    /// the open-stream count was released at the end.
    fn relay(body: &[u8], cuts: &[usize]) -> (Vec<Bytes>, Vec<Bytes>, bool) {
        let chunks = cut(body, cuts);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let ledger = Ledger::new(&[]);
            let held = held(Endpoint::Speech, &ledger);
            let upstream = futures_util::stream::iter(chunks.clone().into_iter().map(Ok)).boxed();
            let total = Instant::now() + Duration::from_secs(60);
            let raw = RawStream::new(upstream, Duration::from_secs(60), total, held);
            let out: Vec<Bytes> = raw.map(|b| b.unwrap()).collect().await;
            (chunks, out, ledger.counts().open_streams == 0)
        })
    }

    proptest! {
        #[test]
        fn any_chunking_passes_unchanged_chunk_for_chunk(
            body in proptest::collection::vec(any::<u8>(), 0..4096),
            cuts in proptest::collection::vec(any::<usize>(), 0..32),
        ) {
            let (sent, got, released) = relay(&body, &cuts);
            prop_assert_eq!(got.concat(), body, "the bytes unchanged");
            // Nothing held back or joined: each upstream chunk is passed on as it came.
            prop_assert_eq!(got, sent);
            prop_assert!(released, "the open-stream count released at the end");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_is_cut_at_the_idle_deadline() {
        let ledger = Ledger::new(&[]);
        let held = held(Endpoint::Speech, &ledger);
        let first = futures_util::stream::iter([Ok(Bytes::from_static(b"RIFF"))]);
        let upstream = first.chain(futures_util::stream::pending()).boxed();
        let total = Instant::now() + Duration::from_secs(60);
        let mut raw = RawStream::new(upstream, Duration::from_secs(2), total, held);
        assert_eq!(raw.next().await.unwrap().unwrap(), &b"RIFF"[..]);
        let cut = raw.next().await.unwrap();
        assert!(cut.is_err(), "a cut, not a clean end");
        assert!(raw.next().await.is_none());
        assert_eq!(ledger.counts().open_streams, 0);
    }
}
