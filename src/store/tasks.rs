//! Video tasks in the store: created once, read by their clients, taken by the poller under a
//! lease, changed only by compare-and-set.
//!
//! Owns: every read and write of `video_tasks` ([`crate::tasks::Task`]), each under the store's
//! call deadline: insert, get, the paged list of one owner's tasks, the due tasks taken with a
//! lease (so several instances never poll one task at once), the compare-and-set update (a
//! write names the version it read: the poller, the deadline sweep, a callback and a client's
//! cancel can never both settle one task), the overdue tasks, and the counts health shows.
//! Must never: change a terminal task's state, or return a task to another owner.

use super::{Backend, Store, StoreError, StoreResult};
use crate::config::ProviderKind;
use crate::tasks::{Front, Task, TaskFailure, TaskSpec, TaskState};
use std::time::Duration;

/// As the store's own `on_backend!` (which `mod.rs` defines after this module): the same query
/// text on whichever backend the store has, under the call deadline.
macro_rules! on_backend {
    ($store:expr, |$q:ident, $h:ident| $call:expr) => {
        match &$store.inner.backend {
            Backend::Sqlite($h) => {
                use super::sqlite::queries as $q;
                $store.deadline($call).await
            }
            Backend::Postgres($h) => {
                use super::postgres::queries as $q;
                $store.deadline($call).await
            }
        }
    };
}

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
        let values = TaskValues::of(task)?;
        on_backend!(self, |q, h| q::tasks::insert(h, &values))
    }

    /// The task of `id`, deleted or not.
    pub async fn get_task(&self, id: &str) -> StoreResult<Option<Task>> {
        on_backend!(self, |q, h| q::tasks::get(h, id))?
            .map(Task::try_from)
            .transpose()
    }

    /// The upstream's task `upstream_id` on `channel` (callbacks name the upstream's id).
    pub async fn task_by_upstream(
        &self,
        channel: &str,
        upstream_id: &str,
    ) -> StoreResult<Option<Task>> {
        on_backend!(self, |q, h| q::tasks::by_upstream(h, channel, upstream_id))?
            .map(Task::try_from)
            .transpose()
    }

    /// One page of `owner`'s tasks not deleted, `limit` at most, after the task `after` (by
    /// creation time, then id) in `order`. An `after` that names no task gives an empty page.
    pub async fn list_tasks(
        &self,
        owner: Owner<'_>,
        after: Option<&str>,
        limit: u32,
        order: Order,
    ) -> StoreResult<TaskPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let token = owner.token_id.unwrap_or(NO_TOKEN);
        let rows = on_backend!(self, |q, h| q::tasks::list(
            h,
            owner.name,
            token,
            after,
            i64::from(limit) + 1,
            order
        ))?;
        let mut tasks = tasks(rows)?;
        let has_more = tasks.len() > limit as usize;
        tasks.truncate(limit as usize);
        Ok(TaskPage { tasks, has_more })
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
        let until = now.saturating_add(millis(lease));
        let rows = on_backend!(self, |q, h| q::tasks::take_due(
            h,
            owner,
            now,
            until,
            i64::from(limit)
        ))?;
        let mut taken = tasks(rows)?;
        taken.sort_by(|a, b| (a.next_poll_at, &a.id).cmp(&(b.next_poll_at, &b.id)));
        Ok(taken)
    }

    /// Writes `task` over the stored one if the stored version is still `task.version` (and it
    /// is not terminal): `Ok(Some(version))` with the new version, `Ok(None)` if another writer
    /// came first (nothing written). Every mutable field is written; the lease is kept as
    /// given.
    pub async fn update_task(&self, task: &Task) -> StoreResult<Option<i64>> {
        let values = TaskValues::of(task)?;
        on_backend!(self, |q, h| q::tasks::update(h, &values))
    }

    /// Marks a task deleted (any state; a pending one is cancelled by the caller first).
    pub async fn delete_task(&self, id: &str) -> StoreResult<bool> {
        on_backend!(self, |q, h| q::tasks::delete(h, id))
    }

    /// Up to `limit` pending tasks whose deadline is at or before `now`.
    pub async fn overdue_tasks(&self, now: i64, limit: u32) -> StoreResult<Vec<Task>> {
        tasks(on_backend!(self, |q, h| q::tasks::overdue(
            h,
            now,
            i64::from(limit)
        ))?)
    }

    /// What health and `/metrics` show of the tasks.
    pub async fn task_counts(&self, now: i64) -> StoreResult<TaskCounts> {
        let (groups, overdue) = on_backend!(self, |q, h| q::tasks::counts(h, now))?;
        let mut counts = TaskCounts {
            overdue: u64::try_from(overdue).unwrap_or(0),
            ..TaskCounts::default()
        };
        for (provider, state, n, oldest) in groups {
            let state = TaskState::parse(&state)
                .ok_or_else(|| StoreError::Invalid(format!("stored task state `{state}`")))?;
            counts
                .pending
                .push((provider, state, u64::try_from(n).unwrap_or(0)));
            counts.oldest_pending_created_at = Some(
                counts
                    .oldest_pending_created_at
                    .map_or(oldest, |o| o.min(oldest)),
            );
        }
        counts.pending.sort();
        Ok(counts)
    }
}

/// The most tasks one page holds.
pub const MAX_PAGE: u32 = 100;

/// The `token_id` a task without a store token is listed under (ids start at 1).
const NO_TOKEN: i64 = 0;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn tasks(rows: Vec<TaskRow>) -> StoreResult<Vec<Task>> {
    rows.into_iter().map(Task::try_from).collect()
}

