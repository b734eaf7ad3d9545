//! Body faults: rewrites a finished response (JSON or SSE) into a scripted body that
//! truncates, cuts, stalls, drips, breaks, pads or ends early. This file does JSON bodies
//! and the dispatch; `stream.rs` does event streams.
//! Owns body-level faults; must never touch the connection (reset/blackhole are elsewhere).

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use rand::rngs::SmallRng;

use super::spec::{Fault, FaultSet};
use super::stream::{stream_steps, Framing};
use crate::errors::Echo;
use crate::http::body::{ScriptBody, Step};
use crate::http::reply::{BinaryBody, JsonArrayStream};
use crate::stats::StatsRecorder;
use crate::Provider;

const PAD_FIELD: &str = "\"sim_padding\":\"";

fn is_body_fault(f: &Fault) -> bool {
    matches!(
        f,
        Fault::Truncate(_)
            | Fault::Cut(_)
            | Fault::StallAfter(_)
            | Fault::Drip(..)
            | Fault::Malformed
            | Fault::Oversize(_)
            | Fault::ErrorEvent(_)
            | Fault::NoDone
            | Fault::StallDownload(_)
            | Fault::CutBeforeCompleted
    )
}

/// Applies the body faults of `faults` to `res` (a response whose body is already complete);
/// `echo` is the request's key for an `error-event` that repeats it.
pub(crate) async fn apply(
    provider: Provider,
    faults: &FaultSet,
    rng: &mut SmallRng,
    stats: &StatsRecorder,
    echo: Option<&Echo>,
    res: Response,
) -> Response {
    if !faults.0.iter().any(is_body_fault) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let sse = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let binary = parts.extensions.get::<BinaryBody>().copied();
    let framing = if parts.extensions.get::<JsonArrayStream>().is_some() {
        Some(Framing::JsonArray)
    } else if binary.is_some() {
        Some(Framing::Binary)
    } else {
        sse.then_some(Framing::Sse)
    };
    let record = |kind: &str| stats.fault(kind);
    let (mut steps, exact) = match framing {
        Some(f) => {
            let events = f.split(&bytes);
            let exact = binary
                .is_some_and(|b| b.exact)
                .then_some(bytes.len() as u64);
            (
                stream_steps(provider, f, faults, rng, events, echo, record),
                exact,
            )
        }
        None => json_steps(faults, &bytes, record),
    };
    if let Some(at) = faults.find(|f| match f {
        Fault::StallDownload(n) => Some(n.unwrap_or(bytes.len() / 2)),
        _ => None,
    }) {
        if stall_after_bytes(&mut steps, at) {
            record("stall-download");
        }
    }
    Response::from_parts(parts, Body::new(ScriptBody::new(steps, exact)))
}

/// Cuts `steps` after `at` bytes of data, then stalls (sends nothing more, stays open);
/// false when the body is not that long.
fn stall_after_bytes(steps: &mut Vec<Step>, at: usize) -> bool {
    let mut left = at;
    for i in 0..steps.len() {
        let Step::Data(b) = &steps[i] else { continue };
        if b.len() > left {
            let head = b.slice(..left);
            steps.truncate(i);
            if !head.is_empty() {
                steps.push(Step::Data(head));
            }
            steps.extend([Step::Flush, Step::Stall]);
            return true;
        }
        left -= b.len();
    }
    false
}

/// Pads the JSON object starting at `at` in `body` so the whole is `target` bytes long.
pub(crate) fn pad_json(body: &[u8], at: usize, target: usize) -> Option<Vec<u8>> {
    let empty = body[at + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let overhead = PAD_FIELD.len() + 1 + usize::from(!empty);
    let fill = target
        .checked_sub(body.len() + overhead)
        .filter(|n| *n > 0)?;
    let mut out = Vec::with_capacity(target);
    out.extend_from_slice(&body[..=at]);
    out.extend_from_slice(PAD_FIELD.as_bytes());
    out.resize(out.len() + fill, b'x');
    out.push(b'"');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&body[at + 1..]);
    Some(out)
}

fn json_steps(faults: &FaultSet, bytes: &Bytes, record: impl Fn(&str)) -> (Vec<Step>, Option<u64>) {
    let mut body = bytes.to_vec();
    if let Some(n) = faults.find(|f| match f {
        Fault::Oversize(n) => Some(*n),
        _ => None,
    }) {
        let at = body.iter().position(|b| *b == b'{');
        if let Some(padded) = at.and_then(|at| pad_json(&body, at, n)) {
            body = padded;
            record("oversize");
        }
    }
    if faults.has(&Fault::Malformed) {
        body.truncate((body.len() / 2).max(1));
        record("malformed");
    }
    let len = body.len();
    let body = Bytes::from(body);
    let truncate = faults.find(|f| match f {
        Fault::Truncate(n) => Some(*n),
        _ => None,
    });
    let steps = match truncate {
        Some(n) if n < len => {
            record("truncate");
            vec![
                Step::Flush,
                Step::Data(body.slice(..n)),
                Step::Flush,
                Step::Abort,
            ]
        }
        _ => vec![Step::Data(body)],
    };
    (steps, Some(len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::Step;

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
    fn json_faults() {
        let body = Bytes::from_static(br#"{"a":1,"b":"two"}"#);
        let (s, len) = json_steps(&FaultSet::parse("truncate=5").unwrap(), &body, |_| {});
        assert_eq!(len, Some(body.len() as u64));
        assert_eq!(data(&s), vec![body.slice(..5)]);
        let (s, len) = json_steps(&FaultSet::parse("oversize=100").unwrap(), &body, |_| {});
        assert_eq!(len, Some(100));
        let v: serde_json::Value = serde_json::from_slice(&data(&s)[0]).unwrap();
        assert_eq!(v["b"], "two");
        let empty = pad_json(b"{}", 0, 40).unwrap();
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).is_ok());
        let (s, _) = json_steps(&FaultSet::parse("malformed").unwrap(), &body, |_| {});
        assert!(serde_json::from_slice::<serde_json::Value>(&data(&s)[0]).is_err());
        let (mut s, _) = json_steps(&FaultSet::default(), &body, |_| {});
        assert!(stall_after_bytes(&mut s, 4));
        assert_eq!(data(&s), vec![body.slice(..4)]);
        assert_eq!(s.last(), Some(&Step::Stall));
        let (mut s, _) = json_steps(&FaultSet::default(), &body, |_| {});
        assert!(!stall_after_bytes(&mut s, 100));
    }
}
