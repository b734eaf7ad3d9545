//! The OS's and the runtime's own view of this process: open fds, resident memory, threads,
//! TCP sockets by state (from /proc on Linux), and live tokio tasks.
//!
//! Owns: reading and parsing /proc/self; the fd -> socket inode -> TCP table join.
//! Must never: fail the caller. Anything unreadable (another OS, a hardened /proc) is `None`.

mod tcp;

pub use tcp::{TcpSocket, TcpState};

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What the kernel says about this process.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProcView {
    pub open_fds: Option<u64>,
    pub resident_memory_bytes: Option<u64>,
    pub threads: Option<u64>,
    /// This process's TCP sockets by state name (`ESTABLISHED`, `CLOSE_WAIT`, `LISTEN`, ...).
    /// TIME_WAIT sockets belong to no process any more and are not counted.
    pub tcp_sockets: Option<BTreeMap<&'static str, u64>>,
}

/// What the tokio runtime the caller runs on says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RuntimeView {
    pub live_tasks: u64,
    pub workers: u64,
}

/// Reads the whole view: one pass over /proc/self/fd, then the TCP tables.
pub fn read() -> ProcView {
    if !cfg!(target_os = "linux") {
        return ProcView::default();
    }
    let fds = scan_fds();
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let status_field = |name: &str| status.as_deref().and_then(|s| status_value(s, name));
    let tcp_sockets = fds.as_ref().and_then(|f| {
        let sockets = own_sockets(&f.socket_inodes)?;
        // Every state present, zeros included, so a series never vanishes from /metrics.
        let mut by_state: BTreeMap<&'static str, u64> =
            TcpState::OWNED.iter().map(|s| (s.name(), 0)).collect();
        for s in sockets {
            *by_state.entry(s.state.name()).or_insert(0) += 1;
        }
        Some(by_state)
    });
    ProcView {
        open_fds: fds.as_ref().map(|f| f.count),
        resident_memory_bytes: status_field("VmRSS:").map(|kb| kb * 1024),
        threads: status_field("Threads:"),
        tcp_sockets,
    }
}

/// Open fds of this process, the directory handle used to count them excluded.
pub fn open_fds() -> Option<u64> {
    scan_fds().map(|f| f.count)
}

/// Every TCP socket this process holds, with addresses and state: for leak reports.
pub fn sockets() -> Option<Vec<TcpSocket>> {
    let fds = scan_fds()?;
    own_sockets(&fds.socket_inodes)
}

/// Live tasks and workers of the current tokio runtime; `None` outside a runtime.
pub fn runtime() -> Option<RuntimeView> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let m = handle.metrics();
    Some(RuntimeView {
        live_tasks: m.num_alive_tasks() as u64,
        workers: m.num_workers() as u64,
    })
}

struct Fds {
    count: u64,
    socket_inodes: HashSet<u64>,
}

fn scan_fds() -> Option<Fds> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    let mut count: u64 = 0;
    let mut socket_inodes = HashSet::new();
    for entry in dir.flatten() {
        count += 1;
        if let Ok(target) = std::fs::read_link(entry.path()) {
            if let Some(inode) = target.to_str().and_then(socket_inode) {
                socket_inodes.insert(inode);
            }
        }
    }
    // The directory being read is itself an open fd while we count.
    Some(Fds {
        count: count.saturating_sub(1),
        socket_inodes,
    })
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The lines of /proc/self/net/tcp{,6} whose inode is one of ours.
fn own_sockets(inodes: &HashSet<u64>) -> Option<Vec<TcpSocket>> {
    let v4 = std::fs::read_to_string("/proc/self/net/tcp").ok();
    let v6 = std::fs::read_to_string("/proc/self/net/tcp6").ok();
    if v4.is_none() && v6.is_none() {
        return None;
    }
    let all = v4
        .iter()
        .flat_map(|t| tcp::parse_table(t))
        .chain(v6.iter().flat_map(|t| tcp::parse_table(t)));
    Some(
        all.filter(|s| s.inode != 0 && inodes.contains(&s.inode))
            .collect(),
    )
}

/// `Threads:\t12` -> 12; `VmRSS:\t  1234 kB` -> 1234.
fn status_value(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
