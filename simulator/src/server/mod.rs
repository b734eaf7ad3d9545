//! The accept loop: one task per TCP connection, all owned by one JoinSet.
//! Owns the listener and the connection tasks' lifetimes; must never answer requests itself.

mod conn;
mod exec;
mod io;

pub(crate) use conn::{ConnAction, ConnControl};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::stats::{ConnGuard, StatsRecorder};

/// Accepts until `cancel` fires, then closes every connection and joins every task.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    stats: Arc<StatsRecorder>,
    cancel: CancellationToken,
) {
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let guard = ConnGuard::new(stats.clone());
                    conns.spawn(conn::serve(stream, guard, app.clone(), cancel.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}
