//! Reads the relay's state: its own view (`GET /api/monitor/health` gauges and counters, from its
//! admin listener) and the kernel's view of its process (`/proc/<pid>`: fds, RSS, threads).
//!
//! Owns: [`Sample`], one reading of both.
//! Must never: keep more than one connection to the relay (it is part of every baseline).

use crate::client::Client;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::time::Duration;

/// One reading of the relay.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Sample {
    pub live_tasks: u64,
    pub inbound_connections: u64,
    pub upstream_connections: u64,
    pub in_flight_requests: u64,
    pub open_streams: u64,
    pub tcp_close_wait: u64,
    /// From `/proc/<pid>/fd`.
    pub open_fds: u64,
    /// From `/proc/<pid>/status` (VmRSS).
    pub rss_bytes: u64,
    /// From `/proc/<pid>/status`.
    pub threads: u64,
}

pub struct Probe {
    client: Client,
    health: http::Uri,
    pid: u32,
}

impl Probe {
    /// `admin`: the relay's admin listener (the public one shows only the status).
    pub fn new(admin: std::net::SocketAddr, pid: u32) -> Result<Self, String> {
        let health = format!("http://{admin}/api/monitor/health")
            .parse()
            .map_err(|e| format!("{e}"))?;
        Ok(Self {
            client: crate::client::client(),
            health,
            pid,
        })
    }

    /// The health JSON (any status: 503 means critical, still a reading).
    pub async fn health(&self) -> Result<Value, String> {
        let req = http::Request::get(self.health.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_slice(&body.to_bytes()).map_err(|e| e.to_string())
        };
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .map_err(|_| "health: no answer within 5 s".to_string())?
    }

    pub async fn sample(&self) -> Result<Sample, String> {
        let h = self.health().await?;
        let g = |k: &str| h["gauges"][k].as_u64().unwrap_or(0);
        let (rss_bytes, threads) = proc_status(self.pid);
        Ok(Sample {
            live_tasks: g("live_tasks"),
            inbound_connections: g("inbound_connections"),
            upstream_connections: g("upstream_connections"),
            in_flight_requests: g("in_flight_requests"),
            open_streams: g("open_streams"),
            tcp_close_wait: g("tcp_close_wait"),
            open_fds: proc_fds(self.pid),
            rss_bytes,
            threads,
        })
    }

    /// RSS of the relay right now, from /proc only (cheap, no request to the relay).
    pub fn rss(&self) -> u64 {
        proc_rss(self.pid)
    }
}

/// VmRSS of a process in bytes (0 when it is gone).
pub fn proc_rss(pid: u32) -> u64 {
    proc_status(pid).0
}

fn proc_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// (VmRSS in bytes, Threads).
fn proc_status(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}
