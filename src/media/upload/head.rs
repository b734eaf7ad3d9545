//! Reading an upload's head: the client's bytes up to its `model` part and the text parts that
//! follow it until the first file (or `memory` more bytes), kept for every attempt.
//!
//! Owns: when the head ends, what it learns on the way (the `model` value and where it lies,
//! the other text fields), and the errors of a head (no `model`, a broken framing, a spool
//! that cannot be written).
//! Must never: read past the first file part after `model` (that is the live rest), or keep a
//! text field longer than `scan::MAX_TEXT`.

use super::fault::Fault;
use super::scan::{Event, ScanError, Scanner};
use super::source::Source;
use super::spool::{Frozen, Held};
use super::UploadLimits;
use crate::error::RelayError;
use std::ops::Range;

/// What an upload's head holds.
pub(super) struct Head {
    pub held: Frozen,
    pub model: String,
    /// Where the `model` part's value lies in the body.
    pub model_at: Range<u64>,
    /// The text parts read, `model` aside, in order.
    pub fields: Vec<(String, String)>,
    /// Whether the client's body ended inside the head (then it is all re-readable).
    pub complete: bool,
}

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum HeadError {
    #[error(transparent)]
    Client(#[from] Fault),
    #[error("the multipart body could not be read: {0}")]
    Framing(#[from] ScanError),
    #[error("you must provide a model parameter")]
    NoModel,
    #[error("the upload could not be spooled: {0}")]
    Spool(#[from] std::io::Error),
}

impl HeadError {
    pub(super) fn to_relay(&self) -> RelayError {
        match self {
            Self::Client(f) => f.to_relay(),
            Self::Framing(_) | Self::NoModel => RelayError::BadRequest(self.to_string()),
            Self::Spool(e) => {
                tracing::warn!(error = %e, "an upload's spool could not be written");
                RelayError::Internal
            }
        }
    }
}

/// Reads `source` up to the end of its head.
pub(super) async fn read(
    source: &mut Source,
    boundary: &str,
    limits: &UploadLimits,
) -> Result<Head, HeadError> {
    let mut scanner = Scanner::new(boundary);
    let mut held = Held::new(limits.memory, limits.spool_dir.clone());
    let mut model: Option<(String, Range<u64>)> = None;
    let mut fields = Vec::new();
    let mut events = Vec::new();
    let mut after_model = 0usize;
    let complete = loop {
        let Some(chunk) = source.next().await? else {
            break true;
        };
        scanner.feed(&chunk, &mut events)?;
        if model.is_some() {
            after_model += chunk.len();
        }
        held.push(chunk).await?;
        let mut file_after_model = false;
        for e in events.drain(..) {
            match e {
                Event::Part {
                    name,
                    file: false,
                    text,
                    value_at,
                } => match (name.as_str(), &model) {
                    ("model", None) => {
                        model = Some((text.ok_or(HeadError::NoModel)?, value_at));
                    }
                    (_, _) => fields.extend(text.map(|t| (name, t))),
                },
                Event::Part { file: true, .. } => {}
                Event::FileStarts { .. } => file_after_model |= model.is_some(),
                Event::End => {}
            }
        }
        if model.is_some() && (file_after_model || after_model >= limits.memory) {
            break false;
        }
    };
    let (model, model_at) = model.ok_or(HeadError::NoModel)?;
    if model.trim().is_empty() {
        return Err(HeadError::NoModel);
    }
    Ok(Head {
        held: held.freeze().await?,
        model,
        model_at,
        fields,
        complete,
    })
}
