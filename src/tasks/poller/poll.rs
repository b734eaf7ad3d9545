//! One poll of one task: its channel and key, the access token where the provider needs one,
//! the request its video API builds, sent and read under the poll's deadline.
//!
//! Owns: [`Polled`] (a report, a failed poll and why, or a task that cannot be polled any more)
//! and the reading of a failed poll's `retry-after`.
//! Must never: wait without the poll's deadline, read a body unbounded (the upstream client
//! bounds it), or write the store.

use super::{ApiLookup, Poller};
use crate::providers::video::{PollReport, TaskRef, VideoError};
use crate::tasks::gauges::PollErrorKind;
use crate::tasks::Task;
use crate::upstream::UpstreamError;
use crate::wire::UpstreamFault;
use std::time::Duration;
use tokio::time::Instant;

/// What one poll found.
#[derive(Debug)]
pub(crate) enum Polled {
    Report(PollReport),
    /// The poll failed; the task stays as it was (backed off).
    Failed {
        kind: PollErrorKind,
        retry_after: Option<Duration>,
    },
    /// The task's channel, key or provider is gone: it can never be polled again.
    Gone(&'static str),
}

impl Polled {
    fn of_error(e: &UpstreamError) -> Self {
        let (kind, retry_after) = match e {
            UpstreamError::Status(fault) => (PollErrorKind::Status, retry_after(fault)),
            UpstreamError::Timeout(_) => (PollErrorKind::Deadline, None),
            UpstreamError::Invalid(_) | UpstreamError::TooLarge(_) => {
                (PollErrorKind::Invalid, None)
            }
            UpstreamError::Connect(_) | UpstreamError::Read(_) => (PollErrorKind::Network, None),
        };
        Self::Failed { kind, retry_after }
    }
}

/// The longest `retry-after` honoured (a longer one is read as this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A fault's `retry-after-ms` or `retry-after` (seconds); an HTTP date is not read (the backoff
/// stands).
pub(crate) fn retry_after(fault: &UpstreamFault) -> Option<Duration> {
    let value = |name: &str| {
        fault
            .retry_after
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let d = value("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| value("retry-after").map(Duration::from_secs_f64))?;
    Some(d.min(MAX_RETRY_AFTER))
}

impl Poller {
    /// Polls `task` once, under `video.poll_timeout`.
    pub(crate) async fn poll(&self, task: &Task) -> Polled {
        let lookup: &ApiLookup = &self.apis;
        let Some(api) = lookup(task.provider) else {
            return Polled::Gone("the task's provider makes no videos");
        };
        let channels = self.routes.channels();
        let Some(channel) = channels
            .iter()
            .find(|c| c.name == task.channel && c.kind == task.provider)
        else {
            return Polled::Gone("the channel that created the task is gone");
        };
        let Some(mut target) = usize::try_from(task.key_index)
            .ok()
            .and_then(|i| channel.task_target(i))
        else {
            return Polled::Gone("the channel key that created the task is gone");
        };
        let timeout = self.config.poll_timeout;
        let deadline = Instant::now() + timeout;
        let access = match self
            .credentials
            .access(channel.kind, target.key, &self.upstream, deadline)
            .await
        {
            Ok(a) => a,
            Err(e) => return Polled::of_error(&e),
        };
        target.access = access.as_deref();
        let request = api.poll(
            &target,
            &TaskRef {
                upstream_id: &task.upstream_id,
                upstream_ref: task.upstream_ref.as_deref(),
                model: &task.upstream_model,
                result_url: task.result_url.as_deref(),
            },
        );
        self.gauges.poll();
        let response = match self
            .upstream
            .send_within(request, channel.provider, deadline, timeout)
            .await
        {
            Ok(r) => r,
            Err(e) => return Polled::of_error(&e),
        };
        let headers = response.headers().clone();
        let body = match self.upstream.read_body(response, deadline).await {
            Ok(b) => b,
            Err(e) => return Polled::of_error(&e),
        };
        match api.read_poll(&headers, &body, &self.upstream.redactor()) {
            Ok(report) => Polled::Report(report),
            Err(VideoError::Refused(fault)) => Polled::Failed {
                kind: PollErrorKind::Status,
                retry_after: retry_after(&fault),
            },
            Err(VideoError::Invalid(_) | VideoError::Unsupported(_)) => Polled::Failed {
                kind: PollErrorKind::Invalid,
                retry_after: None,
            },
        }
    }
}
