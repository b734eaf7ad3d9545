//! The live rest of an upload: the client's bytes after its head, streamed to the one attempt
//! that takes them, under the client's deadlines and the size bound.
//!
//! Owns: handing the rest to one attempt at a time, taking it back when that attempt dropped
//! its body before asking for a byte of it (a retry may then send it), and leaving the
//! client's fault in the [`FaultCell`] when it ends the rest (the stream's error aborts the
//! upstream request at once).
//! Must never: let two attempts hold the rest, or give it back once a byte of it went out.

use super::fault::FaultCell;
use super::source::Source;
use crate::upstream::BoxError;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use std::sync::{Arc, Mutex, PoisonError};

/// Where the rest waits for an attempt (`None` while one holds it, or after one sent it).
#[derive(Clone)]
pub(super) struct Slot(Arc<Mutex<Option<Source>>>);

impl Slot {
    pub(super) fn new(source: Option<Source>) -> Self {
        Self(Arc::new(Mutex::new(source)))
    }

    pub(super) fn take(&self) -> Option<Source> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put_back(&self, source: Source) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// Bytes the client sent so far, when no attempt holds the rest.
    pub(super) fn read(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Source::read)
    }
}

/// The rest, held by one attempt's body.
struct Taken {
    source: Option<Source>,
    slot: Slot,
    /// Whether a byte of the rest went out (then it can never be sent again).
    sent: bool,
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let (false, Some(source)) = (self.sent, self.source.take()) {
            self.slot.put_back(source);
        }
    }
}

/// The rest as a request body's stream: the client's chunks, then its end, or the client's
/// fault as the stream's error.
pub(super) fn stream(
    source: Source,
    slot: Slot,
    faults: FaultCell,
) -> BoxStream<'static, Result<Bytes, BoxError>> {
    let taken = Taken {
        source: Some(source),
        slot,
        sent: false,
    };
    stream::unfold(Some(taken), move |taken| {
        let faults = faults.clone();
        async move {
            let mut taken = taken?;
            let source = taken.source.as_mut()?;
            match source.next().await {
                Ok(Some(chunk)) => {
                    taken.sent = true;
                    Some((Ok(chunk), Some(taken)))
                }
                Ok(None) => None,
                Err(fault) => {
                    taken.sent = true;
                    faults.set(fault.clone());
                    Some((Err(Box::new(fault) as BoxError), None))
                }
            }
        }
    })
    .boxed()
}
