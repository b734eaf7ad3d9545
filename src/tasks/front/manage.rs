//! A caller's tasks: the list, a delete (a pending task is cancelled upstream and refunded
//! first), and the settlement written when a front's own change ends a task.
//!
//! Owns: those three. Must never: settle a task its compare-and-set did not end, or wait on an
//! upstream cancel longer than a poll's deadline.

use super::{owner_of, store_failed, Ctx};
use crate::error::RelayError;
use crate::providers::video::{video_api_for, TaskRef};
use crate::relay::Caller;
use crate::store::now_ms;
use crate::store::tasks::{Order, TaskPage};
use crate::tasks::{billing, Task, TaskState};
use tokio::time::Instant;

/// One page of the caller's tasks (`limit` 1..=100, default 20; `order` `asc` or `desc`,
/// default `desc`).
pub(crate) async fn list(
    cx: &Ctx<'_>,
    caller: &Caller,
    after: Option<&str>,
    limit: Option<&str>,
    order: Option<&str>,
) -> Result<TaskPage, RelayError> {
    let limit = match limit {
        None => 20,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                RelayError::BadRequest("Invalid 'limit': expected 1 to 100.".to_owned())
            })?,
    };
    let order = match order {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(_) => {
            return Err(RelayError::BadRequest(
                "Invalid 'order': expected 'asc' or 'desc'.".to_owned(),
            ))
        }
    };
    cx.store()?
        .list_tasks(owner_of(caller), after, limit, order)
        .await
        .map_err(store_failed)
}

/// Hands the settlement of `task` (just made terminal by this writer's compare-and-set) to
/// the usage sink.
pub(crate) fn settle(cx: &Ctx<'_>, task: &Task) {
    let Some(m) = &cx.state.metered else {
        return;
    };
    if let Some(record) = billing::settlement(task, m.limits.prices()) {
        m.sink.submit(record);
    }
}

/// Deletes the caller's task: a pending one is cancelled upstream (where the provider offers
/// it; best effort under the poll deadline) and ends `cancelled` (refunded) first.
pub(crate) async fn delete(cx: &Ctx<'_>, caller: &Caller, id: &str) -> Result<(), RelayError> {
    let store = cx.store()?;
    let mut task = cx.owned(caller, id).await?;
    // A bounded number of tries: each lost compare-and-set means another writer moved it.
    for _ in 0..4 {
        if task.state.is_terminal() {
            break;
        }
        cancel_upstream(cx, &task).await;
        let mut next = task.clone();
        let now = now_ms();
        next.state = TaskState::Cancelled;
        next.completed_at = Some(now);
        next.updated_at = now;
        next.lease_owner = None;
        next.lease_until = 0;
        let written = match &cx.state.poller {
            // The poller's write: compare-and-set, the lease released, the settlement once.
            Some(p) => p.commit(next).await.is_some(),
            None => match store.update_task(&next).await.map_err(store_failed)? {
                Some(version) => {
                    next.version = version;
                    settle(cx, &next);
                    true
                }
                None => false,
            },
        };
        if written {
            break;
        }
        task = cx.owned(caller, id).await?;
    }
    store.delete_task(id).await.map_err(store_failed)?;
    Ok(())
}

async fn cancel_upstream(cx: &Ctx<'_>, task: &Task) {
    let Some(api) = video_api_for(task.provider) else {
        return;
    };
    let Ok(ch) = cx.channel_of(task) else {
        return;
    };
    let state = cx.state;
    let Some(target) = ch.task_target(task.key_index as usize) else {
        return;
    };
    let deadline = Instant::now() + state.config.video.poll_timeout;
    let access = match state
        .credentials
        .access(ch.kind, target.key, &state.upstream, deadline)
        .await
    {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut target = target;
    target.access = access.as_deref();
    let tref = TaskRef {
        upstream_id: &task.upstream_id,
        upstream_ref: task.upstream_ref.as_deref(),
        model: &task.upstream_model,
        result_url: task.result_url.as_deref(),
    };
    let Some(request) = api.cancel(&target, &tref) else {
        return;
    };
    match state
        .upstream
        .send_within(
            request,
            ch.provider,
            deadline,
            state.config.video.poll_timeout,
        )
        .await
    {
        // The answer's body is dropped unread: its connection goes with it.
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(target: "sluice::tasks", task = %task.id, error = %e, "upstream cancel failed");
        }
    }
}
