//! One client connection, from accept to close.
//!
//! Owns: the connection's IO stack (the write deadline: a client that stops reading for
//! `timeouts.stream_idle` loses its connection), serving it with hyper (HTTP/1.1 or HTTP/2),
//! and closing it gracefully when its listener drains.
//! Must never: outlive its task, or keep serving once its listener drained and its requests
//! are done.

use super::write_deadline::WriteDeadline;
use crate::state::AppState;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Serves `tcp` until it closes; asks it to finish gracefully once `stop` is cancelled.
pub fn serve(
    tcp: TcpStream,
    router: Router,
    builder: &auto::Builder<TokioExecutor>,
    state: &AppState,
    stop: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let io = WriteDeadline::new(tcp, state.config.timeouts.stream_idle);
    let service = TowerToHyperService::new(router);
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    async move {
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
        }
        let _ = conn.await;
    }
}
