//! The simulator's configuration.
//! Owns defaults; must never start anything.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use jsonwebtoken::DecodingKey;

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
    /// The Google OAuth token endpoint that mints Vertex AI access tokens.
    pub google_oauth: GoogleOAuthConfig,
    /// Video tasks: their timings and how many the task book holds.
    pub video: VideoConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 0,
            scenario: None,
            mix: None,
            google_oauth: GoogleOAuthConfig::default(),
            video: VideoConfig::default(),
        }
    }
}

/// How simulated video tasks progress: each task waits about `queue`, then runs about `run`
/// (both jittered by ±25 %, seeded per task; the prompt marker `[sim:run=DUR]` sets one
/// task's run time exactly) in `steps` visible progress steps.
#[derive(Clone, Debug)]
pub struct VideoConfig {
    /// Time in the provider's queued state (default 200 ms).
    pub queue: Duration,
    /// Time in the running state (default 800 ms).
    pub run: Duration,
    /// Progress steps shown while running (default 4; at least 1).
    pub steps: u32,
    /// Most tasks held (default 100 000); when full, the oldest task that has ended (or is
    /// stuck) is evicted, and if it is still live the create is refused with the
    /// provider's 429.
    pub capacity: usize,
    /// Whether the seeded ±25 % jitter applies (default true).
    pub jitter: bool,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            queue: Duration::from_millis(200),
            run: Duration::from_millis(800),
            steps: 4,
            capacity: 100_000,
            jitter: true,
        }
    }
}

/// How the simulated Google OAuth token endpoint (`/google-oauth/token`) treats assertions
/// and the access tokens it issues.
#[derive(Clone, Debug)]
pub struct GoogleOAuthConfig {
    /// Lifetime of each access token, sent as `expires_in` (default 1 h, as Google's). A
    /// token is refused by Vertex AI once it has lived this long; a short lifetime lets a
    /// client prove it refreshes, and zero makes every token expired on arrival.
    pub token_lifetime: Duration,
    /// Service accounts whose assertions must carry a valid RS256 signature by their key.
    /// When empty, signatures are not checked (the claims still are); when not, an
    /// assertion from any other account is refused (`invalid_grant`).
    pub service_accounts: Vec<ServiceAccountKey>,
}

impl Default for GoogleOAuthConfig {
    fn default() -> Self {
        GoogleOAuthConfig {
            token_lifetime: Duration::from_secs(3600),
            service_accounts: Vec::new(),
        }
    }
}

/// A service account's public key, which checks the signature of its JWT assertions.
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub(crate) client_email: String,
    pub(crate) key: DecodingKey,
}

impl ServiceAccountKey {
    /// The account `client_email` with its RSA public key in PEM (`BEGIN PUBLIC KEY` or
    /// `BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(
        client_email: impl Into<String>,
        public_key_pem: &str,
    ) -> Result<ServiceAccountKey, jsonwebtoken::errors::Error> {
        Ok(ServiceAccountKey {
            client_email: client_email.into(),
            key: DecodingKey::from_rsa_pem(public_key_pem.as_bytes())?,
        })
    }

    /// The account's email (the assertions' `iss`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}
