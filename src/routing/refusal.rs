//! What the relay says by itself when no channel of a model can take a request now: each
//! channel's reason in words and the wait to advise.
//!
//! Owns: the wording of [`RelayError::Unavailable`] and its `retry-after` (the first open
//! circuit's probe, else a short wait), finding the first channel back from a cool-down, and
//! the 400 when the model's channels cannot serve the endpoint at all ([`not_served`]), and
//! the 429 when every enabled channel is at its own rate limit ([`all_over_limit`]).
//! Must never: name a key, read the clock (callers pass `now`), or advise no wait.

use super::channel::{Cooling, DisabledBy, Hold, Readiness};
use crate::bridges::Unserved;
use crate::error::RelayError;
use crate::wire::Endpoint;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::time::Instant;

/// The wait advised when no channel says when it is back (disabled, at capacity, probing).
const SHORT_WAIT: Duration = Duration::from_secs(1);

/// The 400 for a model whose channels cannot serve the endpoint: none offers it, or no bridge
/// converts the client's format to theirs.
pub(crate) fn not_served(model: &str, endpoint: Endpoint, why: Unserved) -> RelayError {
    match why {
        Unserved::Endpoint => RelayError::EndpointNotSupported {
            model: model.to_owned(),
            endpoint: endpoint.path(),
        },
        Unserved::Formats(refused) => RelayError::Unbridged {
            model: model.to_owned(),
            refused,
        },
    }
}

/// Of two reasons, the one that tells the client more (a refused pair of formats).
pub(super) fn telling(a: Unserved, b: Unserved) -> Unserved {
    match (a, b) {
        (Unserved::Formats(_), _) => a,
        (Unserved::Endpoint, _) => b,
    }
}

/// The first channel back from a cool-down, and why it cools.
pub(super) fn soonest_cooling(states: &[Readiness]) -> Option<(Instant, Cooling)> {
    states
        .iter()
        .filter_map(|s| match s {
            Readiness::NotBefore(t, why) => Some((*t, *why)),
            Readiness::Ready | Readiness::Held(_) => None,
        })
        .min_by_key(|(t, _)| *t)
}

/// The soonest wait when every enabled channel is at its own rate limit (at least one is);
/// `None` otherwise.
pub(super) fn all_over_limit(states: &[Readiness], now: Instant) -> Option<Duration> {
    let mut soonest: Option<Duration> = None;
    for s in states {
        match s {
            Readiness::Held(Hold::OverLimit(t)) => {
                let wait = t
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1));
                soonest = Some(soonest.map_or(wait, |w| w.min(wait)));
            }
            Readiness::Held(Hold::Disabled(_)) => {}
            Readiness::Ready | Readiness::NotBefore(..) | Readiness::Held(_) => return None,
        }
    }
    soonest
}

/// The 503 for `model` whose channels are in these states, each named.
pub(super) fn unavailable(model: &str, channels: &[(&str, Readiness)], now: Instant) -> RelayError {
    let mut why = String::new();
    for (name, state) in channels {
        if !why.is_empty() {
            why.push_str("; ");
        }
        let _ = write!(why, "`{name}`: {}", reason(*state, now));
    }
    let back = channels
        .iter()
        .filter_map(|(_, s)| match s {
            Readiness::Held(Hold::CircuitOpen {
                probe_at: Some(t), ..
            })
            | Readiness::Held(Hold::OverLimit(t))
            | Readiness::NotBefore(t, _) => Some(t.saturating_duration_since(now)),
            Readiness::Ready | Readiness::Held(_) => None,
        })
        .filter(|d| !d.is_zero())
        .min();
    RelayError::Unavailable {
        model: model.to_owned(),
        why,
        retry_after: back.unwrap_or(SHORT_WAIT),
    }
}

