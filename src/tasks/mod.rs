//! Async jobs: video tasks, from creation to one terminal state.
//!
//! Owns: a task's record ([`Task`]) and its states ([`TaskState`]: the transitions allowed and
//! which are terminal), the poller (`poller`: one supervised job for every task, bounded
//! concurrency, leases, backoff), the charge of a task and its settlement (`billing`), signed
//! callback URLs (`callback`) and what is counted of them (`gauges`).
//! Must never: poll per request or per task (one job polls them all), settle a task twice (every
//! state change is a compare-and-set on the task's version in the store), or show a client the
//! upstream's task id or URLs.

pub mod billing;
pub mod callback;
pub(crate) mod front;
pub mod gauges;
pub mod poller;
mod state;
mod task;

pub use state::{TaskFailure, TaskState};
pub use task::{new_public_id, Front, Task, TaskSpec};
