//! The streaming response body: owns the upstream stream for exactly as long as the client
//! reads.
//!
//! Owns: the idle and total deadlines of a stream, keep-alive comments while the upstream is
//! silent, the in-stream error event, the request's access record, and the channel's lease: how
//! the stream ended is the channel's outcome (success, or the fault's verdict).
//! Must never: keep reading upstream for a client that left (dropping this drops the upstream
//! connection, and the lease unreported: a client leaving is not the channel's fault), or buffer
//! more than the events of one upstream chunk.

use super::sse::{SseEvent, SseParser, KEEPALIVE};
use super::transform::Transform;
use crate::error::RelayError;
use crate::monitor::Guard;
use crate::relay::Record;
use crate::routing::{classify, Lease, Verdict};
use crate::upstream::{error_chain, Deadline, UpstreamError};
use crate::wire::WireFormat;
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub(crate) struct RelayStream {
    upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
    parser: SseParser,
    transform: Box<dyn Transform>,
    format: WireFormat,
    pending: VecDeque<Bytes>,
    scratch: Vec<SseEvent>,
    out: Vec<Bytes>,
    idle: Pin<Box<Sleep>>,
    idle_every: Duration,
    keepalive: Pin<Box<Sleep>>,
    keepalive_every: Duration,
    total: Pin<Box<Sleep>>,
    record: Record,
    _open: Guard,
    lease: Option<Lease>,
    done: bool,
}

/// What a stream holds for its request until it ends: the access record, the open-stream
/// count, and the channel's lease (`None` where no channel is involved, as in unit tests).
pub(crate) struct Held {
    pub record: Record,
    pub open: Guard,
    pub lease: Option<Lease>,
}

pub(crate) struct StreamLimits {
    pub idle: Duration,
    pub keepalive: Duration,
    pub total: Instant,
    pub max_event: usize,
}

impl RelayStream {
    pub(crate) fn new(
        upstream: BoxStream<'static, Result<Bytes, hyper::Error>>,
        transform: Box<dyn Transform>,
        format: WireFormat,
        limits: StreamLimits,
        held: Held,
    ) -> Self {
        #[cfg(feature = "canary")]
        let upstream = crate::canary::held_upstream(upstream);
        let now = Instant::now();
        Self {
            upstream,
            parser: SseParser::new(limits.max_event),
            transform,
            format,
            pending: VecDeque::new(),
            scratch: Vec::new(),
            out: Vec::new(),
            idle: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            idle_every: limits.idle,
            keepalive: Box::pin(tokio::time::sleep_until(now + limits.keepalive)),
            keepalive_every: limits.keepalive,
            total: Box::pin(tokio::time::sleep_until(limits.total)),
            record: held.record,
            _open: held.open,
            lease: held.lease,
            done: false,
        }
    }

    fn on_chunk(&mut self, chunk: &[u8]) {
        let now = Instant::now();
        self.idle.as_mut().reset(now + self.idle_every);
        self.keepalive.as_mut().reset(now + self.keepalive_every);
        self.record.first_token();
        if let Err(e) = self.parser.push(chunk, &mut self.scratch) {
            return self.fail(UpstreamError::Invalid(e.to_string()).into());
        }
        self.transform_events();
    }

    fn transform_events(&mut self) {
        let events = std::mem::take(&mut self.scratch);
        for ev in &events {
            if let Err(e) = self.transform.on_event(ev, &mut self.out) {
                self.scratch = events;
                self.scratch.clear();
                return self.fail(e.into());
            }
        }
        self.scratch = events;
        self.scratch.clear();
        self.record.streamed += self.out.len() as u64;
        self.pending.extend(self.out.drain(..));
    }

    fn on_end(&mut self) {
        self.parser.finish(&mut self.scratch);
        self.transform_events();
        if self.done {
            return;
        }
        match self.transform.on_end(&mut self.out) {
            Ok(()) => {
                self.pending.extend(self.out.drain(..));
                self.record.usage = self.transform.usage();
                self.record.media = self.transform.media().or(self.record.media);
                if self.transform.upstream_failed() {
                    self.record.finish_upstream_error();
                } else {
                    self.record.finish_ok();
                }
                self.report(None);
                self.close();
            }
            Err(e) => self.fail(e.into()),
        }
    }

    /// Ends the stream with an error event in the client's format.
    fn fail(&mut self, err: RelayError) {
        self.pending.push_back(err.stream_event(self.format));
        self.record.usage = self.transform.usage();
        self.record.media = self.transform.media().or(self.record.media);
        self.record.fail(&err);
        self.report(Some(&err));
        self.close();
    }

    /// Tells the channel how its stream ended (once): a clean end is a success unless the
    /// upstream ended it with its own error event; a failure counts with its verdict, except the
    /// relay's own total deadline, which either side may have caused (the lease goes
    /// unreported, as when the client leaves).
    fn report(&mut self, err: Option<&RelayError>) {
        let Some(mut lease) = self.lease.take() else {
            return;
        };
        let now = Instant::now();
        let fault = Verdict::Fault {
            retry: false,
            cool: None,
        };
        match err {
            None if self.transform.upstream_failed() => lease.failed(fault, now),
            None => lease.succeeded(now),
            Some(RelayError::Upstream(UpstreamError::Timeout(Deadline::Total))) => {}
            Some(RelayError::Upstream(e)) => lease.failed(classify(e), now),
            Some(_) => lease.failed(fault, now),
        }
    }

    /// Releases the upstream at once: its connection is dropped, not drained.
    fn close(&mut self) {
        self.done = true;
        self.upstream = futures_util::stream::empty().boxed();
    }
}

impl Stream for RelayStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(b) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(b)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.total.as_mut().poll(cx).is_ready() {
                this.fail(Deadline::Total.into());
                continue;
            }
            match this.upstream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.on_chunk(&chunk);
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    this.fail(UpstreamError::Read(error_chain(&e)).into());
                    continue;
                }
                Poll::Ready(None) => {
                    this.on_end();
                    continue;
                }
                Poll::Pending => {}
            }
            if this.idle.as_mut().poll(cx).is_ready() {
                this.fail(Deadline::StreamIdle.into());
                continue;
            }
            if this.keepalive.as_mut().poll(cx).is_ready() {
                let next = Instant::now() + this.keepalive_every;
                this.keepalive.as_mut().reset(next);
                return Poll::Ready(Some(Ok(Bytes::from_static(KEEPALIVE))));
            }
            return Poll::Pending;
        }
    }
}

#[cfg(test)]
mod tests;
