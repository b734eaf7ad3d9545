//! The `[video]` section: video tasks, their poller and their callbacks.
//!
//! Owns: the poller's bounds (polls in flight, tasks taken per round, the lease), its pace
//! (each provider's least interval between two polls of one task, the backoff cap after failed
//! polls), each task's deadline (per model), the on-demand refresh limit, the bounds of a video
//! create request and of a content download, and where callbacks come back.
//! Must never: allow an unbounded wait, count or size (zero is rejected).

use super::{ConfigError, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// Polls in flight at once, over all tasks and providers.
    pub poll_concurrency: usize,
    /// Tasks the poller takes (leases) per round.
    pub poll_batch: usize,
    /// How long a taken task is this instance's to poll; another instance takes it after.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// The least time between two polls of one task, unless a provider's own is set below.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Per provider kind (`kling = "10s"`): its least time between two polls of one task.
    pub poll_intervals: BTreeMap<String, humantime_serde::Serde<Duration>>,
    /// The longest wait between polls of one task after failed polls (the backoff's cap).
    #[serde(with = "humantime_serde")]
    pub max_poll_interval: Duration,
    /// Each poll's deadline (headers and body).
    #[serde(with = "humantime_serde")]
    pub poll_timeout: Duration,
    /// A task not ended this long after creation fails as `expired` and is refunded.
    #[serde(with = "humantime_serde")]
    pub task_deadline: Duration,
    /// Per model (the client's name): its own task deadline.
    pub task_deadlines: BTreeMap<String, humantime_serde::Serde<Duration>>,
    /// The least time between two upstream refreshes of one task asked by its client
    /// (`GET /v1/videos/{id}?refresh=true`); inside it the stored state answers.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// The largest create request (a multipart `input_reference` included).
    pub max_body: usize,
    /// A content download's deadline between two chunks.
    #[serde(with = "humantime_serde")]
    pub content_idle: Duration,
    /// How long the relay serves a completed task's content when the upstream gives no expiry.
    #[serde(with = "humantime_serde")]
    pub result_ttl: Duration,
    /// The relay's public URL as upstreams reach it (`https://relay.example.com`); with it,
    /// tasks on providers that take a `callback_url` (Kling, Luma) get a signed one under
    /// `/v1/video/callbacks/...`. Without it, tasks are polled only.
    pub callback_base_url: Option<String>,
    /// The key callback URLs are signed with; a random one per start when unset (callbacks to
    /// a restarted relay are then refused and polling finds the state).
    pub callback_secret: Option<Secret>,
    /// With callbacks, polls of a task are this many times further apart (polling stays the
    /// fallback).
    pub callback_poll_factor: u32,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            poll_concurrency: 32,
            poll_batch: 512,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            poll_intervals: BTreeMap::new(),
            max_poll_interval: Duration::from_secs(120),
            poll_timeout: Duration::from_secs(30),
            task_deadline: Duration::from_secs(2 * 3600),
            task_deadlines: BTreeMap::new(),
            refresh_interval: Duration::from_secs(2),
            max_body: 64 * 1024 * 1024,
            content_idle: Duration::from_secs(60),
            result_ttl: Duration::from_secs(24 * 3600),
            callback_base_url: None,
            callback_secret: None,
            callback_poll_factor: 4,
        }
    }
}

impl VideoConfig {
    /// The least time between two polls of one task on `provider` (its kind's name).
    pub fn poll_interval_of(&self, provider: &str) -> Duration {
        self.poll_intervals
            .get(provider)
            .map(|d| **d)
            .unwrap_or(self.poll_interval)
    }

    /// The deadline of a task on `model` (the client's name).
    pub fn task_deadline_of(&self, model: &str) -> Duration {
        self.task_deadlines
            .get(model)
            .map(|d| **d)
            .unwrap_or(self.task_deadline)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let zero = |what: &str| {
            Err(ConfigError::Invalid(format!(
                "video.{what} must be more than 0"
            )))
        };
        if self.poll_concurrency == 0 {
            return zero("poll_concurrency");
        }
        if self.poll_batch == 0 {
            return zero("poll_batch");
        }
        if self.max_body == 0 {
            return zero("max_body");
        }
        if self.callback_poll_factor == 0 {
            return zero("callback_poll_factor");
        }
        let durations = [
            ("lease", self.lease),
            ("poll_interval", self.poll_interval),
            ("max_poll_interval", self.max_poll_interval),
            ("poll_timeout", self.poll_timeout),
            ("task_deadline", self.task_deadline),
            ("refresh_interval", self.refresh_interval),
            ("content_idle", self.content_idle),
            ("result_ttl", self.result_ttl),
        ];
        for (name, d) in durations {
            if d.is_zero() {
                return zero(name);
            }
        }
        for (name, d) in self.poll_intervals.iter().chain(&self.task_deadlines) {
            if d.is_zero() {
                return zero(&format!("… `{name}`"));
            }
        }
        for name in self.poll_intervals.keys() {
            if !crate::config::ProviderKind::ALL
                .iter()
                .any(|k| k.as_str() == name)
            {
                return Err(ConfigError::Invalid(format!(
                    "video.poll_intervals: `{name}` is not a provider kind"
                )));
            }
        }
        if let Some(url) = &self.callback_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "video.callback_base_url `{url}` must be an http:// or https:// URL"
                )));
            }
        }
        Ok(())
    }
}
