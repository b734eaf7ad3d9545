//! Planted leaks, so that the leak suite is shown to fail when something leaks (`.ci/canary`).
//!
//! Owns: the leaks named in `SLUICE_CANARY` (comma-separated), each planted by a one-line hook
//! in the relay that exists only with the `canary` feature:
//! - `detached-task`: every request spawns a task that never ends (the hook in
//!   `server::handlers`); seen as live tasks.
//! - `held-upstream`: every response stream's upstream body is kept in a static list when the
//!   stream ends (the hook in `stream::body`), so an upstream connection abandoned mid-body stays
//!   open, counted and read by hyper, forever; seen as upstream connections.
//! - `held-inbound`: a duplicate of every accepted socket's fd is kept (the hook in
//!   `server::run`), so a connection the client closed is never closed here; seen as CLOSE_WAIT
//!   sockets and fds.
//!
//! Must never: be compiled into a release build (see the `compile_error!` in `lib.rs`), or plant
//! anything that `SLUICE_CANARY` does not name.

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

/// Whether `SLUICE_CANARY` names `leak`.
fn armed(leak: &str) -> bool {
    static NAMED: OnceLock<Vec<String>> = OnceLock::new();
    NAMED
        .get_or_init(|| {
            let named: Vec<String> = std::env::var("SLUICE_CANARY")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if !named.is_empty() {
                tracing::warn!(?named, "canary: planting leaks on purpose");
            }
            named
        })
        .iter()
        .any(|n| n == leak)
}

/// `detached-task`: a task per request that nobody owns and that never ends.
pub(crate) fn detached_task() {
    if armed("detached-task") {
        #[expect(
            clippy::disallowed_methods,
            reason = "the canary plants exactly the detached task that rule 1 forbids"
        )]
        drop(tokio::spawn(std::future::pending::<()>()));
    }
}

type Upstream = BoxStream<'static, Result<Bytes, hyper::Error>>;

static HELD_UPSTREAM: Mutex<Vec<Upstream>> = Mutex::new(Vec::new());

/// `held-upstream`: the stream's upstream body goes to a static list instead of being dropped.
pub(crate) fn held_upstream(upstream: Upstream) -> Upstream {
    if armed("held-upstream") {
        Held(Some(upstream)).boxed()
    } else {
        upstream
    }
}

struct Held(Option<Upstream>);

impl Stream for Held {
    type Item = Result<Bytes, hyper::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.as_mut() {
            Some(s) => s.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            HELD_UPSTREAM
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(s);
        }
    }
}

static HELD_INBOUND: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// `held-inbound`: a duplicate of the accepted socket, never closed.
pub(crate) fn held_inbound(tcp: &impl AsFd) {
    if armed("held-inbound") {
        if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
            HELD_INBOUND
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(fd);
        }
    }
}
