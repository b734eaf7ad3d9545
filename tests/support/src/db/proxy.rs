//! A TCP proxy on loopback that a test can cut (every connection reset, new ones refused)
//! and restore: a deterministic database outage.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct TcpProxy {
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    accepted: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    /// Set by `cut`/`restore` themselves, so a connection made right after `restore` returns
    /// is forwarded (the watch only tells the proxy's loop to reset what is open).
    is_cut: Arc<AtomicBool>,
}

impl TcpProxy {
    /// Starts a proxy to `target` on its own thread and runtime, and returns once it serves
    /// (so a test's fd baseline taken after this includes the proxy's own).
    pub fn start(target: SocketAddr) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("proxy addr");
        let (cut, cut_rx) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let accepted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let is_cut = Arc::new(AtomicBool::new(false));
        let (a, r, c) = (accepted.clone(), refused.clone(), is_cut.clone());
        let (ready_tx, ready) = std::sync::mpsc::channel();
        #[expect(
            clippy::disallowed_methods,
            reason = "test support: the proxy's own thread, stopped and joined when it is dropped"
        )]
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("proxy listener");
                let _ = ready_tx.send(());
                serve(listener, target, cut_rx, stop_rx, (a, r), c).await
            });
        });
        ready.recv().expect("proxy started");
        Self {
            addr,
            cut,
            stop,
            thread: Some(thread),
            accepted,
            refused,
            is_cut,
        }
    }

    /// Resets every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.is_cut.store(true, Ordering::SeqCst);
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.is_cut.store(false, Ordering::SeqCst);
        self.cut.send_replace(false);
    }

    /// Connections forwarded and refused so far (to check the outage was real).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    target: SocketAddr,
    mut cut: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    (accepted, refused): (Arc<AtomicU64>, Arc<AtomicU64>),
    is_cut: Arc<AtomicBool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            changed = cut.changed() => {
                if changed.is_err() {
                    break;
                }
                if *cut.borrow_and_update() {
                    conns.abort_all();
                }
            }
            Ok((client, _)) = listener.accept() => {
                if is_cut.load(Ordering::SeqCst) {
                    refused.fetch_add(1, Ordering::Relaxed);
                    drop(client);
                    continue;
                }
                accepted.fetch_add(1, Ordering::Relaxed);
                conns.spawn(pipe(client, target));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn pipe(mut client: TcpStream, target: SocketAddr) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
