//! One client connection, from accept to close.
//!
//! Owns: the connection's IO stack (the write deadline: a client that stops reading for
//! `timeouts.stream_idle` loses its connection; and the [`Activity`] watch behind the header and
//! idle deadlines), serving it with hyper (HTTP/1.1 or HTTP/2), counting each request in flight
//! on it until its response body ends, closing it when a deadline passes (the ledger counts
//! which), and closing it gracefully when its listener drains.
//! Must never: outlive its task, keep serving once its listener drained and its requests are
//! done, or outlive its deadlines.

use super::client_deadlines::{Activity, Deadlines, Expired, Watched};
use super::held;
use super::write_deadline::WriteDeadline;
use crate::state::AppState;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long an idle connection may take to close politely (an HTTP/2 GOAWAY) once its idle
/// deadline passed.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The address of the client a request came from (a request extension): for a store token's
/// address rules only, never for trust (behind a same-host proxy every client is loopback).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub SocketAddr);

/// Serves `tcp` until it closes or a deadline passes; asks it to finish gracefully once `stop`
/// is cancelled.
pub(super) fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: &auto::Builder<TokioExecutor>,
    state: &AppState,
    stop: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let t = &state.config.timeouts;
    let deadlines = Deadlines {
        header: t.client_header,
        idle: t.client_idle,
    };
    let ledger = state.monitor.ledger().clone();
    let activity = Activity::new();
    let io = Watched::new(WriteDeadline::new(tcp, t.stream_idle), activity.clone());
    let counted = activity.clone();
    let service = tower::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        let busy = counted.begin(req.version() == http::Version::HTTP_2);
        let answer = router.clone().oneshot(req);
        async move {
            let Ok(resp) = answer.await;
            Ok::<_, Infallible>(held::until_sent(resp, busy))
        }
    });
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
        .into_owned();
    async move {
        tokio::pin!(conn);
        let expired = activity.expired(deadlines);
        tokio::pin!(expired);
        let mut stopping = false;
        let why = loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                () = stop.cancelled(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
                why = &mut expired => break why,
            }
        };
        ledger.timeout(why.kind());
        tracing::debug!(
            deadline = why.kind().as_str(),
            "client connection closed by its deadline"
        );
        match why {
            // Headers that never completed: nothing to say, just close.
            Expired::Header => {}
            Expired::Idle => {
                if !stopping {
                    conn.as_mut().graceful_shutdown();
                }
                let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
            }
        }
    }
}
