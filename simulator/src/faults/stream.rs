//! Stream faults: turns the events of a streamed body (SSE, or a streamed JSON array) into
//! scripted steps that cut, stall, drip, truncate, break, pad, end early or end in the
//! provider's error event.
//! Owns event-level faults; must never touch the connection.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::Rng;

use super::spec::{Fault, FaultSet};
use super::transform::pad_json;
use crate::errors::{stream_error_body, stream_error_event, Echo};
use crate::http::body::Step;
use crate::http::reply::{ARRAY_END, ARRAY_SEP, BINARY_CHUNK};
use crate::Provider;

/// How a streamed body divides into events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-sent events, each ending in a blank line (`\n\n`, or `\r\n\r\n` as Google
    /// writes them).
    Sse,
    /// A JSON array streamed element by element; its closing `]` is the last event.
    JsonArray,
    /// Binary content in chunks of [`BINARY_CHUNK`] bytes: cut, stalled, dripped and
    /// truncated like events; `malformed`, `oversize` and `error-event` do not apply.
    Binary,
}

impl Framing {
    /// Splits a body into its events.
    pub(crate) fn split(self, bytes: &Bytes) -> Vec<Bytes> {
        match self {
            Framing::Sse => split_events(bytes),
            Framing::JsonArray => split_array(bytes),
            Framing::Binary => (0..bytes.len())
                .step_by(BINARY_CHUNK)
                .map(|at| bytes.slice(at..(at + BINARY_CHUNK).min(bytes.len())))
                .collect(),
        }
    }

    /// Whether faults that rewrite content (`malformed`, `oversize`, `error-event`) apply.
    fn has_events(self) -> bool {
        match self {
            Framing::Sse | Framing::JsonArray => true,
            Framing::Binary => false,
        }
    }

    /// The provider's error event in this framing: for an array, one more element (or the
    /// only one) and the closing `]`.
    fn error_event(self, provider: Provider, echo: Option<&Echo>, first: bool) -> Bytes {
        match self {
            Framing::Sse | Framing::Binary => stream_error_event(provider, echo),
            Framing::JsonArray => {
                let body = serde_json::to_vec_pretty(&stream_error_body(provider, echo))
                    .unwrap_or_default();
                let lead: &[u8] = if first { b"[" } else { ARRAY_SEP };
                [lead, &body, ARRAY_END].concat().into()
            }
        }
    }
}

/// Splits an SSE body after each blank line (`\n\n` or `\r\n\r\n`).
pub(crate) fn split_events(bytes: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        let end = if bytes[i..].starts_with(b"\n\n") {
            i + 2
        } else if bytes[i..].starts_with(b"\r\n\r\n") {
            i + 4
        } else {
            i += 1;
            continue;
        };
        out.push(bytes.slice(start..end));
        start = end;
        i = end;
    }
    if start < bytes.len() {
        out.push(bytes.slice(start..));
    }
    out
}

/// Splits a streamed JSON array before each element separator and before its closing `]`.
fn split_array(bytes: &Bytes) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = bytes
        .windows(ARRAY_SEP.len())
        .enumerate()
        .filter(|(_, w)| *w == ARRAY_SEP)
        .map(|(i, _)| i)
        .collect();
    if bytes.ends_with(ARRAY_END) {
        cuts.push(bytes.len() - ARRAY_END.len());
    }
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > start {
            out.push(bytes.slice(start..cut));
            start = cut;
        }
    }
    out
}

/// Breaks an event: keeps its lead (`data: `, up to its JSON) and half of the rest, and its
/// blank-line ending if it has one.
fn break_event(e: &[u8]) -> Vec<u8> {
    let ending: &[u8] = [b"\r\n\r\n".as_slice(), b"\n\n"]
        .into_iter()
        .find(|t| e.ends_with(t))
        .unwrap_or(b"");
    let data = e
        .windows(6)
        .position(|w| w == b"data: ")
        .map(|p| p + 6)
        .or_else(|| e.iter().position(|b| *b == b'{'))
        .unwrap_or(0);
    let keep = data + e.len().saturating_sub(data + ending.len()) / 2;
    let mut broken = e[..keep.max(data)].to_vec();
    broken.extend_from_slice(ending);
    broken
}

/// The index of a stream's final event: its last, or the one before a closing `[DONE]`.
fn final_event(events: &[Bytes]) -> Option<usize> {
    let last = events.len().checked_sub(1)?;
    let done = events[last].windows(6).any(|w| w == b"[DONE]");
    Some(if done { last.saturating_sub(1) } else { last })
}

