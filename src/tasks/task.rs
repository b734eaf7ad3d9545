//! One video task as the store keeps it.
//!
//! Owns: [`Task`] (who made it, where it runs upstream, its state, its charge, when it is
//! polled next and who holds its lease) and the relay's public ids. Must never: hold a channel
//! key (a task names its channel and the key's index) or be shown to a client as is (the fronts
//! render the fields clients may see).

use super::{TaskFailure, TaskState};
use crate::config::ProviderKind;
use serde::{Deserialize, Serialize};

/// The route family a task was created through, so a native poll answers in the shape the
/// client created it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Front {
    /// OpenAI's video API (`/v1/videos`).
    Openai,
    /// The one-api family's `/v1/video/generations`.
    Unified,
    /// A provider's own API under `/{provider}/...` (`/kling/v1/...`, `/runway/v1/...`).
    Native,
}

impl Front {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Unified => "unified",
            Self::Native => "native",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Openai, Self::Unified, Self::Native]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// What the client asked for, as the video object shows it back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub prompt: String,
    /// Seconds asked (or the provider's default), for the video object and the charge.
    pub seconds: Option<u32>,
    /// `WIDTHxHEIGHT`.
    pub size: Option<String>,
    /// The public id of the task this one remixes.
    pub remixed_from: Option<String>,
    /// The native route's action (`videos/text2video`), for native polls.
    pub action: Option<String>,
}

/// A video task.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The relay's id (`video_` and 32 random characters): the only id clients see.
    pub id: String,
    /// The client token that created it (`None` in a relay without tokens in the store: the
    /// file's tokens and demo mode).
    pub token_id: Option<i64>,
    /// The token's name, to bind a task to its creator when tokens come from the config file.
    pub owner: String,
    pub front: Front,
    /// The channel and key that created it: every poll, content fetch and remix goes there.
    pub channel: String,
    pub key_index: u32,
    pub provider: ProviderKind,
    /// The client's model name and the upstream's.
    pub model: String,
    pub upstream_model: String,
    /// The upstream's task id (private).
    pub upstream_id: String,
    pub upstream_ref: Option<String>,
    pub spec: TaskSpec,
    pub state: TaskState,
    /// 0-100.
    pub progress: u8,
    pub failure: Option<TaskFailure>,
    /// Where the video is once completed, as the upstream said (private).
    pub result_url: Option<String>,
    /// The length the upstream reported, in milliseconds (for settling the charge).
    pub video_ms: Option<u64>,
    /// The charge made at creation, in cost units; refunded when the task fails, expires or
    /// is cancelled.
    pub charged_units: i64,
    /// The request that created it (its usage record's id).
    pub request_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    /// When the result stops being served (the upstream's expiry, or the relay's).
    pub expires_at: Option<i64>,
    /// When the task fails as `expired` if it has not ended.
    pub deadline_at: i64,
    /// When the poller takes it next.
    pub next_poll_at: i64,
    pub polls: u32,
    /// Polls in a row that failed (for backoff); reset by a good poll.
    pub poll_errors: u32,
    /// The instance holding the task's poll lease, until `lease_until`.
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    /// Bumped by every write: each change is a compare-and-set on it.
    pub version: i64,
    /// Deleted by its client (`DELETE /v1/videos/{id}`): no longer listed or served.
    pub deleted: bool,
}

/// A new public task id: `video_` and 32 random alphanumeric characters (190 bits).
pub fn new_public_id() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!("video_{}", Alphanumeric.sample_string(&mut rand::rng(), 32))
}
