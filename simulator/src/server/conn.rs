//! One connection: hyper (HTTP/1.1 or h2c) over the shared socket, plus the socket-level
//! actions a handler can ask for (reset, blackhole, close). Owns the connection's lifetime
//! and its open-connection guard; must never outlive the server's cancel token.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::exec::ConnExecutor;
use super::io::SharedStream;
use crate::stats::ConnGuard;

/// What a handler asks the connection to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnAction {
    /// Keep serving HTTP.
    Serve,
    /// Send a TCP RST (SO_LINGER 0, then close).
    Reset,
    /// Stop reading and answering; keep the socket until the client leaves.
    Blackhole,
    /// Close the socket without answering.
    Close,
    /// Stop reading (what the client sends stays unread in the socket buffers) and answering;
    /// keep the socket until the client leaves (its FIN or RST, noticed without reading).
    Freeze,
}

/// A handle in each request's extensions through which a handler steers its connection.
#[derive(Clone)]
pub(crate) struct ConnControl(Arc<watch::Sender<ConnAction>>);

impl ConnControl {
    pub(crate) fn request(&self, action: ConnAction) {
        self.0.send_replace(action);
    }
}

async fn next_action(rx: &mut watch::Receiver<ConnAction>) -> ConnAction {
    loop {
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
        let action = *rx.borrow_and_update();
        if action != ConnAction::Serve {
            return action;
        }
    }
}

/// Serves one accepted socket until the client leaves, a handler acts, or `cancel` fires.
pub(crate) async fn serve(
    stream: TcpStream,
    guard: ConnGuard,
    app: Router,
    cancel: CancellationToken,
) {
    let _guard = guard;
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    let (tx, mut rx) = watch::channel(ConnAction::Serve);
    let control = ConnControl(Arc::new(tx));
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(control.clone());
        app.clone().oneshot(req)
    });
    let action = {
        let builder = auto::Builder::new(ConnExecutor::default());
        let conn = builder.serve_connection(TokioIo::new(SharedStream(stream.clone())), svc);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => ConnAction::Close,
            () = cancel.cancelled() => ConnAction::Close,
            action = next_action(&mut rx) => action,
        }
    };
    match action {
        ConnAction::Reset => {
            let _ = socket2::SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
        }
        ConnAction::Blackhole => hold(&stream, &cancel).await,
        ConnAction::Freeze => freeze(&stream, &cancel).await,
        ConnAction::Serve | ConnAction::Close => {}
    }
}

/// Keeps a socket open, unread, until the peer's FIN or RST arrives or the server stops. (A
/// peer that closes while its unsent data waits on a full window is noticed only when its
/// kernel gives up on that data.)
async fn freeze(stream: &TcpStream, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            ready = stream.ready(tokio::io::Interest::READABLE) => {
                match ready {
                    Ok(r) if r.is_read_closed() || r.is_write_closed() => return,
                    Ok(_) => {
                        // Clear the readiness without reading, to wait for the next event.
                        let _ = stream.try_io(tokio::io::Interest::READABLE, || {
                            Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                        });
                    }
                    Err(_) => return,
                }
            }
        }
    }
}

/// Keeps a silent socket open until the peer closes it or the server stops.
async fn hold(stream: &TcpStream, cancel: &CancellationToken) {
    let mut scratch = [0u8; 4096];
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            ready = stream.readable() => {
                if ready.is_err() {
                    return;
                }
                match stream.try_read(&mut scratch) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }
}
