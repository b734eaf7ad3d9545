//! What a client did wrong while its upload was read: it stalled, took too long, sent too
//! much, or went away; and the cell where the live rest leaves it for the attempt loop.
//!
//! Owns: [`Fault`] and its client-facing error (`RelayError`), and [`FaultCell`], shared by an
//! upload and the body it gave an attempt.
//! Must never: hold anything but the fault (no bytes, no body).

use crate::error::RelayError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The client's fault that ended the reading of its upload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Fault {
    #[error("the upload stalled: no data for {0:?}")]
    Stalled(Duration),
    #[error("the upload was not complete within {0:?}")]
    TooSlow(Duration),
    #[error("the upload is larger than {limit} bytes ({read} bytes read)")]
    TooLarge { limit: usize, read: u64 },
    #[error("the client ended its upload early ({read} bytes read): {why}")]
    Gone { read: u64, why: String },
}

impl Fault {
    pub(crate) fn to_relay(&self) -> RelayError {
        match self {
            Self::Stalled(_) | Self::TooSlow(_) => RelayError::ClientTimeout(self.to_string()),
            Self::TooLarge { limit, read } => RelayError::UploadTooLarge {
                limit: *limit,
                read: *read,
            },
            // Nobody reads this answer (the client left); its record says why.
            Self::Gone { .. } => RelayError::BadRequest(self.to_string()),
        }
    }
}

/// Where the body streaming an upload's live rest leaves the client's fault that ended it.
#[derive(Clone, Default)]
pub(super) struct FaultCell(Arc<Mutex<Option<Fault>>>);

impl FaultCell {
    pub(super) fn set(&self, fault: Fault) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(fault);
    }

    pub(super) fn get(&self) -> Option<Fault> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
