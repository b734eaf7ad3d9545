//! Counters the simulator keeps about its own traffic, and their snapshot.
//! Owns the counts; must never block a request for long (one short mutex per request).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::Provider;

/// A snapshot of the simulator's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// TCP connections open right now (a live gauge, never reset).
    pub connections_open: u64,
    /// TCP connections accepted since start or the last reset.
    pub connections_accepted: u64,
    /// Provider requests served since start or the last reset.
    pub requests_total: u64,
    /// Requests per `"<provider> <endpoint>"`, e.g. `"openai /v1/chat/completions"`.
    pub requests: BTreeMap<String, u64>,
    /// Faults served per kind, e.g. `"status=429"`, `"reset"`, `"cut"`.
    pub faults: BTreeMap<String, u64>,
    /// Access tokens the Google OAuth token endpoint issued (for Vertex AI).
    #[serde(default)]
    pub tokens_issued: u64,
    /// Multipart uploads received per `"<provider> <endpoint>"` (counted when their request
    /// arrives, whether or not it was read to the end).
    #[serde(default)]
    pub uploads: BTreeMap<String, u64>,
    /// Bytes of multipart request bodies read per `"<provider> <endpoint>"` (as they arrive:
    /// a stalled or aborted upload counts what was read).
    #[serde(default)]
    pub upload_bytes: BTreeMap<String, u64>,
    /// Video task counts per provider name (`"openai"` for Sora, `"kling"`, `"gemini"`...).
    #[serde(default)]
    pub video: BTreeMap<String, VideoStats>,
}

/// The video task counts of one provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoStats {
    /// Tasks created (remixes included).
    pub tasks_created: u64,
    /// Polls of a task answered (found or not).
    pub polls: u64,
    /// Result downloads begun (video, thumbnail, spritesheet, inline bytes).
    pub content_downloads: u64,
    /// Callbacks POSTed and answered 2xx.
    pub callbacks_sent: u64,
    /// Callbacks dropped: refused URL, connect or send error, non-2xx, deadline, full queue.
    pub callbacks_failed: u64,
}

/// One video event counted in [`VideoStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VideoEvent {
    Created,
    Polled,
    Downloaded,
    CallbackSent,
    CallbackFailed,
}

impl Stats {
    /// The video counts of one provider (zero when it saw none).
    pub fn video_of(&self, provider: Provider) -> VideoStats {
        self.video
            .get(provider.as_str())
            .copied()
            .unwrap_or_default()
    }

    /// Requests served for one provider endpoint (`endpoint` as `/v1/chat/completions`).
    pub fn requests_to(&self, provider: Provider, endpoint: &str) -> u64 {
        let key = format!("{} {endpoint}", provider.as_str());
        self.requests.get(&key).copied().unwrap_or(0)
    }

    /// Multipart uploads received by one provider endpoint (`/v1/audio/transcriptions`).
    pub fn uploads_to(&self, provider: Provider, endpoint: &str) -> u64 {
        let key = format!("{} {endpoint}", provider.as_str());
        self.uploads.get(&key).copied().unwrap_or(0)
    }

    /// Bytes of multipart bodies read by one provider endpoint.
    pub fn upload_bytes_to(&self, provider: Provider, endpoint: &str) -> u64 {
        let key = format!("{} {endpoint}", provider.as_str());
        self.upload_bytes.get(&key).copied().unwrap_or(0)
    }

    /// Faults served of one kind (`"status=429"`, `"truncate"`, ...).
    pub fn faults_of(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// Total faults served.
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }
}

#[derive(Default)]
struct Totals {
    requests_total: u64,
    requests: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    tokens_issued: u64,
    uploads: BTreeMap<String, u64>,
    upload_bytes: BTreeMap<String, u64>,
    video: BTreeMap<String, VideoStats>,
}

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct StatsRecorder {
    open: AtomicU64,
    accepted: AtomicU64,
    totals: Mutex<Totals>,
}

