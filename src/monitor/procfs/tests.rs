use super::*;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Other tests in this process open and close fds too, so an exact delta is retried a few
/// times before settling for a tolerance.
fn measure_delta(n: usize, open: impl Fn(usize) -> Vec<Box<dyn Send>>) -> (i64, i64) {
    let mut last = (0, 0);
    for _ in 0..10 {
        let before = open_fds().unwrap() as i64;
        let held = open(n);
        let during = open_fds().unwrap() as i64;
        drop(held);
        let after = open_fds().unwrap() as i64;
        last = (during - before, during - after);
        if last == (n as i64, n as i64) {
            break;
        }
    }
    last
}

fn assert_near(got: i64, want: usize) {
    let want = want as i64;
    assert!(
        (got - want).abs() <= want / 4,
        "delta {got}, expected about {want}"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn fd_count_follows_files_opened_and_closed() {
    let (up, down) = measure_delta(100, |n| {
        (0..n)
            .map(|_| Box::new(std::fs::File::open("/proc/self/status").unwrap()) as Box<dyn Send>)
            .collect()
    });
    assert_near(up, 100);
    assert_near(down, 100);
}

#[test]
#[cfg(target_os = "linux")]
fn fd_count_follows_sockets_opened_and_closed() {
    let (up, down) = measure_delta(50, |n| {
        (0..n)
            .map(|_| Box::new(TcpListener::bind("127.0.0.1:0").unwrap()) as Box<dyn Send>)
            .collect()
    });
    assert_near(up, 50);
    assert_near(down, 50);
}

fn state_of(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> Option<TcpState> {
    sockets()
        .unwrap()
        .into_iter()
        .find(|s| s.local == local && s.remote == remote)
        .map(|s| s.state)
}

#[test]
#[cfg(target_os = "linux")]
fn connected_pair_shows_as_established_then_close_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    let c = client.local_addr().unwrap();

    let own = sockets().unwrap();
    assert!(own
        .iter()
        .any(|s| s.local == addr && s.state == TcpState::Listen));
    assert_eq!(state_of(c, addr), Some(TcpState::Established));
    assert_eq!(state_of(addr, c), Some(TcpState::Established));
    let counts = read().tcp_sockets.unwrap();
    assert!(
        counts["ESTABLISHED"] >= 2 && counts["LISTEN"] >= 1,
        "{counts:?}"
    );

    // The peer closes; our end waits for us to close it too: CLOSE_WAIT, the leak signature.
    drop(server);
    let mut state = None;
    for _ in 0..100 {
        state = state_of(c, addr);
        if state == Some(TcpState::CloseWait) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(state, Some(TcpState::CloseWait));
    // The server's half is orphaned (FIN_WAIT2, no fd): not ours any more.
    assert_eq!(state_of(addr, c), None);
    drop(client);
    assert_eq!(state_of(c, addr), None);
}

#[test]
#[cfg(target_os = "linux")]
fn memory_and_threads_are_read() {
    let v = read();
    assert!(v.resident_memory_bytes.unwrap() > 1024 * 1024);
    assert!(v.threads.unwrap() >= 1);
    assert!(v.open_fds.unwrap() >= 3);
}

#[test]
fn parses_status_and_fd_links() {
    let status = "Name:\tsluice\nVmRSS:\t   20480 kB\nThreads:\t7\n";
    assert_eq!(status_value(status, "VmRSS:"), Some(20480));
    assert_eq!(status_value(status, "Threads:"), Some(7));
    assert_eq!(status_value(status, "VmSwap:"), None);
    assert_eq!(socket_inode("socket:[98765]"), Some(98765));
    assert_eq!(socket_inode("/dev/null"), None);
    assert_eq!(socket_inode("anon_inode:[eventpoll]"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_view_counts_live_tasks() {
    let before = runtime().unwrap();
    assert_eq!(before.workers, 2);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        set.spawn(std::future::pending::<()>());
    }
    assert!(runtime().unwrap().live_tasks >= before.live_tasks + 10);
    set.abort_all();
    while set.join_next().await.is_some() {}
    // A worker may still hold an aborted task for a moment after its handle returned.
    for _ in 0..100 {
        if runtime().unwrap().live_tasks <= before.live_tasks {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("aborted tasks are still counted: {:?}", runtime());
}

#[test]
fn runtime_view_is_none_outside_a_runtime() {
    assert_eq!(runtime(), None);
}
