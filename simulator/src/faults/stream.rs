//! Stream faults: turns the events of an SSE body into scripted steps that cut, stall,
//! drip, truncate, break, pad, end early or end in the provider's error event.
//! Owns event-level faults; must never touch the connection.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::Rng;

use super::spec::{Fault, FaultSet};
use super::transform::pad_json;
use crate::errors::{stream_error_event, Echo};
use crate::http::body::Step;
use crate::Provider;

/// Splits an SSE body after each blank line.
pub(crate) fn split_events(bytes: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if &bytes[i..i + 2] == b"\n\n" {
            out.push(bytes.slice(start..i + 2));
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < bytes.len() {
        out.push(bytes.slice(start..));
    }
    out
}

pub(crate) fn stream_steps(
    provider: Provider,
    faults: &FaultSet,
    rng: &mut SmallRng,
    mut events: Vec<Bytes>,
    echo: Option<&Echo>,
    record: impl Fn(&str),
) -> Vec<Step> {
    if let Some(n) = faults.find(|f| match f {
        Fault::Oversize(n) => Some(*n),
        _ => None,
    }) {
        let target = events
            .iter()
            .enumerate()
            .skip(1)
            .chain(events.iter().enumerate().take(1))
            .find_map(|(i, e)| {
                e.windows(7)
                    .position(|w| w == b"data: {")
                    .map(|p| (i, p + 6))
            });
        if let Some((i, at)) = target {
            if let Some(padded) = pad_json(&events[i], at, n) {
                events[i] = padded.into();
                record("oversize");
            }
        }
    }
    if faults.has(&Fault::Malformed) && !events.is_empty() {
        let i = usize::from(events.len() > 1);
        let e = &events[i];
        let data = e
            .windows(6)
            .position(|w| w == b"data: ")
            .map_or(0, |p| p + 6);
        let keep = data + (e.len().saturating_sub(data + 2)) / 2;
        let mut broken = e[..keep.max(data)].to_vec();
        broken.extend_from_slice(b"\n\n");
        events[i] = broken.into();
        record("malformed");
    }
    if faults.has(&Fault::NoDone) && events.pop().is_some() {
        record("no-done");
    }
    if let Some(n) = faults.find(|f| match f {
        Fault::ErrorEvent(n) => Some(*n),
        _ => None,
    }) {
        events.truncate(n.unwrap_or(2));
        events.push(stream_error_event(provider, echo));
        record("error-event");
        if echo.is_some() {
            record("echo-key");
        }
    }
    let cut = faults.find(|f| match f {
        Fault::Cut(n) => Some((*n, Step::Abort, "cut")),
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