fn reason(state: Readiness, now: Instant) -> String {
    let secs = |t: Instant| {
        let d = t.saturating_duration_since(now);
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    };
    match state {
        // Ready when looked at, taken by another request before this one could start.
        Readiness::Ready => "busy".to_owned(),
        Readiness::NotBefore(t, Cooling::RateLimited) => {
            format!("rate limited (back in {}s)", secs(t))
        }
        Readiness::NotBefore(t, Cooling::Overloaded) => {
            format!("overloaded (back in {}s)", secs(t))
        }
        Readiness::Held(Hold::Disabled(DisabledBy::Auth)) => {
            "disabled (every key refused)".to_owned()
        }
        Readiness::Held(Hold::Disabled(by @ (DisabledBy::Config | DisabledBy::Operator))) => {
            format!("disabled ({})", by.as_str())
        }
        Readiness::Held(Hold::AtCapacity(n)) => format!("at capacity ({n} in flight)"),
        Readiness::Held(Hold::OverLimit(t)) => {
            format!("at its rate limit (back in {}s)", secs(t).max(1))
        }
        Readiness::Held(Hold::NoKey) => "no usable key (quota or billing)".to_owned(),
        Readiness::Held(Hold::CircuitOpen {
            probe_at: Some(t), ..
        }) => format!("circuit open (probe in {}s)", secs(t)),
        Readiness::Held(Hold::CircuitOpen { probe_at: None, .. }) => {
            "circuit open (probe under way)".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_channel_with_its_reason_and_advises_the_first_probe() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let channels = [
            (
                "a",
                Readiness::Held(Hold::CircuitOpen {
                    since: now,
                    probe_at: Some(now + 4 * s),
                }),
            ),
            ("b", Readiness::Held(Hold::Disabled(DisabledBy::Operator))),
            ("c", Readiness::Held(Hold::AtCapacity(8))),
            ("d", Readiness::Held(Hold::Disabled(DisabledBy::Auth))),
            ("e", Readiness::Held(Hold::NoKey)),
            (
                "f",
                Readiness::Held(Hold::CircuitOpen {
                    since: now,
                    probe_at: Some(now + 9 * s),
                }),
            ),
        ];
        let e = unavailable("m", &channels, now);
        assert_eq!(
            e.to_string(),
            "no channel can serve the model `m` now: `a`: circuit open (probe in 4s); \
             `b`: disabled (operator); `c`: at capacity (8 in flight); \
             `d`: disabled (every key refused); `e`: no usable key (quota or billing); \
             `f`: circuit open (probe in 9s)"
        );
        assert!(matches!(e, RelayError::Unavailable { retry_after, .. } if retry_after == 4 * s));
        let e = unavailable("m", &channels[1..3], now);
        assert!(
            matches!(e, RelayError::Unavailable { retry_after, .. } if retry_after == SHORT_WAIT)
        );
    }

    #[test]
    fn every_enabled_channel_at_its_limit_is_a_429_with_the_soonest_wait() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let states = [
            Readiness::Held(Hold::OverLimit(now + 7 * s)),
            Readiness::Held(Hold::Disabled(DisabledBy::Operator)),
            Readiness::Held(Hold::OverLimit(now + 3 * s)),
        ];
        assert_eq!(all_over_limit(&states, now), Some(3 * s));
        assert_eq!(all_over_limit(&states[1..2], now), None, "none at a limit");
        let mixed = [states[0], Readiness::Held(Hold::AtCapacity(2))];
        assert_eq!(all_over_limit(&mixed, now), None);
        let e = unavailable("m", &[("a", mixed[0]), ("b", mixed[1])], now);
        assert_eq!(
            e.to_string(),
            "no channel can serve the model `m` now: `a`: at its rate limit (back in 7s); \
             `b`: at capacity (2 in flight)"
        );
        assert!(matches!(e, RelayError::Unavailable { retry_after, .. } if retry_after == 7 * s));
    }

    #[test]
    fn the_soonest_cooling_channel_and_why() {
        let now = Instant::now();
        let s = Duration::from_secs(1);
        let states = [
            Readiness::NotBefore(now + 5 * s, Cooling::RateLimited),
            Readiness::Held(Hold::NoKey),
            Readiness::NotBefore(now + 2 * s, Cooling::Overloaded),
        ];
        assert_eq!(
            soonest_cooling(&states),
            Some((now + 2 * s, Cooling::Overloaded))
        );
        assert_eq!(soonest_cooling(&states[1..2]), None);
    }
}