/// A task's columns as both backends bind them (in table order).
pub(crate) struct TaskValues<'a> {
    pub(crate) id: &'a str,
    pub(crate) token_id: Option<i64>,
    pub(crate) owner: &'a str,
    pub(crate) front: &'static str,
    pub(crate) channel: &'a str,
    pub(crate) key_index: i64,
    pub(crate) provider: &'static str,
    pub(crate) model: &'a str,
    pub(crate) upstream_model: &'a str,
    pub(crate) upstream_id: &'a str,
    pub(crate) upstream_ref: Option<&'a str>,
    pub(crate) spec: String,
    pub(crate) state: &'static str,
    pub(crate) progress: i64,
    pub(crate) failure_code: Option<&'a str>,
    pub(crate) failure_message: Option<&'a str>,
    pub(crate) result_url: Option<&'a str>,
    pub(crate) video_ms: Option<i64>,
    pub(crate) charged_units: i64,
    pub(crate) request_id: &'a str,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) completed_at: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) deadline_at: i64,
    pub(crate) next_poll_at: i64,
    pub(crate) polls: i64,
    pub(crate) poll_errors: i64,
    pub(crate) lease_owner: Option<&'a str>,
    pub(crate) lease_until: i64,
    pub(crate) version: i64,
    pub(crate) deleted: bool,
}

impl<'a> TaskValues<'a> {
    fn of(t: &'a Task) -> StoreResult<Self> {
        let spec = serde_json::to_string(&t.spec)
            .map_err(|e| StoreError::Invalid(format!("task spec: {e}")))?;
        Ok(Self {
            id: &t.id,
            token_id: t.token_id,
            owner: &t.owner,
            front: t.front.as_str(),
            channel: &t.channel,
            key_index: i64::from(t.key_index),
            provider: t.provider.as_str(),
            model: &t.model,
            upstream_model: &t.upstream_model,
            upstream_id: &t.upstream_id,
            upstream_ref: t.upstream_ref.as_deref(),
            spec,
            state: t.state.as_str(),
            progress: i64::from(t.progress),
            failure_code: t.failure.as_ref().map(|f| f.code.as_str()),
            failure_message: t.failure.as_ref().map(|f| f.message.as_str()),
            result_url: t.result_url.as_deref(),
            video_ms: t.video_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            charged_units: t.charged_units,
            request_id: &t.request_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
            completed_at: t.completed_at,
            expires_at: t.expires_at,
            deadline_at: t.deadline_at,
            next_poll_at: t.next_poll_at,
            polls: i64::from(t.polls),
            poll_errors: i64::from(t.poll_errors),
            lease_owner: t.lease_owner.as_deref(),
            lease_until: t.lease_until,
            version: t.version,
            deleted: t.deleted,
        })
    }
}

/// A task row as both backends return it.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: String,
    token_id: Option<i64>,
    owner: String,
    front: String,
    channel: String,
    key_index: i64,
    provider: String,
    model: String,
    upstream_model: String,
    upstream_id: String,
    upstream_ref: Option<String>,
    spec: String,
    state: String,
    progress: i64,
    failure_code: Option<String>,
    failure_message: Option<String>,
    result_url: Option<String>,
    video_ms: Option<i64>,
    charged_units: i64,
    request_id: String,
    created_at: i64,
    updated_at: i64,
    completed_at: Option<i64>,
    expires_at: Option<i64>,
    deadline_at: i64,
    next_poll_at: i64,
    polls: i64,
    poll_errors: i64,
    lease_owner: Option<String>,
    lease_until: i64,
    version: i64,
    deleted: bool,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(r: TaskRow) -> StoreResult<Self> {
        let bad = |what: &str, v: &str| StoreError::Invalid(format!("stored task {what} `{v}`"));
        let front = Front::parse(&r.front).ok_or_else(|| bad("front", &r.front))?;
        let provider = ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == r.provider)
            .ok_or_else(|| bad("provider", &r.provider))?;
        let state = TaskState::parse(&r.state).ok_or_else(|| bad("state", &r.state))?;
        let spec: TaskSpec =
            serde_json::from_str(&r.spec).map_err(|e| bad("spec", &e.to_string()))?;
        let failure = match (r.failure_code, r.failure_message) {
            (None, None) => None,
            (code, message) => Some(TaskFailure {
                code: code.unwrap_or_default(),
                message: message.unwrap_or_default(),
            }),
        };
        let small = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Task {
            id: r.id,
            token_id: r.token_id,
            owner: r.owner,
            front,
            channel: r.channel,
            key_index: small(r.key_index),
            provider,
            model: r.model,
            upstream_model: r.upstream_model,
            upstream_id: r.upstream_id,
            upstream_ref: r.upstream_ref,
            spec,
            state,
            progress: u8::try_from(r.progress.clamp(0, 100)).unwrap_or(100),
            failure,
            result_url: r.result_url,
            video_ms: r.video_ms.map(|ms| u64::try_from(ms).unwrap_or(0)),
            charged_units: r.charged_units,
            request_id: r.request_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
            expires_at: r.expires_at,
            deadline_at: r.deadline_at,
            next_poll_at: r.next_poll_at,
            polls: small(r.polls),
            poll_errors: small(r.poll_errors),
            lease_owner: r.lease_owner,
            lease_until: r.lease_until,
            version: r.version,
            deleted: r.deleted,
        })
    }
}
