//! How a task looks to clients: OpenAI's video object and list, new-api's task answer, and the
//! one-api fork's result answer.
//!
//! Owns: those shapes, built from the stored [`Task`]. Must never: show the upstream's id, its
//! result URL or its channel (the content URL is the relay's own).

use crate::tasks::{Task, TaskState};
use serde_json::{json, Value};

/// The state as OpenAI's video object says it: its four words, with the relay's `cancelled`
/// and `expired` shown as `failed` (their `error.code` says which).
fn openai_status(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::InProgress => "in_progress",
        TaskState::Completed => "completed",
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => "failed",
    }
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The relay's URL of a task's video: under `public` (the relay's public URL) when set, else
/// the path alone.
pub(crate) fn content_url(public: Option<&str>, id: &str) -> String {
    let root = public.map_or("", |p| p.trim_end_matches('/'));
    format!("{root}/v1/videos/{id}/content")
}

/// The error a task ended with, as the video object says it.
fn error_of(task: &Task) -> Value {
    match (&task.failure, task.state) {
        (Some(f), _) => json!({"code": f.code, "message": f.message}),
        (None, TaskState::Cancelled) => {
            json!({"code": "cancelled", "message": "The video was cancelled."})
        }
        (None, TaskState::Expired) => {
            json!({"code": "expired", "message": "The video did not finish before its deadline."})
        }
        (None, TaskState::Failed) => {
            json!({"code": "failed", "message": "The video could not be made."})
        }
        (None, _) => Value::Null,
    }
}

/// OpenAI's video object (every field present, the nullable ones `null`), with new-api's
/// `task_id` copy.
pub(crate) fn video(task: &Task) -> Value {
    json!({
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": openai_status(task.state),
        "progress": task.progress,
        "created_at": secs(task.created_at),
        "completed_at": task.completed_at.map(secs),
        "expires_at": task.expires_at.map(secs),
        "prompt": task.spec.prompt,
        "size": task.spec.size.clone().unwrap_or_else(|| "720x1280".to_owned()),
        "seconds": task.spec.seconds.unwrap_or(crate::tasks::billing::DEFAULT_SECONDS).to_string(),
        "remixed_from_video_id": task.spec.remixed_from,
        "error": error_of(task),
        "task_id": task.id,
    })
}

/// OpenAI's list page.
pub(crate) fn list(tasks: &[Task], has_more: bool) -> Value {
    json!({
        "object": "list",
        "data": tasks.iter().map(video).collect::<Vec<_>>(),
        "first_id": tasks.first().map(|t| t.id.as_str()),
        "last_id": tasks.last().map(|t| t.id.as_str()),
        "has_more": has_more,
    })
}

/// OpenAI's answer to a delete.
pub(crate) fn deleted(id: &str) -> Value {
    json!({"object": "video.deleted", "deleted": true, "id": id})
}

/// new-api's task status words.
fn unified_status(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "QUEUED",
        TaskState::InProgress => "IN_PROGRESS",
        TaskState::Completed => "SUCCESS",
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => "FAILURE",
    }
}

/// new-api's `GET /v1/video/generations/{task_id}` answer: `{code, message, data: TaskDto}`.
pub(crate) fn unified(task: &Task, public: Option<&str>) -> Value {
    let done = task.state == TaskState::Completed;
    json!({
        "code": "success",
        "message": "",
        "data": {
            "id": task.id,
            "task_id": task.id,
            "platform": task.provider.as_str(),
            "action": task.spec.action.clone().unwrap_or_else(|| "generate".to_owned()),
            "model": task.model,
            "status": unified_status(task.state),
            "fail_reason": task.failure.as_ref().map_or("", |f| f.message.as_str()),
            "result_url": if done { Value::from(content_url(public, &task.id)) } else { Value::from("") },
            "submit_time": secs(task.created_at),
            "start_time": secs(task.created_at),
            "finish_time": task.completed_at.map_or(0, secs),
            "progress": format!("{}%", task.progress),
            "quota": task.charged_units,
        }
    })
}

/// new-api's answer for an unknown task.
pub(crate) fn unified_missing() -> Value {
    json!({"code": "task_not_exist", "message": "task_not_exist", "data": null})
}

/// The one-api fork's `GET /v1/video/generations/result?taskid=` answer.
pub(crate) fn fork_result(task: &Task, public: Option<&str>) -> Value {
    let status = match task.state {
        TaskState::Queued | TaskState::InProgress => "processing",
        TaskState::Completed => "succeed",
        TaskState::Failed | TaskState::Cancelled | TaskState::Expired => "failed",
    };
    let url = (task.state == TaskState::Completed).then(|| content_url(public, &task.id));
    json!({
        "task_id": task.id,
        "task_status": status,
        "message": task.failure.as_ref().map_or("", |f| f.message.as_str()),
        "video_result": url.clone().unwrap_or_default(),
        "video_results": url.iter().map(|u| json!({"url": u})).collect::<Vec<_>>(),
        "video_id": task.id,
        "duration": task.spec.seconds.unwrap_or(crate::tasks::billing::DEFAULT_SECONDS).to_string(),
    })
}

/// How long a client should wait before polling again (`openai-poll-after-ms`): until the
/// poller's next look, at least 1 s and at most 10 s.
pub(crate) fn poll_after_ms(task: &Task, now_ms: i64) -> u64 {
    let wait = task.next_poll_at.saturating_sub(now_ms).clamp(1000, 10_000);
    u64::try_from(wait).unwrap_or(1000)
}
