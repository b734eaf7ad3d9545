//! Test helpers of the stream bodies: what a request holds without a channel, and an upstream
//! body cut into chunks at arbitrary points.
//!
//! Owns: [`held`] and [`cut`], for the unit and property tests of `body`, `raw` and the media
//! event pass-through. Must never: be compiled outside tests.

use super::Held;
use crate::monitor::Ledger;
use crate::relay::Record;
use crate::wire::Endpoint;
use bytes::Bytes;
use std::sync::Arc;

/// What a stream of `endpoint` holds when no channel is involved: a record and the open-stream
/// count on `ledger`, no lease.
pub(crate) fn held(endpoint: Endpoint, ledger: &Arc<Ledger>) -> Held {
    Held {
        record: Record::new("t".into(), endpoint, ledger),
        open: ledger.open_stream(),
        lease: None,
    }
}

/// `bytes` in chunks cut at `cuts` (each taken modulo the length, in order; empty chunks kept).
pub(crate) fn cut(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    at.push(bytes.len());
    let mut chunks = Vec::with_capacity(at.len());
    let mut from = 0;
    for to in at {
        chunks.push(Bytes::copy_from_slice(&bytes[from..to]));
        from = to;
    }
    chunks
}
