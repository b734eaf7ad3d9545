//! The video fronts: OpenAI's video API, the one-api family's `/v1/video/generations`, and
//! providers' native routes, over one store of tasks.
//!
//! Owns: what each route does with an authenticated caller (create, retrieve, list, delete,
//! remix, content), the rule that a task is seen only by the caller that created it (its store
//! token, or its file token's name), and reading the store for every poll (a client's GET never
//! calls the upstream, except a refresh asked for and rate-limited per task).
//! Must never: show another caller's task (an unknown id and a stranger's id answer the same
//! 404), show the upstream's ids or URLs, or hold a content download past its deadlines.

pub(crate) mod content;
pub(crate) mod create;
pub(crate) mod manage;
pub(crate) mod native;
pub(crate) mod object;
pub(crate) mod refresh;
pub(crate) mod request;

use crate::error::RelayError;
use crate::relay::Caller;
use crate::routing::Channel;
use crate::state::AppState;
use crate::store::Store;
use crate::tasks::callback::Callbacks;
use crate::tasks::Task;
use std::sync::Arc;

/// What a video route works with.
pub(crate) struct Ctx<'a> {
    pub state: &'a AppState,
    pub callbacks: &'a Callbacks,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(state: &'a AppState) -> Self {
        Self {
            state,
            callbacks: &state.callbacks,
        }
    }

    /// The store of tasks; video needs one.
    pub(crate) fn store(&self) -> Result<&'a Store, RelayError> {
        self.state
            .metered
            .as_ref()
            .map(|m| &m.store)
            .ok_or_else(|| {
                RelayError::TasksUnavailable(
                    "video tasks need a store: configure [store] (demo mode has one)".to_owned(),
                )
            })
    }

    /// The channel a task runs on, by name.
    pub(crate) fn channel_of(&self, task: &Task) -> Result<Arc<Channel>, RelayError> {
        self.state
            .routes
            .channels()
            .iter()
            .find(|c| c.name == task.channel)
            .cloned()
            .ok_or_else(|| {
                RelayError::BadRequest(format!(
                    "the video's channel `{}` is no longer configured",
                    task.channel
                ))
            })
    }

    /// The caller's task `id` (not deleted), or the 404 an unknown id gets.
    pub(crate) async fn owned(&self, caller: &Caller, id: &str) -> Result<Task, RelayError> {
        let store = self.store()?;
        let missing = || {
            RelayError::NotFound(format!(
                "Video with id '{}' not found.",
                crate::client_text::clip(id, 64)
            ))
        };
        if !id.starts_with("video_") || id.len() > 64 {
            return Err(missing());
        }
        let task = store
            .get_task(id)
            .await
            .map_err(|e| RelayError::TasksUnavailable(format!("the task store failed: {e}")))?
            .ok_or_else(missing)?;
        if task.deleted || !is_owner(&task, caller) {
            return Err(missing());
        }
        Ok(task)
    }
}

/// Whether `caller` created `task`.
pub(crate) fn is_owner(task: &Task, caller: &Caller) -> bool {
    match caller {
        Caller::Store(e) => task.token_id == Some(e.id),
        Caller::File(t) => task.token_id.is_none() && task.owner == t.name,
    }
}

/// The owner filter of a caller's list.
pub(crate) fn owner_of(caller: &Caller) -> crate::store::tasks::Owner<'_> {
    match caller {
        Caller::Store(e) => crate::store::tasks::Owner {
            token_id: Some(e.id),
            name: &e.name,
        },
        Caller::File(t) => crate::store::tasks::Owner {
            token_id: None,
            name: &t.name,
        },
    }
}

/// A store failure as the client's 503.
pub(crate) fn store_failed(e: crate::store::StoreError) -> RelayError {
    RelayError::TasksUnavailable(format!("the task store failed: {e}"))
}
