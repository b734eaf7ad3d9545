//! Video tasks in the store: created once, read by their clients, taken by the poller under a
//! lease, changed only by compare-and-set.
//!
//! Owns: every read and write of `video_tasks` ([`crate::tasks::Task`]), each under the store's
//! call deadline: insert, get, the paged list of one owner's tasks, the due tasks taken with a
//! lease (so several instances never poll one task at once), the compare-and-set update (a
//! write names the version it read: the poller, the deadline sweep, a callback and a client's
//! cancel can never both settle one task), the overdue tasks, and the counts health shows.
//! Must never: change a terminal task's state, or return a task to another owner.

use super::{Store, StoreResult};
use crate::tasks::{Task, TaskState};
use std::time::Duration;

/// Which way a list runs (by creation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// One page of an owner's tasks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub has_more: bool,
}

/// Pending tasks by provider and state, and the oldest pending one's creation time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// `(provider kind, state, count)` for every non-terminal state with tasks.
    pub pending: Vec<(String, TaskState, u64)>,
    /// Unix milliseconds.
    pub oldest_pending_created_at: Option<i64>,
    /// Pending tasks past their deadline (the sweep has not expired them yet).
    pub overdue: u64,
}

/// Who a list or read is for: a task is seen only by the owner that created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    pub token_id: Option<i64>,
    pub name: &'a str,
}

impl Store {
    /// Stores a new task (its `version` as given, normally 0).
    pub async fn insert_task(&self, task: &Task) -> StoreResult<()> {
        let _ = task;
        Err(unbuilt())
    }

    /// The task of `id`, deleted or not.
    pub async fn get_task(&self, id: &str) -> StoreResult<Option<Task>> {
        let _ = id;
        Err(unbuilt())
    }

    /// The upstream's task `upstream_id` on `channel` (callbacks name the upstream's id).
    pub async fn task_by_upstream(
        &self,
        channel: &str,
        upstream_id: &str,
    ) -> StoreResult<Option<Task>> {
        let _ = (channel, upstream_id);
        Err(unbuilt())
    }

    /// One page of `owner`'s tasks not deleted, `limit` at most, after the task `after` (by
    /// creation time, then id) in `order`.
    pub async fn list_tasks(
        &self,
        owner: Owner<'_>,
        after: Option<&str>,
        limit: u32,
        order: Order,
    ) -> StoreResult<TaskPage> {
        let _ = (owner, after, limit, order);
        Err(unbuilt())
    }

    /// Takes up to `limit` tasks due at `now` (not terminal, `next_poll_at <= now`, no live
    /// lease), soonest first: each is leased to `owner` until `now + lease` and its version
    /// bumped, in one statement, so two instances never take one task.
    pub async fn take_due_tasks(
        &self,
        owner: &str,
        now: i64,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Task>> {
        let _ = (owner, now, lease, limit);
        Err(unbuilt())
    }

    /// Writes `task` over the stored one if the stored version is still `task.version` (and it
    /// is not terminal): `Ok(Some(version))` with the new version, `Ok(None)` if another writer
    /// came first (nothing written). Every mutable field is written; the lease is kept as
    /// given.
    pub async fn update_task(&self, task: &Task) -> StoreResult<Option<i64>> {
        let _ = task;
        Err(unbuilt())
    }

    /// Marks a task deleted (any state; a pending one is cancelled by the caller first).
    pub async fn delete_task(&self, id: &str) -> StoreResult<bool> {
        let _ = id;
        Err(unbuilt())
    }

    /// Up to `limit` pending tasks whose deadline is at or before `now`.
    pub async fn overdue_tasks(&self, now: i64, limit: u32) -> StoreResult<Vec<Task>> {
        let _ = (now, limit);
        Err(unbuilt())
    }

    /// What health and `/metrics` show of the tasks.
    pub async fn task_counts(&self, now: i64) -> StoreResult<TaskCounts> {
        let _ = now;
        Err(unbuilt())
    }
}

fn unbuilt() -> super::StoreError {
    super::StoreError::Invalid("video tasks are not stored yet".to_owned())
}
