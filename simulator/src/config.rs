//! The simulator's configuration.
//! Owns defaults; must never start anything.

use std::net::{Ipv4Addr, SocketAddr};

use crate::{Mix, Scenario};

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Seed of every random choice (fault mix, scenario weights, drip jitter).
    /// Same seed and same request order, same faults.
    pub seed: u64,
    /// Fault rules; a matching rule wins over the mix.
    pub scenario: Option<Scenario>,
    /// Seeded random faults for requests no rule (or header/directive) chose faults for.
    pub mix: Option<Mix>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 0,
            scenario: None,
            mix: None,
        }
    }
}
