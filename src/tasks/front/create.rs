//! Creating a task: the spine of a video create, from an admitted request to a stored task.
//!
//! Owns: the order (the charge reserved by admission -> the channel (the model's, or for a
//! remix the source task's channel and key) -> the provider's submit, failing over while no
//! upstream took it -> the task stored with its charge and its first poll time), and the
//! create's record (billed the seconds asked, settled when the task ends).
//! Must never: store a task the upstream did not accept, fail over after one did (a second
//! channel would make a second video), or keep the upstream's answer past its bounded read.

use super::request::Create;
use super::Ctx;
use crate::error::RelayError;
use crate::providers::video::{video_api_for, VideoApi, VideoError, VideoSpec};
use crate::relay::{Ask, Caller, Record};
use crate::routing::{classify, Channel, Pick};
use crate::store::now_ms;
use crate::tasks::{billing, new_public_id, Front, Task, TaskSpec, TaskState};
use crate::upstream::UpstreamError;
use crate::wire::{Endpoint, MediaUsage};
use std::sync::Arc;
use tokio::time::Instant;

/// What is being created: a new video, or a remix of a stored one.
pub(crate) enum Making<'a> {
    New(Create),
    Remix { source: &'a Task, prompt: String },
}

/// Maps a provider's refusal to build or read a video call.
pub(crate) fn video_error(e: VideoError) -> RelayError {
    match e {
        VideoError::Unsupported(m) => RelayError::BadRequest(m),
        VideoError::Refused(fault) => RelayError::Upstream(UpstreamError::Status(fault)),
        VideoError::Invalid(m) => RelayError::Upstream(UpstreamError::Invalid(m)),
    }
}

fn api_of(ch: &Channel) -> Result<&'static dyn VideoApi, RelayError> {
    video_api_for(ch.kind).ok_or_else(|| RelayError::EndpointNotSupported {
        model: ch.name.clone(),
        endpoint: Endpoint::Videos.path(),
    })
}

/// Creates a task for an authenticated, admitted-to-be caller: `Ok` once the upstream took it
/// and the store holds it.
pub(crate) async fn create(
    cx: &Ctx<'_>,
    caller: &Caller,
    record: &mut Record,
    front: Front,
    making: Making<'_>,
) -> Result<Task, RelayError> {
    let store = cx.store()?;
    let (create, remix_of) = match making {
        Making::New(c) => (c, None),
        Making::Remix { source, prompt } => (
            Create {
                model: source.model.clone(),
                prompt,
                seconds: source.spec.seconds,
                size: source.spec.size.clone(),
                ..Create::default()
            },
            Some(source),
        ),
    };
    let seconds = create.seconds.unwrap_or(billing::DEFAULT_SECONDS);
    record.model = Some(create.model.clone());
    record.media_asked = Some(MediaUsage {
        video_seconds: f64::from(seconds),
        // A video record keeps its size where an image's is kept (its price may be by size).
        size: create
            .size
            .as_deref()
            .and_then(crate::wire::ImageSize::parse),
        ..MediaUsage::default()
    });
    crate::relay::admit(
        cx.state,
        caller,
        &Ask {
            model: &create.model,
            prompt_bytes: create.prompt.len(),
            max_tokens: None,
            client_ip: record.client_ip(),
        },
        record,
    )
    .await?;
    let id = new_public_id();
    let submitted = match remix_of {
        Some(source) => remix(cx, record, &id, &create, source).await?,
        None => submit(cx, record, &id, &create).await?,
    };
    let now = now_ms();
    let video = &cx.state.config.video;
    let charged = if record.is_metered() {
        cx.state.metered.as_ref().map_or(0, |m| {
            billing::charge(
                m.limits.prices(),
                &create.model,
                Some(seconds),
                create.size.as_deref(),
            )
        })
    } else {
        0
    };
    let (state, progress, failure) = match &submitted.report {
        Some(r) if !r.state.is_terminal() => (r.state, r.progress.unwrap_or(0), None),
        // A create answered with a finished task is polled once more for its result.
        _ => (TaskState::Queued, 0, None),
    };
    let task = Task {
        id,
        token_id: caller_token(caller),
        owner: caller.name().to_owned(),
        front,
        channel: submitted.channel.name.clone(),
        key_index: u32::try_from(submitted.key_index).unwrap_or(u32::MAX),
        provider: submitted.channel.kind,
        model: create.model.clone(),
        upstream_model: submitted.upstream_model,
        upstream_id: submitted.upstream_id,
        upstream_ref: submitted.upstream_ref,
        spec: TaskSpec {
            prompt: create.prompt,
            seconds: Some(seconds),
            size: create.size,
            remixed_from: remix_of.map(|s| s.id.clone()),
            action: create
                .extra
                .get("__action")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        },
        state,
        progress,
        failure,
        result_url: None,
        video_ms: None,
        charged_units: charged,
        request_id: record.request_id.clone(),
        created_at: now,
        updated_at: now,
        completed_at: None,
        expires_at: None,
        deadline_at: now + millis(video.task_deadline_of(&create.model)),
        next_poll_at: match &cx.state.poller {
            Some(p) => p.first_poll_at(submitted.channel.kind, now),
            None => now + millis(video.poll_interval_of(submitted.channel.kind.as_str())),
        },
        polls: 0,
        poll_errors: 0,
        lease_owner: None,
        lease_until: 0,
        version: 0,
        deleted: false,
    };
    store.insert_task(&task).await.map_err(|e| {
        tracing::warn!(target: "sluice::tasks", task = %task.id, error = %e, "a task the upstream took could not be stored");
        RelayError::TasksUnavailable(format!("the task could not be stored: {e}"))
    })?;
    record.upstream_accepted();
    record.finish_ok();
    Ok(task)
}

