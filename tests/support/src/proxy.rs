//! A same-host reverse proxy in miniature: a loopback TCP forwarder in front of the relay, so
//! every request reaches the relay from 127.0.0.1, as it does behind nginx on the same host.
//!
//! Owns: the forwarder's listener and one task per forwarded connection, all ended by
//! [`Proxy::shutdown`] (or by dropping it).
//! Must never: talk to anything but loopback, or outlive its owner.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A running forwarder: connections to [`Proxy::addr`] are piped, byte for byte, to the target.
pub struct Proxy {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinSet<()>,
}

impl Proxy {
    /// Forwards every connection to `target` until shut down.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address");
        let stop = CancellationToken::new();
        let mut task = JoinSet::new();
        task.spawn(forward(listener, target, stop.clone()));
        Self { addr, stop, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<proxy>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting and closes every forwarded connection (both sides); returns once they
    /// are gone, so a leak check after it sees only the relay.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.task.join_next().await.is_some() {}
    }
}

async fn forward(listener: TcpListener, target: SocketAddr, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((mut client, _)) = accepted else { continue };
                conns.spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}
