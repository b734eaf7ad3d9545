//! Accepting connections and shutting down: the relay's own accept loop.
//!
//! Owns: the listener; one task per inbound connection, held in a `JoinSet` (so none can be
//! forgotten) and counted in the ledger; the inbound connection cap; TCP_NODELAY; the peer
//! address for each request; a deadline on writes to a client that stopped reading
//! (`timeouts.stream_idle`); the relay's background work (the monitor's sampler, polled here
//! rather than spawned); and graceful shutdown: stop accepting, let in-flight requests finish
//! within the grace period, then cancel what is left.
//! Must never: leave a connection task or background job running after `serve` returns.

use super::app;
use super::write_deadline::WriteDeadline;
use crate::state::AppState;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tower::ServiceBuilder;

/// Serves until `shutdown` resolves, then drains within the configured grace period.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let grace = state.config.shutdown_grace;
    let write_limit = state.config.timeouts.stream_idle;
    let ledger = state.monitor.ledger().clone();
    let sampler = crate::monitor::sampler::run(state.monitor.clone(), CancellationToken::new());
    let router = app(state.clone());
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    tokio::pin!(sampler);
    let mut sampler_running = true;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over `overload.max_connections`: closed at once, before any byte is read
                // (cheapest for the relay; clients see a reset and retry elsewhere).
                let Some(permit) = state.overload.admit_connection() else {
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                #[cfg(feature = "canary")]
                crate::canary::held_inbound(&tcp);
                let counted = ledger.inbound_connection();
                let service = TowerToHyperService::new(
                    ServiceBuilder::new()
                        .map_request(move |mut req: http::Request<Incoming>| {
                            req.extensions_mut().insert(ConnectInfo(peer));
                            req
                        })
                        .service(router.clone()),
                );
                let tcp = WriteDeadline::new(tcp, write_limit);
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                conns.spawn(async move {
                    let _counted = counted;
                    let _ = conn.await;
                    drop(permit);
                });
            }
            () = &mut sampler, if sampler_running => sampler_running = false,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        connections = conns.len(),
        ?grace,
        "shutting down: draining in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            left = conns.len(),
            "grace period over: cancelling in-flight requests"
        );
    }
    conns.shutdown().await;
    Ok(())
}

/// A relay serving in the background of the current runtime: for tests, benches and the demo.
/// Dropping it aborts the server; `shutdown` drains it first.
pub struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: AbortOnDropHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(
        state: Arc<AppState>,
        listen: SocketAddr,
    ) -> Result<Self, crate::state::StartError> {
        let listener =
            TcpListener::bind(listen)
                .await
                .map_err(|source| crate::state::StartError::Listen {
                    addr: listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| crate::state::StartError::Listen {
                addr: listen,
                source,
            })?;
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        #[expect(
            clippy::disallowed_methods,
            reason = "the server's own task: owned by Server, aborted on drop, joined by shutdown"
        )]
        let task = tokio::spawn(serve(state, listener, signal));
        Ok(Self {
            addr,
            stop,
            task: AbortOnDropHandle::new(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drains within the grace period, and waits until nothing is left.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