fn caller_token(caller: &Caller) -> Option<i64> {
    match caller {
        Caller::Store(e) => Some(e.id),
        Caller::File(_) => None,
    }
}

pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the upstream said of a new task, and where it runs.
struct Taken {
    channel: Arc<Channel>,
    key_index: usize,
    upstream_model: String,
    upstream_id: String,
    upstream_ref: Option<String>,
    report: Option<crate::providers::video::PollReport>,
}

fn spec_of(create: &Create, upstream_model: &str, callback: Option<String>) -> VideoSpec {
    let mut extra = create.extra.clone();
    extra.remove("__action");
    VideoSpec {
        model: upstream_model.to_owned(),
        prompt: create.prompt.clone(),
        seconds: create.seconds,
        size: create.size.clone(),
        image: create.image.clone(),
        remix_of: None,
        callback_url: callback,
        extra,
    }
}

/// The create's deadlines: the channel's or the video family's first byte and total.
fn deadlines(cx: &Ctx<'_>, ch: &Channel, started: Instant) -> (Instant, std::time::Duration) {
    let t = &cx.state.config.timeouts;
    let total = started + ch.timeouts.total.unwrap_or(t.total);
    let first_byte = ch.timeouts.first_byte.unwrap_or(t.first_byte);
    (total, first_byte)
}

