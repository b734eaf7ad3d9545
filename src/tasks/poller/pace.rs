//! What a poll, a failed poll, a callback or a deadline does to a task: pure functions over a
//! task and a reading, the clock and the jitter given by the caller.
//!
//! Owns: the merge of a report into a task (a state the old one `may_become`, progress only
//! forward, the failure, the result URL and length, when it ended), the next poll time (the
//! provider's least interval or the upstream's hint, with jitter; after failed polls an
//! exponential backoff to the cap, a `retry-after` honoured) and the release of the lease that
//! every write carries.
//! Must never: read a clock or a random number itself, move a task out of a terminal state, or
//! write the store.

use crate::providers::video::{PollReport, VideoResult};
use crate::tasks::{Task, TaskFailure, TaskState};
use std::time::Duration;

/// How far a task's next poll moves each way (±20%).
pub(crate) const JITTER: f64 = 0.2;

/// The pace of one task's polls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    /// The least time between two polls (the provider's, or the configured one).
    pub(crate) interval: Duration,
    /// The backoff's cap.
    pub(crate) max_interval: Duration,
    /// How long a completed task's result is served when the upstream gives no expiry.
    pub(crate) result_ttl: Duration,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `d` scaled by `factor` (the caller's jitter, in `1 ± JITTER`).
fn scaled(d: Duration, factor: f64) -> Duration {
    let factor = factor.clamp(1.0 - JITTER, 1.0 + JITTER);
    d.mul_f64(factor)
}

/// Merges what the upstream said into `t`; whether anything changed.
pub(crate) fn merge(t: &mut Task, r: &PollReport, now: i64, pace: &Pace) -> bool {
    if t.state.is_terminal() {
        return false;
    }
    let before = (
        t.state,
        t.progress,
        t.result_url.clone(),
        t.video_ms,
        t.failure.clone(),
    );
    if r.state != t.state && t.state.may_become(r.state) {
        t.state = r.state;
    }
    if let Some(p) = r.progress {
        t.progress = t.progress.max(p.min(100));
    }
    if let Some(VideoResult::Url(url)) = &r.result {
        t.result_url = Some(url.clone());
    }
    if let Some(s) = r.seconds.filter(|s| s.is_finite() && *s > 0.0) {
        t.video_ms = Some((s * 1000.0).round() as u64);
    }
    match t.state {
        TaskState::Completed => t.progress = 100,
        TaskState::Failed => {
            t.failure = r.failure.clone().or_else(|| {
                Some(TaskFailure::new(
                    "upstream_failed",
                    "the upstream reported that the task failed",
                ))
            });
        }
        TaskState::Cancelled => {
            t.failure = r.failure.clone().or_else(|| {
                Some(TaskFailure::new(
                    "cancelled",
                    "the upstream cancelled the task",
                ))
            });
        }
        TaskState::Queued | TaskState::InProgress | TaskState::Expired => {}
    }
    let changed = before
        != (
            t.state,
            t.progress,
            t.result_url.clone(),
            t.video_ms,
            t.failure.clone(),
        );
    if changed {
        t.updated_at = now;
        if t.state.is_terminal() {
            ended_at(t, now, pace);
        }
    }
    changed
}

fn ended_at(t: &mut Task, now: i64, pace: &Pace) {
    t.completed_at = Some(now);
    if t.state == TaskState::Completed && t.expires_at.is_none() {
        t.expires_at = Some(now.saturating_add(ms(pace.result_ttl)));
    }
}

/// The task after a good poll (`updated_at` is when it was last polled): the report merged,
/// the error streak reset, the next poll at the interval or the upstream's hint (the later),
/// jittered by `jitter` but never before the hint.
pub(crate) fn reported(task: &Task, r: &PollReport, now: i64, pace: &Pace, jitter: f64) -> Task {
    let mut t = task.clone();
    merge(&mut t, r, now, pace);
    t.updated_at = now;
    t.polls = t.polls.saturating_add(1);
    t.poll_errors = 0;
    // Jittered, but never before the upstream asked to be polled again.
    let hint = r.poll_after.unwrap_or_default();
    let wait = scaled(hint.max(pace.interval), jitter).max(hint);
    t.next_poll_at = now.saturating_add(ms(wait));
    released(t)
}

/// The task after a failed poll: state kept, the error streak longer, the next poll after an
/// exponential backoff from the interval (capped, jittered) or the upstream's `retry-after`,
/// whichever is later.
pub(crate) fn failed(
    task: &Task,
    retry_after: Option<Duration>,
    now: i64,
    pace: &Pace,
    jitter: f64,
) -> Task {
    let mut t = task.clone();
    t.updated_at = now;
    t.polls = t.polls.saturating_add(1);
    t.poll_errors = t.poll_errors.saturating_add(1);
    let wait = scaled(backoff(pace, t.poll_errors), jitter).max(retry_after.unwrap_or_default());
    t.next_poll_at = now.saturating_add(ms(wait));
    released(t)
}

/// The wait after `errors` failed polls in a row: the interval doubled each time, capped.
pub(crate) fn backoff(pace: &Pace, errors: u32) -> Duration {
    pace.interval
        .saturating_mul(1u32 << errors.min(20))
        .min(pace.max_interval)
}

/// The task ended by the relay (`expired` past its deadline, `failed` when its channel is
/// gone), with `failure`.
pub(crate) fn ended(task: &Task, state: TaskState, failure: TaskFailure, now: i64) -> Task {
    let mut t = task.clone();
    if !t.state.is_terminal() && t.state.may_become(state) {
        t.state = state;
        t.failure = Some(failure);
        t.updated_at = now;
        t.completed_at = Some(now);
    }
    released(t)
}

/// Every write gives the lease back: the next round (of any instance) may take the task when
/// it is due.
pub(crate) fn released(mut t: Task) -> Task {
    t.lease_owner = None;
    t.lease_until = 0;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::tasks::{Front, TaskSpec};

    fn pace() -> Pace {
        Pace {
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(60),
            result_ttl: Duration::from_secs(3600),
        }
    }

    pub(crate) fn task() -> Task {
        Task {
            id: "video_x".to_owned(),
            token_id: None,
            owner: "o".to_owned(),
            front: Front::Openai,
            channel: "c".to_owned(),
            key_index: 0,
            provider: ProviderKind::Kling,
            model: "m".to_owned(),
            upstream_model: "m".to_owned(),
            upstream_id: "u".to_owned(),
            upstream_ref: None,
            spec: TaskSpec::default(),
            state: TaskState::Queued,
            progress: 0,
            failure: None,
            result_url: None,
            video_ms: None,
            charged_units: 10,
            request_id: "r".to_owned(),
            created_at: 0,
            updated_at: 0,
            completed_at: None,
            expires_at: None,
            deadline_at: 1_000_000,
            next_poll_at: 0,
            polls: 0,
            poll_errors: 2,
            lease_owner: Some("me".to_owned()),
            lease_until: 99,
            version: 3,
            deleted: false,
        }
    }

    #[test]
    fn a_report_moves_forward_only_and_releases_the_lease() {
        let mut r = PollReport::of(TaskState::InProgress);
        r.progress = Some(40);
        let t = reported(&task(), &r, 1000, &pace(), 1.0);
        assert_eq!(
            (t.state, t.progress, t.polls, t.poll_errors),
            (TaskState::InProgress, 40, 1, 0)
        );
        assert_eq!((t.lease_owner.as_deref(), t.lease_until), (None, 0));
        assert_eq!(t.next_poll_at, 6000);
        // Back to queued, lower progress: neither moves.
        let mut back = PollReport::of(TaskState::Queued);
        back.progress = Some(10);
        let again = reported(&t, &back, 2000, &pace(), 1.0);
        assert_eq!((again.state, again.progress), (TaskState::InProgress, 40));
        // The hint wins when later than the interval; jitter scales it within ±20%.
        let mut hinted = PollReport::of(TaskState::InProgress);
        hinted.poll_after = Some(Duration::from_secs(20));
        assert_eq!(reported(&t, &hinted, 0, &pace(), 1.2).next_poll_at, 24_000);
        assert_eq!(reported(&t, &hinted, 0, &pace(), 5.0).next_poll_at, 24_000);
        assert_eq!(
            reported(&t, &hinted, 0, &pace(), 0.8).next_poll_at,
            20_000,
            "never before the hint"
        );
        assert_eq!(reported(&t, &r, 0, &pace(), 0.8).next_poll_at, 4_000);
    }

    #[test]
    fn completion_records_result_length_and_expiry_once() {
        let mut r = PollReport::of(TaskState::Completed);
        r.result = Some(VideoResult::Url("https://cdn/v.mp4".to_owned()));
        r.seconds = Some(4.2);
        let t = reported(&task(), &r, 500, &pace(), 1.0);
        assert_eq!(t.state, TaskState::Completed);
        assert_eq!(t.progress, 100);
        assert_eq!(t.video_ms, Some(4200));
        assert_eq!(t.result_url.as_deref(), Some("https://cdn/v.mp4"));
        assert_eq!(t.completed_at, Some(500));
        assert_eq!(t.expires_at, Some(500 + 3_600_000));
        // A terminal task takes nothing more.
        let mut late = t.clone();
        assert!(!merge(
            &mut late,
            &PollReport::of(TaskState::Failed),
            900,
            &pace()
        ));
        assert_eq!(late, t);
    }

    #[test]
    fn a_failure_without_a_reason_gets_one() {
        let t = reported(&task(), &PollReport::of(TaskState::Failed), 1, &pace(), 1.0);
        assert_eq!(
            t.failure.map(|f| f.code).as_deref(),
            Some("upstream_failed")
        );
        let mut r = PollReport::of(TaskState::Failed);
        r.failure = Some(TaskFailure::new("1301", "unsafe prompt"));
        let t = reported(&task(), &r, 1, &pace(), 1.0);
        assert_eq!(
            t.failure.map(|f| f.message).as_deref(),
            Some("unsafe prompt")
        );
    }

    #[test]
    fn failed_polls_back_off_to_the_cap_and_honour_retry_after() {
        let p = pace();
        let mut t = task();
        t.poll_errors = 0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            t = failed(&t, None, 0, &p, 1.0);
            waits.push(t.next_poll_at / 1000);
        }
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(t.state, TaskState::Queued);
        assert_eq!(t.poll_errors, 6);
        let t = failed(&task(), Some(Duration::from_secs(300)), 0, &p, 1.0);
        assert_eq!(
            t.next_poll_at, 300_000,
            "a retry-after beyond the cap is honoured"
        );
        for errors in 0..40 {
            assert!(backoff(&p, errors) <= p.max_interval);
        }
    }

    #[test]
    fn the_relay_ends_a_pending_task_once() {
        let t = ended(
            &task(),
            TaskState::Expired,
            TaskFailure::new("expired", "late"),
            7,
        );
        assert_eq!(t.state, TaskState::Expired);
        assert_eq!(t.completed_at, Some(7));
        let mut done = task();
        done.state = TaskState::Completed;
        let kept = ended(
            &done,
            TaskState::Expired,
            TaskFailure::new("expired", "late"),
            7,
        );
        assert_eq!(kept.state, TaskState::Completed);
        assert_eq!(kept.failure, None);
    }
}
