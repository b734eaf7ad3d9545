//! The transform of one stream's events on their way to the client: what a provider's
//! pass-through reader and a bridge's stream converter both are.
//!
//! Owns: the [`Transform`] interface: events in (upstream format), bytes out (client format),
//! the end of the upstream, the usage read on the way, and whether the stream ended with the
//! upstream's own error event.
//! Must never: accumulate content (every implementation keeps bounded state per stream).

use super::sse::SseEvent;
use crate::wire::{ConvertError, MediaUsage, Usage};
use bytes::Bytes;

/// One stream's events, upstream format in, client format out.
pub trait Transform: Send {
    /// One upstream event: what to send the client is appended to `out`.
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<Bytes>) -> Result<(), ConvertError>;

    /// The upstream ended: anything left to send is appended to `out`. An error when it ended
    /// before its terminator (the answer was cut).
    fn on_end(&mut self, out: &mut Vec<Bytes>) -> Result<(), ConvertError>;

    /// The usage read so far.
    fn usage(&self) -> Option<Usage>;

    /// The media units read so far (images, audio seconds), for media streams.
    fn media(&self) -> Option<MediaUsage> {
        None
    }

    /// Whether the stream ended with the upstream's own in-stream error event (forwarded).
    fn upstream_failed(&self) -> bool;
}
