//! The simulator's configuration.
//! Owns defaults; must never start anything.

use std::net::{Ipv4Addr, SocketAddr};

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Seed of every random choice (fault mix, drip jitter). Same seed, same behaviour.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 0,
        }
    }
}