impl StatsRecorder {
    pub(crate) fn request(&self, provider: Provider, endpoint: &str) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        t.requests_total += 1;
        let key = format!("{} {endpoint}", provider.as_str());
        *t.requests.entry(key).or_default() += 1;
    }

    /// One multipart upload arrived at `endpoint`.
    pub(crate) fn upload(&self, provider: Provider, endpoint: &str) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let key = format!("{} {endpoint}", provider.as_str());
        *t.uploads.entry(key).or_default() += 1;
    }

    /// `n` more bytes of an upload to `endpoint` were read.
    pub(crate) fn upload_read(&self, provider: Provider, endpoint: &str, n: u64) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let key = format!("{} {endpoint}", provider.as_str());
        *t.upload_bytes.entry(key).or_default() += n;
    }

    pub(crate) fn fault(&self, kind: &str) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        *t.faults.entry(kind.to_owned()).or_default() += 1;
    }

    /// One video event of `provider`.
    pub(crate) fn video(&self, provider: Provider, event: VideoEvent) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let v = t.video.entry(provider.as_str().to_owned()).or_default();
        let n = match event {
            VideoEvent::Created => &mut v.tasks_created,
            VideoEvent::Polled => &mut v.polls,
            VideoEvent::Downloaded => &mut v.content_downloads,
            VideoEvent::CallbackSent => &mut v.callbacks_sent,
            VideoEvent::CallbackFailed => &mut v.callbacks_failed,
        };
        *n += 1;
    }

    pub(crate) fn token_issued(&self) {
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        t.tokens_issued += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        Stats {
            connections_open: self.open.load(Ordering::SeqCst),
            connections_accepted: self.accepted.load(Ordering::SeqCst),
            requests_total: t.requests_total,
            requests: t.requests.clone(),
            faults: t.faults.clone(),
            tokens_issued: t.tokens_issued,
            uploads: t.uploads.clone(),
            upload_bytes: t.upload_bytes.clone(),
            video: t.video.clone(),
        }
    }

    pub(crate) fn reset(&self) {
        self.accepted.store(0, Ordering::SeqCst);
        let mut t = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        *t = Totals::default();
    }
}

/// Counts one open connection for as long as it lives.
pub(crate) struct ConnGuard(Arc<StatsRecorder>);

impl ConnGuard {
    pub(crate) fn new(stats: Arc<StatsRecorder>) -> Self {
        stats.accepted.fetch_add(1, Ordering::SeqCst);
        stats.open.fetch_add(1, Ordering::SeqCst);
        ConnGuard(stats)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_counts_and_reset_keeps_gauge() {
        let rec = Arc::new(StatsRecorder::default());
        let g = ConnGuard::new(rec.clone());
        rec.request(Provider::OpenAi, "/v1/models");
        rec.fault("reset");
        rec.token_issued();
        rec.upload(Provider::OpenAi, "/v1/audio/transcriptions");
        rec.upload_read(Provider::OpenAi, "/v1/audio/transcriptions", 10);
        rec.upload_read(Provider::OpenAi, "/v1/audio/transcriptions", 5);
        let s = rec.snapshot();
        assert_eq!(
            s.uploads_to(Provider::OpenAi, "/v1/audio/transcriptions"),
            1
        );
        assert_eq!(
            s.upload_bytes_to(Provider::OpenAi, "/v1/audio/transcriptions"),
            15
        );
        assert_eq!(s.tokens_issued, 1);
        assert_eq!((s.connections_open, s.connections_accepted), (1, 1));
        assert_eq!(s.requests_to(Provider::OpenAi, "/v1/models"), 1);
        assert_eq!(s.faults_of("reset"), 1);
        rec.reset();
        let s = rec.snapshot();
        assert_eq!((s.connections_open, s.connections_accepted), (1, 0));
        assert_eq!(s.requests_total, 0);
        drop(g);
        assert_eq!(rec.snapshot().connections_open, 0);
    }
}