/// Sends a new task to the model's channels, failing over while no upstream took it.
async fn submit(
    cx: &Ctx<'_>,
    record: &mut Record,
    id: &str,
    create: &Create,
) -> Result<Taken, RelayError> {
    let state = cx.state;
    let routes = &state.routes;
    let policy = routes.policy().clone();
    let started = Instant::now();
    routes.note_request(started);
    let mut tried: Vec<usize> = Vec::new();
    let mut last: Option<RelayError> = None;
    loop {
        let now = Instant::now();
        let mut selected = match routes.select(&create.model, Endpoint::Videos, &tried, now) {
            Ok(Pick::Go(s)) => *s,
            // A cooling channel is not waited for: a create is not worth holding the client.
            Ok(Pick::WaitUntil(t)) => {
                return Err(last.unwrap_or(RelayError::NoChannel {
                    model: create.model.clone(),
                    retry_after: Some(t.saturating_duration_since(now)),
                }))
            }
            Err(e) => return Err(last.unwrap_or(e)),
        };
        record.attempts += 1;
        let ch = selected.channel().clone();
        record.channel = Some(ch.name.clone());
        record.upstream_model = Some(selected.upstream_model.clone());
        let api = api_of(&ch)?;
        let callback = api.takes_callback().then(|| cx.callbacks.url(id)).flatten();
        let spec = spec_of(create, &selected.upstream_model, callback);
        let (total, first_byte) = deadlines(cx, &ch, started);
        record.upstream_sent();
        let result = async {
            let access = state
                .credentials
                .access(ch.kind, selected.lease.target().key, &state.upstream, total)
                .await?;
            let mut target = selected.lease.target();
            target.access = access.as_deref();
            let request = api.submit(&target, &spec).map_err(video_error)?;
            let resp = state
                .upstream
                .send_within(request, ch.provider, total, first_byte)
                .await?;
            let body = state.upstream.read_body(resp, total).await?;
            api.read_submit(&body, &state.upstream.redactor())
                .map_err(video_error)
        }
        .await;
        record.upstream_answered();
        match result {
            Ok(s) => {
                selected.lease.succeeded(Instant::now());
                return Ok(Taken {
                    key_index: selected.lease.key_index(),
                    channel: ch,
                    upstream_model: selected.upstream_model.clone(),
                    upstream_id: s.upstream_id,
                    upstream_ref: s.upstream_ref,
                    report: s.report,
                });
            }
            Err(RelayError::BadRequest(m)) => return Err(RelayError::BadRequest(m)),
            Err(RelayError::Upstream(e)) => {
                let verdict = classify(&e);
                selected.lease.failed(verdict, now);
                let err = RelayError::Upstream(e);
                // A create whose answer was lost (cut, timed out after headers) may have made
                // a video: it is not sent again.
                let maybe_taken = matches!(
                    err,
                    RelayError::Upstream(
                        UpstreamError::Read(_)
                            | UpstreamError::Invalid(_)
                            | UpstreamError::TooLarge(_)
                    )
                );
                if maybe_taken
                    || !verdict.retryable()
                    || record.attempts >= policy.max_attempts
                    || !routes.try_retry(now)
                {
                    return Err(err);
                }
                record.retrying_after(&err);
                tried.push(selected.index);
                last = Some(err);
                drop(selected);
            }
            Err(other) => return Err(other),
        }
    }
}

/// Sends a remix to the source task's channel and key (no fail-over: only that upstream knows
/// the source).
async fn remix(
    cx: &Ctx<'_>,
    record: &mut Record,
    id: &str,
    create: &Create,
    source: &Task,
) -> Result<Taken, RelayError> {
    let state = cx.state;
    let ch = cx.channel_of(source)?;
    let api = api_of(&ch)?;
    let key_index = source.key_index as usize;
    let target = ch.task_target(key_index).ok_or_else(|| {
        RelayError::BadRequest("the video's channel no longer has its key".to_owned())
    })?;
    let mut spec = spec_of(create, &source.upstream_model, None);
    spec.remix_of = Some(source.upstream_id.clone());
    let callback = api.takes_callback().then(|| cx.callbacks.url(id)).flatten();
    spec.callback_url = callback;
    let started = Instant::now();
    let (total, first_byte) = deadlines(cx, &ch, started);
    record.attempts += 1;
    record.channel = Some(ch.name.clone());
    record.upstream_model = Some(source.upstream_model.clone());
    record.upstream_sent();
    let result = async {
        let access = state
            .credentials
            .access(ch.kind, target.key, &state.upstream, total)
            .await?;
        let mut target = target;
        target.access = access.as_deref();
        let request = api.submit(&target, &spec).map_err(video_error)?;
        let resp = state
            .upstream
            .send_within(request, ch.provider, total, first_byte)
            .await?;
        let body = state.upstream.read_body(resp, total).await?;
        api.read_submit(&body, &state.upstream.redactor())
            .map_err(video_error)
    }
    .await;
    record.upstream_answered();
    let s = result?;
    Ok(Taken {
        channel: ch.clone(),
        key_index,
        upstream_model: source.upstream_model.clone(),
        upstream_id: s.upstream_id,
        upstream_ref: s.upstream_ref,
        report: s.report,
    })
}
