//! Accepting connections and shutting down: the relay's own accept loop, for both listeners.
//!
//! Owns: the listeners (public, and admin when `admin_listen` is set); one task per inbound
//! connection, held in a `JoinSet` per listener (so none can be forgotten) and counted in the
//! ledger; the inbound connection caps; TCP_NODELAY; the HTTP settings of every connection
//! (HTTP/2 stream cap and PINGs); starting the monitor's sampler on the relay's supervisor before
//! the first accept; and graceful shutdown, in this order: mark the relay draining, stop
//! accepting on the public listener, let its in-flight requests finish within the grace period
//! while the admin listener still answers (health says `draining`), close the admin listener
//! and cancel what is left, then shut the supervisor down (every background job cancelled,
//! given the grace period again to flush, the rest aborted), then close the store's connections.
//! Must never: leave a connection task or background job running after `serve` returns.

use super::access::Listener;
use super::conn;
use super::{admin_app, app};
use crate::state::{AppState, StartError};
use crate::supervisor;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// How long admin connections may take to close once the public listener has drained.
const ADMIN_CLOSE: Duration = Duration::from_secs(1);

/// The bound sockets `serve` accepts on.
pub struct Listeners {
    public: TcpListener,
    admin: Option<TcpListener>,
}

impl Listeners {
    /// Binds the public listener and, if given, the admin one.
    pub async fn bind(public: SocketAddr, admin: Option<SocketAddr>) -> Result<Self, StartError> {
        let public = bind(public).await?;
        let admin = match admin {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        Ok(Self { public, admin })
    }

    /// Listeners bound elsewhere (the demo picks its admin port).
    pub fn from_parts(public: TcpListener, admin: Option<TcpListener>) -> Self {
        Self { public, admin }
    }

    pub fn public_addr(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Binds one listener, naming the address on failure.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// The connections of one listener: its router, its tasks, the signal that drains them.
struct Door {
    listener: Option<TcpListener>,
    kind: Listener,
    router: Router,
    conns: JoinSet<()>,
    stop: CancellationToken,
}

impl Door {
    fn new(listener: Option<TcpListener>, kind: Listener, router: Router) -> Self {
        Self {
            listener,
            kind,
            router,
            conns: JoinSet::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Stops accepting and asks every connection to finish what it is doing, then close.
    fn close(&mut self) {
        self.listener = None;
        self.stop.cancel();
    }

    async fn drained(&mut self) {
        while self.conns.join_next().await.is_some() {}
    }
}

/// Serves until `shutdown` resolves, then drains within the configured grace period and stops
/// the relay's background jobs. A state serves once: its supervisor refuses jobs after that.
pub async fn serve(
    state: Arc<AppState>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    if let Some(a) = listeners.admin_addr() {
        if !a.ip().is_loopback() && state.config.admin_token.is_none() {
            tracing::warn!(
                admin = %a,
                "the admin listener is not on a loopback address and admin_token is not set: \
                 whoever reaches it can switch channels off; set admin_token"
            );
        }
    }
    let grace = state.config.shutdown_grace;
    let builder = http_builder(&state);
    let monitor = state.monitor.clone();
    state.supervisor.spawn_critical("sampler", move |cancel| {
        crate::monitor::sampler::run(monitor.clone(), cancel)
    })?;
    if !state.credentials.is_empty() {
        let (credentials, upstream) = (state.credentials.clone(), state.upstream.clone());
        state
            .supervisor
            .spawn_critical(crate::providers::vertex::REFRESHER, move |cancel| {
                crate::providers::vertex::credentials::refresh(
                    credentials.clone(),
                    upstream.clone(),
                    cancel,
                )
            })?;
    }
    let mut public = Door::new(Some(listeners.public), Listener::Public, app(state.clone()));
    let mut admin = Door::new(listeners.admin, Listener::Admin, admin_app(state.clone()));
    tokio::pin!(shutdown);
    let mut drain_until: Option<Instant> = None;
    loop {
        let door = tokio::select! {
            accepted = accept(&public.listener) => accepted.map(|a| (a, &mut public)),
            accepted = accept(&admin.listener) => accepted.map(|a| (a, &mut admin)),
            Some(_) = public.conns.join_next(), if !public.conns.is_empty() => {
                if drain_until.is_some() && public.conns.is_empty() { break }
                continue
            }
            Some(_) = admin.conns.join_next(), if !admin.conns.is_empty() => continue,
            () = &mut shutdown, if drain_until.is_none() => {
                state.begin_drain();
                public.close();
                tracing::info!(
                    connections = public.conns.len(),
                    ?grace,
                    "shutting down: draining in-flight requests"
                );
                if public.conns.is_empty() { break }
                drain_until = Some(Instant::now() + grace);
                continue
            }
            () = sleep_until(drain_until) => {
                tracing::warn!(
                    left = public.conns.len(),
                    "grace period over: cancelling in-flight requests"
                );
                break
            }
        };
        match door {
            Ok(((tcp, peer), door)) => door.admit(tcp, peer, &state, &builder),
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    admin.close();
    let _ = tokio::time::timeout(ADMIN_CLOSE, admin.drained()).await;
    public.conns.shutdown().await;
    admin.conns.shutdown().await;
    state.supervisor.shutdown(grace).await;
    // The usage writer has flushed (to the database, else the spool): close the connections.
    if let Some(m) = &state.metered {
        m.store.close().await;
    }
    Ok(())
}

async fn accept(listener: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Door {
    /// Takes a connection on: counted, capped, served on its own task until it closes.
    fn admit(
        &mut self,
        tcp: TcpStream,
        peer: SocketAddr,
        state: &Arc<AppState>,
        builder: &auto::Builder<TokioExecutor>,
    ) {
        // Over the cap: closed at once, before any byte is read (cheapest for the relay;
        // clients see a reset and retry elsewhere).
        let permit = match self.kind {
            Listener::Public => state.overload.admit_connection(),
            Listener::Admin => state.overload.admit_admin_connection(),
        };
        let Some(permit) = permit else {
            drop(tcp);
            return;
        };
        let _ = tcp.set_nodelay(true);
        #[cfg(feature = "canary")]
        crate::canary::held_inbound(&tcp);
        let counted = state.monitor.ledger().inbound_connection();
        let served = conn::serve(
            tcp,
            peer,
            self.router.clone(),
            builder,
            state,
            self.stop.clone(),
        );
        self.conns.spawn(async move {
            let _counted = counted;
            served.await;
            drop(permit);
        });
    }
}

/// The most an HTTP/1 connection buffers on either side of the relay (hyper's `max_buf_size`).
pub(crate) const HTTP1_MAX_BUF: usize = 64 * 1024;

/// HTTP/1.1 and HTTP/2 (h2c by prior knowledge) on one port, with the client-side bounds.
fn http_builder(state: &AppState) -> auto::Builder<TokioExecutor> {
    let (t, l) = (&state.config.timeouts, &state.config.limits);
    let mut builder = auto::Builder::new(supervisor::connection_executor());
    // Header and idle deadlines are `conn`'s own, for both protocols: hyper's HTTP/1 header
    // timeout starts only once the protocol is known and also cuts idle keep-alive connections.
    // hyper's read buffer grows up to this while a client sends faster than the upstream takes
    // (an upload): 64 KiB, not hyper's ~400 KiB, keeps an upload's memory a few buffers (and
    // still fits any request head a client sends; nginx's default is 4 x 8 KiB).
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(HTTP1_MAX_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(l.max_h2_streams)
        .keep_alive_interval(t.client_ping)
        .keep_alive_timeout(t.client_ping_timeout);
    builder
}

/// A relay serving in the background of the current runtime: for tests, benches and the demo.
/// Dropping it aborts the server (its background jobs end when the state is dropped);
/// `shutdown` drains it and stops its jobs.
pub struct Server {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    stop: CancellationToken,
    task: AbortOnDropHandle<Result<(), StartError>>,
}

impl Server {
    /// Binds `listen` (and `admin_listen` when set) from the state's config and serves.
    pub async fn start(state: Arc<AppState>) -> Result<Self, StartError> {
        let listen = state.config.listen;
        let listeners = Listeners::bind(listen, state.config.admin_listen).await?;
        let addr = listeners
            .public_addr()
            .map_err(|source| StartError::Listen {
                addr: listen,
                source,
            })?;
        let admin_addr = listeners.admin_addr();
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        #[expect(
            clippy::disallowed_methods,
            reason = "the server's own task: owned by Server, aborted on drop, joined by shutdown"
        )]
        let task = tokio::spawn(serve(state, listeners, signal));
        Ok(Self {
            addr,
            admin_addr,
            stop,
            task: AbortOnDropHandle::new(task),
        })
    }

    /// The public listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's address, when `admin_listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Stops accepting, drains within the grace period, and waits until nothing is left.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Ok(Err(e)) = self.task.await {
            tracing::error!(error = %e, "the relay did not serve");
        }
    }
}
