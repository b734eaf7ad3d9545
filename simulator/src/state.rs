//! State shared by every request of one simulator.
//! Owns the shared counters and id source; must never hold per-connection state.

use std::sync::Arc;

use crate::faults::mix::Mix;
use crate::faults::scenario::Scenario;
use crate::faults::select::FaultState;
use crate::gen::ids::Ids;
use crate::stats::StatsRecorder;
use crate::vertex::tokens::TokenBook;
use crate::video::Engine;
use crate::{GoogleOAuthConfig, Provider, VideoConfig};

/// What every handler of a simulator shares.
pub(crate) struct Shared {
    pub(crate) stats: Arc<StatsRecorder>,
    pub(crate) ids: Ids,
    pub(crate) faults: FaultState,
    /// The Google OAuth token endpoint's settings.
    pub(crate) google_oauth: GoogleOAuthConfig,
    /// The Vertex AI access tokens issued and not yet expired.
    pub(crate) tokens: TokenBook,
    /// The video tasks and the callback queue.
    pub(crate) video: Engine,
}

impl Shared {
    pub(crate) fn new(
        seed: u64,
        scenario: Option<Scenario>,
        mix: Option<Mix>,
        google_oauth: GoogleOAuthConfig,
        video: VideoConfig,
        addr: std::net::SocketAddr,
    ) -> Self {
        Shared {
            stats: Arc::new(StatsRecorder::default()),
            ids: Ids::new(seed),
            faults: FaultState::new(seed, scenario, mix),
            google_oauth,
            tokens: TokenBook::default(),
            video: Engine::new(seed, video, addr),
        }
    }
}

/// Router state of one provider's routes.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) provider: Provider,
}
