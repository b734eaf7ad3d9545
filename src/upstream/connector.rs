//! The upstream connector: TCP (with deadline and TCP_NODELAY) whose every connection is counted
//! for as long as it is open.
//!
//! Owns: counting upstream connections in the ledger. A connection's count is held by a guard inside its
//! I/O object, so it falls exactly when hyper drops the connection, pooled or not.
//! Must never: let a connection exist uncounted.

use crate::monitor::{Guard, Ledger};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// Wraps the HTTP connector; each connection it makes carries a gauge guard.
#[derive(Clone)]
pub(super) struct CountingConnector {
    inner: HttpConnector,
    ledger: Arc<Ledger>,
}

impl CountingConnector {
    pub(super) fn new(inner: HttpConnector, ledger: Arc<Ledger>) -> Self {
        Self { inner, ledger }
    }
}

impl Service<Uri> for CountingConnector {
    type Response = Counted<<HttpConnector as Service<Uri>>::Response>;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let ledger = self.ledger.clone();
        Box::pin(async move {
            let io = connecting.await?;
            Ok(Counted {
                io,
                _guard: ledger.upstream_connection(),
            })
        })
    }
}

/// A connection's I/O with its gauge guard.
#[derive(Debug)]
pub(super) struct Counted<T> {
    io: T,
    _guard: Guard,
}

impl<T: Connection> Connection for Counted<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: Read + Unpin> Read for Counted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Counted<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
