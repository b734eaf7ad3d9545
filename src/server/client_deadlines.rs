//! The header and idle deadlines of one client connection (design.md rule 2, client side).
//!
//! Owns: what the connection is doing, as far as deadlines care ([`Activity`]: requests in
//! flight, when the last one ended, when the next one's first byte came), and the deadline that
//! follows from it ([`Activity::expired`]):
//! - the first request's headers must be in within `timeouts.client_header` of the accept (so a
//!   connection that sends nothing, or sends its headers a byte at a time, is closed, in either
//!   protocol, before hyper has even told HTTP/1 from HTTP/2);
//! - with no request in flight, an HTTP/1.1 connection is closed `timeouts.client_idle` after its
//!   last response ended, or `client_header` after the next request's first byte if that comes
//!   first and its headers do not; an HTTP/2 connection with no open stream, `client_idle` after
//!   its last stream ended (PINGs and other frames do not keep it open);
//! - while a request is in flight, neither applies (its body, write and upstream deadlines do).
//!
//! hyper's own HTTP/1 `header_read_timeout` is not used: it starts only once the protocol is
//! known, and on a keep-alive connection it starts when the connection goes idle, so it would
//! also be the idle deadline.
//! Must never: close a connection with a request in flight, or let a connection with none live
//! past its deadline.

use crate::monitor::TimeoutKind;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

const NONE: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
pub(super) struct Deadlines {
    pub header: Duration,
    pub idle: Duration,
}

/// Which deadline closed a connection (the ledger's timeout kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expired {
    Header,
    Idle,
}

impl Expired {
    pub(super) fn kind(self) -> TimeoutKind {
        match self {
            Self::Header => TimeoutKind::ClientHeader,
            Self::Idle => TimeoutKind::ClientIdle,
        }
    }
}

/// One connection's activity, shared by its IO (bytes read), its service (requests begun and
/// ended) and its watchdog ([`Activity::expired`]).
pub(super) struct Activity {
    epoch: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    h2: AtomicBool,
    /// Milliseconds after `epoch` when the last request ended.
    idle_since: AtomicU64,
    /// Milliseconds after `epoch` of the first byte read since then (`NONE`: none yet).
    head_started: AtomicU64,
    /// Wakes the watchdog: the last request in flight ended, or a new one's first byte came.
    changed: Notify,
}

/// One request in flight on the connection, until dropped (with its response body).
#[must_use = "the request counts as in flight only while this is held"]
pub(super) struct Busy(Arc<Activity>);

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            changed: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// A request's headers are in; it is in flight until the returned guard drops.
    pub(super) fn begin(self: &Arc<Self>, http2: bool) -> Busy {
        if http2 {
            self.h2.store(true, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    /// Bytes came from the client: between requests, that starts the next one's header clock.
    fn read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == NONE
        {
            let started = self.head_started.compare_exchange(
                NONE,
                self.now_ms(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if started.is_ok() {
                // The watchdog may be asleep until the (later) idle deadline.
                self.changed.notify_one();
            }
        }
    }

    /// The deadline in force while no request is in flight, and which one it is.
    fn deadline(&self, d: Deadlines) -> (Instant, Expired) {
        if self.requests.load(Ordering::Relaxed) == 0 {
            return (self.epoch + d.header, Expired::Header);
        }
        let idle = (
            self.at(self.idle_since.load(Ordering::Acquire)) + d.idle,
            Expired::Idle,
        );
        if self.h2.load(Ordering::Relaxed) {
            return idle;
        }
        match self.head_started.load(Ordering::Relaxed) {
            NONE => idle,
            first_byte => {
                let header = self.at(first_byte) + d.header;
                if header < idle.0 {
                    (header, Expired::Header)
                } else {
                    idle
                }
            }
        }
    }

    /// Resolves when the connection has been without a request in flight past its deadline.
    pub(super) async fn expired(&self, d: Deadlines) -> Expired {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // Woken when the last request in flight ends (a permit is kept if it already did).
                self.changed.notified().await;
                continue;
            }
            let (at, which) = self.deadline(d);
            if Instant::now() >= at {
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return which;
                }
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now_ms(), Ordering::Release);
        a.head_started.store(NONE, Ordering::Relaxed);
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.changed.notify_one();
        }
    }
}

/// The connection's IO, telling its [`Activity`] when bytes arrive.
pub(super) struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub(super) fn new(io: T, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, b)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
