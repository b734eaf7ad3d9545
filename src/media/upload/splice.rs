//! The one change an upload's body may get: its `model` part's value replaced by the upstream's
//! model name, applied to chunks as they pass with their offsets in the body.
//!
//! Owns: cutting the old value out of whichever chunks hold it and putting the new one in its
//! place, once.
//! Must never: change any other byte.

use bytes::Bytes;
use std::ops::Range;

/// Replaces the bytes at `range` with `value`.
pub(super) struct Splice {
    range: Range<u64>,
    value: Option<Bytes>,
}

impl Splice {
    pub(super) fn new(range: Range<u64>, value: Bytes) -> Self {
        Self {
            range,
            value: Some(value),
        }
    }

    /// The pieces to send for the chunk at offset `at`.
    pub(super) fn apply(&mut self, at: u64, chunk: Bytes) -> Vec<Bytes> {
        let end = at + chunk.len() as u64;
        let (s, e) = (self.range.start, self.range.end);
        if end <= s || at >= e && self.value.is_none() {
            return vec![chunk];
        }
        let mut out = Vec::with_capacity(3);
        let local = |o: u64| (o.clamp(at, end) - at) as usize;
        if at < s {
            out.push(chunk.slice(..local(s)));
        }
        if let Some(v) = self.value.take() {
            out.push(v);
        }
        if end > e {
            out.push(chunk.slice(local(e)..));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spliced(chunks: &[&str], range: Range<u64>, value: &str) -> String {
        let mut s = Splice::new(range, Bytes::copy_from_slice(value.as_bytes()));
        let mut at = 0;
        let mut out = Vec::new();
        for c in chunks {
            for p in s.apply(at, Bytes::copy_from_slice(c.as_bytes())) {
                out.extend_from_slice(&p);
            }
            at += c.len() as u64;
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_value_is_replaced_wherever_the_chunks_split_it() {
        let body = "aaaa\r\nwhisper-1\r\n--b";
        let range = 6..15;
        for cut in 0..=body.len() {
            for cut2 in cut..=body.len() {
                let chunks = [&body[..cut], &body[cut..cut2], &body[cut2..]];
                assert_eq!(
                    spliced(&chunks, range.clone(), "upstream-whisper"),
                    "aaaa\r\nupstream-whisper\r\n--b",
                    "cuts {cut} {cut2}"
                );
            }
        }
    }

    #[test]
    fn chunks_before_and_after_pass_untouched() {
        assert_eq!(spliced(&["ab", "cd", "ef"], 2..4, "XY"), "abXYef");
        assert_eq!(spliced(&["abcdef"], 0..6, ""), "");
    }
}
