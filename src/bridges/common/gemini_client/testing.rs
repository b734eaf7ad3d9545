//! Test support for the stream converters to a Gemini client: upstream bytes fed through the
//! SSE parser in pieces, and the Gemini chunks read back.
//!
//! Owns: [`feed`] and [`chunks`]. Must never: be compiled outside tests.

use bytes::Bytes;
use serde_json::Value;

use crate::stream::sse::SseParser;
use crate::stream::Transform;
use crate::wire::ConvertError;

/// Every chunk written, parsed; each must be framed `data: <json>\r\n\r\n`.
pub(crate) fn chunks(out: &[Bytes]) -> Vec<Value> {
    out.iter()
        .map(|b| {
            let s = std::str::from_utf8(b).expect("utf-8");
            let json = s
                .strip_prefix("data: ")
                .and_then(|s| s.strip_suffix("\r\n\r\n"))
                .unwrap_or_else(|| panic!("not a Gemini frame: {s:?}"));
            serde_json::from_str(json).expect("a chunk is JSON")
        })
        .collect()
}

/// `bytes` fed to `t` in pieces cut at `cuts` (sorted, deduplicated, within the length),
/// then the end of the upstream: the chunks written and how the stream ended.
pub(crate) fn feed(
    t: &mut dyn Transform,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<Value>, Result<(), ConvertError>) {
    let mut parser = SseParser::new(1 << 22);
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut from = 0;
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|c| *c < bytes.len()).collect();
    ends.sort_unstable();
    ends.dedup();
    ends.push(bytes.len());
    for to in ends {
        if to <= from {
            continue;
        }
        parser.push(&bytes[from..to], &mut events).expect("parses");
        from = to;
        for ev in events.drain(..) {
            if let Err(e) = t.on_event(&ev, &mut out) {
                return (chunks(&out), Err(e));
            }
        }
    }
    parser.finish(&mut events);
    for ev in events.drain(..) {
        if let Err(e) = t.on_event(&ev, &mut out) {
            return (chunks(&out), Err(e));
        }
    }
    let end = t.on_end(&mut out);
    (chunks(&out), end)
}

/// Every byte its own piece.
pub(crate) fn bytewise(len: usize) -> Vec<usize> {
    (1..len).collect()
}

/// The text and the function calls of the chunks, in order, as (thought?, text) and calls.
pub(crate) fn said(chunks: &[Value]) -> (String, String, Vec<Value>) {
    let (mut text, mut thought, mut calls) = (String::new(), String::new(), Vec::new());
    for c in chunks {
        let parts = c["candidates"][0]["content"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for p in parts {
            if let Some(f) = p.get("functionCall") {
                calls.push(f.clone());
            } else if p["thought"] == true {
                thought.push_str(p["text"].as_str().unwrap_or(""));
            } else {
                text.push_str(p["text"].as_str().unwrap_or(""));
            }
        }
    }
    (text, thought, calls)
}
