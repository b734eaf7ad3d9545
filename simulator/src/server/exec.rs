//! The executor hyper uses for HTTP/2 streams: a JoinSet owned by the connection.
//! Owns those stream tasks; must never let one outlive its connection.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinSet;

/// Spawns into a per-connection JoinSet; dropping the last clone aborts what is left.
#[derive(Clone, Default)]
pub(crate) struct ConnExecutor(Arc<Mutex<JoinSet<()>>>);

impl<F> hyper::rt::Executor<F> for ConnExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }
}