pub(crate) fn stream_steps(
    provider: Provider,
    framing: Framing,
    faults: &FaultSet,
    rng: &mut SmallRng,
    mut events: Vec<Bytes>,
    echo: Option<&Echo>,
    record: impl Fn(&str),
) -> Vec<Step> {
    let events_apply = framing.has_events();
    if let Some(n) = faults.find(|f| match f {
        Fault::Oversize(n) if events_apply => Some(*n),
        _ => None,
    }) {
        let target = events
            .iter()
            .enumerate()
            .skip(1)
            .chain(events.iter().enumerate().take(1))
            .find_map(|(i, e)| e.iter().position(|b| *b == b'{').map(|p| (i, p)));
        if let Some((i, at)) = target {
            if let Some(padded) = pad_json(&events[i], at, n) {
                events[i] = padded.into();
                record("oversize");
            }
        }
    }
    if events_apply && faults.has(&Fault::Malformed) && !events.is_empty() {
        let i = usize::from(events.len() > 1);
        events[i] = break_event(&events[i]).into();
        record("malformed");
    }
    if faults.has(&Fault::NoDone) && events.pop().is_some() {
        record("no-done");
    }
    if let Some(n) = faults.find(|f| match f {
        Fault::ErrorEvent(n) if events_apply => Some(*n),
        _ => None,
    }) {
        events.truncate(n.unwrap_or(2));
        events.push(framing.error_event(provider, echo, events.is_empty()));
        record("error-event");
        if echo.is_some() {
            record("echo-key");
        }
    }
    let before_final = final_event(&events).unwrap_or(0);
    let cut = faults.find(|f| match f {
        Fault::Cut(n) => Some((*n, Step::Abort, "cut")),
        Fault::CutBeforeCompleted if framing == Framing::Sse => {
            Some((before_final, Step::Abort, "cut-before-completed"))
        }
        _ => None,
    });
    let stall = faults.find(|f| match f {
        Fault::StallAfter(n) => Some((*n, Step::Stall, "stall-after")),
        _ => None,
    });
    let terminal = match (cut, stall) {
        (Some(c), Some(s)) => Some(if s.0 < c.0 { s } else { c }),
        (c, s) => c.or(s),
    };
    let mut end = None;
    if let Some((n, step, kind)) = terminal {
        events.truncate(n);
        end = Some(step);
        record(kind);
    }
    let drip = faults.find(|f| match f {
        Fault::Drip(lo, hi) => Some((*lo, *hi)),
        _ => None,
    });
    if drip.is_some() && !events.is_empty() {
        record("drip");
    }
    let mut budget = faults.find(|f| match f {
        Fault::Truncate(n) => Some(*n),
        _ => None,
    });
    let mut steps = vec![Step::Flush];
    for e in events {
        if let Some((lo, hi)) = drip {
            steps.push(Step::Pause(rng.random_range(lo..=hi)));
        }
        if let Some(left) = budget.as_mut() {
            if e.len() >= *left {
                if *left > 0 {
                    steps.push(Step::Data(e.slice(..*left)));
                }
                steps.extend([Step::Flush, Step::Abort]);
                record("truncate");
                return steps;
            }
            *left -= e.len();
        }
        steps.push(Step::Data(e));
    }
    if let Some(step) = end {
        steps.extend([Step::Flush, step]);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn events() -> Vec<Bytes> {
        (0..5)
            .map(|i| Bytes::from(format!("data: {{\"n\":{i}}}\n\n")))
            .chain([Bytes::from_static(b"data: [DONE]\n\n")])
            .collect()
    }

    fn run(spec: &str) -> Vec<Step> {
        let mut rng = SmallRng::seed_from_u64(1);
        stream_steps(
            Provider::OpenAi,
            Framing::Sse,
            &FaultSet::parse(spec).unwrap(),
            &mut rng,
            events(),
            None,
            |_| {},
        )
    }

    fn data(steps: &[Step]) -> Vec<Bytes> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Data(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn splits_events() {
        let all: Vec<u8> = events().concat();
        assert_eq!(split_events(&Bytes::from(all)), events());
        let crlf = Bytes::from_static(b"data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n");
        assert_eq!(split_events(&crlf).len(), 2);
        let frames = crate::http::reply::array_frames([b"{}".to_vec(), b"{\n}".to_vec()]);
        assert_eq!(split_array(&Bytes::from(frames.concat())), frames);
    }

    #[test]
    fn faults_on_a_json_array() {
        let frames = crate::http::reply::array_frames(
            (0..4).map(|i| format!("{{\"n\": {i}}}").into_bytes()),
        );
        let steps = |spec: &str| {
            let mut rng = SmallRng::seed_from_u64(1);
            let all = Bytes::from(frames.concat());
            data(&stream_steps(
                Provider::Gemini,
                Framing::JsonArray,
                &FaultSet::parse(spec).unwrap(),
                &mut rng,
                Framing::JsonArray.split(&all),
                None,
                |_| {},
            ))
            .concat()
        };
        let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b);
        assert!(parse(&steps("none")).unwrap().is_array());
        assert!(parse(&steps("no-done")).is_err());
        let v = parse(&steps("error-event=2")).unwrap();
        assert_eq!(v[2]["error"]["code"], 503);
        assert_eq!(v.as_array().unwrap().len(), 3);
        let v = parse(&steps("error-event=0")).unwrap();
        assert_eq!(v[0]["error"]["status"], "UNAVAILABLE");
        assert!(parse(&steps("malformed")).is_err());
        let v = parse(&steps("oversize=300")).unwrap();
        assert_eq!(v[1]["n"], 1);
    }

    #[test]
    fn google_error_event_breaks_sse_framing() {
        let mut rng = SmallRng::seed_from_u64(1);
        let events = vec![Bytes::from_static(b"data: {\"a\": 1}\r\n\r\n"); 3];
        let s = stream_steps(
            Provider::Gemini,
            Framing::Sse,
            &FaultSet::parse("error-event=1").unwrap(),
            &mut rng,
            events,
            None,
            |_| {},
        );
        let d = data(&s);
        assert_eq!(d.len(), 2);
        let raw = String::from_utf8_lossy(&d[1]);
        assert!(raw.starts_with("{\n  \"error\": {"), "{raw}");
        let broken = break_event(b"data: {\"abcdef\": 1}\r\n\r\n");
        assert!(broken.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn cut_stall_no_done_error_event() {
        let s = run("cut=2");
        assert_eq!(data(&s).len(), 2);
        assert_eq!(s.last(), Some(&Step::Abort));
        let s = run("stall-after=3");
        assert_eq!(data(&s).len(), 3);
        assert_eq!(s.last(), Some(&Step::Stall));
        let s = run("no-done");
        assert_eq!(data(&s).len(), 5);
        assert!(!data(&s).iter().any(|e| e.as_ref() == b"data: [DONE]\n\n"));
        let s = run("error-event=1");
        let d = data(&s);
        assert_eq!(d.len(), 2);
        assert!(String::from_utf8_lossy(&d[1]).contains("\"error\""));
    }

    #[test]
    fn cut_before_completed_and_binary() {
        let s = run("cut-before-completed");
        assert_eq!(data(&s).len(), 4);
        assert_eq!(s.last(), Some(&Step::Abort));
        let mut rng = SmallRng::seed_from_u64(1);
        let body = Bytes::from(vec![7u8; BINARY_CHUNK * 3 + 5]);
        let chunks = Framing::Binary.split(&body);
        assert_eq!(chunks.len(), 4);
        let s = stream_steps(
            Provider::OpenAi,
            Framing::Binary,
            &FaultSet::parse("malformed, oversize=1MiB, error-event=1, cut=2").unwrap(),
            &mut rng,
            chunks,
            None,
            |_| {},
        );
        assert_eq!(data(&s).concat(), body.slice(..BINARY_CHUNK * 2));
        assert_eq!(s.last(), Some(&Step::Abort));
    }

    #[test]
    fn truncate_drip_oversize_malformed() {
        let s = run("truncate=20");
        let total: usize = data(&s).iter().map(Bytes::len).sum();
        assert_eq!(total, 20);
        assert_eq!(s.last(), Some(&Step::Abort));
        let s = run("drip=1ms..2ms");
        assert_eq!(s.iter().filter(|x| matches!(x, Step::Pause(_))).count(), 6);
        let s = run("oversize=1000");
        let big = &data(&s)[1];
        assert_eq!(big.len(), 1000);
        let json: serde_json::Value = serde_json::from_slice(&big[6..big.len() - 2]).unwrap();
        assert_eq!(json["n"], 1);
        let s = run("malformed");
        let broken = &data(&s)[1];
        assert!(serde_json::from_slice::<serde_json::Value>(&broken[6..broken.len() - 2]).is_err());
    }
}
