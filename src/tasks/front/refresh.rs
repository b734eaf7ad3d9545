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
use crate::tasks::Task;

/// `task` refreshed from its upstream when it is pending and was not refreshed within
/// `video.refresh_interval` (the poller's rule); else as stored.
pub(crate) async fn refresh(cx: &Ctx<'_>, task: Task) -> Task {
    match &cx.state.poller {
        Some(p) => p.refresh(task).await,
        None => task,
    }
}

/// A callback for task `id` with `body`: counted, checked, and applied as a poll's report
/// would be (a duplicate or a late one changes nothing).
pub(crate) async fn callback(cx: &Ctx<'_>, id: &str, body: &[u8]) -> Result<(), RelayError> {
    let store = cx.store()?;
    cx.state.monitor.video().callback();
    let task = store
        .get_task(id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| RelayError::NotFound("unknown callback".to_owned()))?;
    let api = video_api_for(task.provider)
        .filter(|a| a.takes_callback())
        .ok_or_else(|| RelayError::NotFound("unknown callback".to_owned()))?;
    let (upstream_id, report) = api
        .read_callback(body, &cx.state.upstream.redactor())
        .map_err(super::create::video_error)?;
    if upstream_id != task.upstream_id {
        return Err(RelayError::BadRequest(
            "the callback names another task".to_owned(),
        ));
    }
    if let Some(p) = &cx.state.poller {
        if let Some(t) = p.apply_report(task, report).await {
            tracing::debug!(target: "sluice::video", task = %t.id, state = t.state.as_str(), "callback applied");
        }
    }
    Ok(())
}
