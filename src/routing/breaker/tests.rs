use super::*;
use proptest::prelude::*;

fn policy() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 3,
        error_rate: 0.5,
        min_requests: 10,
        window: Duration::from_secs(30),
        backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(20),
    }
}

const S: Duration = Duration::from_secs(1);

#[test]
fn opens_after_consecutive_faults_probes_after_backoff_and_closes() {
    let t0 = Instant::now();
    let mut b = Breaker::new(&policy(), t0);
    for _ in 0..2 {
        assert_eq!(b.admit(t0), Admit::Yes);
        b.failure(t0, false);
    }
    assert_eq!(b.state(t0), BreakerState::Closed);
    b.failure(t0, false);
    assert_eq!(b.state(t0), BreakerState::Open);
    assert_eq!(b.admit(t0 + 4 * S), Admit::No);
    assert_eq!(b.state(t0 + 5 * S), BreakerState::HalfOpen);
    assert_eq!(b.admit(t0 + 5 * S), Admit::Probe);
    assert_eq!(b.admit(t0 + 5 * S), Admit::No, "one probe at a time");
    b.success(t0 + 6 * S, true);
    assert_eq!(b.state(t0 + 6 * S), BreakerState::Closed);
    assert_eq!(b.trips(), 0);
}

#[test]
fn remembers_when_it_opened_and_a_panic_success_closes_it() {
    let t0 = Instant::now();
    let mut b = Breaker::new(&policy(), t0);
    assert_eq!(b.opened_at(), None);
    for _ in 0..3 {
        b.failure(t0 + S, false);
    }
    assert_eq!(b.opened_at(), Some(t0 + S));
    assert_eq!(b.admit(t0 + 6 * S), Admit::Probe);
    assert_eq!(b.opened_at(), Some(t0 + S), "kept while half-open");
    b.failure(t0 + 7 * S, true);
    assert_eq!(
        b.opened_at(),
        Some(t0 + 7 * S),
        "re-opened by the failed probe"
    );
    b.failure(t0 + 8 * S, false);
    assert_eq!(
        b.state(t0 + 8 * S),
        BreakerState::Open,
        "a panic failure changes nothing"
    );
    b.panic_success(t0 + 8 * S);
    assert_eq!(b.state(t0 + 8 * S), BreakerState::Closed);
    assert_eq!((b.opened_at(), b.trips()), (None, 0));
    b.panic_success(t0 + 9 * S);
    assert_eq!(
        b.state(t0 + 9 * S),
        BreakerState::Closed,
        "closed stays closed"
    );
}

#[test]
fn failed_probes_double_the_backoff_up_to_the_cap() {
    let t0 = Instant::now();
    let mut b = Breaker::new(&policy(), t0);
    for _ in 0..3 {
        b.failure(t0, false);
    }
    let mut now = t0;
    for want in [5u64, 10, 20, 20] {
        let until = b.retry_at().unwrap();
        assert_eq!(until - now, Duration::from_secs(want));
        now = until;
        assert_eq!(b.admit(now), Admit::Probe);
        b.failure(now, true);
    }
}

#[test]
fn error_rate_opens_only_with_enough_requests() {
    let t0 = Instant::now();
    let mut b = Breaker::new(&policy(), t0);
    // alternate: never 3 in a row, but half of the requests fail
    for i in 0..9 {
        if i % 2 == 0 {
            b.failure(t0, false);
        } else {
            b.success(t0, false);
        }
    }
    assert_eq!(
        b.state(t0),
        BreakerState::Closed,
        "9 requests < min_requests"
    );
    b.success(t0, false);
    b.failure(t0, false);
    assert_eq!(b.state(t0), BreakerState::Open, "6 of 11 failed");
}

#[test]
fn abandoned_probe_frees_the_slot_and_stale_reports_are_ignored() {
    let t0 = Instant::now();
    let mut b = Breaker::new(&policy(), t0);
    for _ in 0..3 {
        b.failure(t0, false);
    }
    b.success(t0, false); // a late answer to a request admitted before the trip
    assert_eq!(b.state(t0), BreakerState::Open);
    let t = t0 + 5 * S;
    assert_eq!(b.admit(t), Admit::Probe);
    b.abandon(true);
    assert_eq!(b.admit(t), Admit::Probe);
}

#[derive(Clone, Debug)]
enum Op {
    Wait(u64),
    Admit,
    Ok,
    Fail,
    Abandon,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..30_000).prop_map(Op::Wait),
        Just(Op::Admit),
        Just(Op::Ok),
        Just(Op::Fail),
        Just(Op::Abandon),
    ]
}

proptest! {
    /// Whatever happens: at most one probe is out, an open circuit admits nothing before its
    /// backoff, a probe's success closes and its failure reopens with a backoff within bounds.
    #[test]
    fn breaker_transitions_hold(ops in proptest::collection::vec(op(), 1..200)) {
        let p = policy();
        let t0 = Instant::now();
        let mut b = Breaker::new(&p, t0);
        let mut now = t0;
        let mut probe_out = false;
        // outcomes of admitted requests not yet reported: (is_probe)
        let mut pending: Vec<bool> = Vec::new();
        for op in ops {
            match op {
                Op::Wait(ms) => now += Duration::from_millis(ms),
                Op::Admit => {
                    let before = b.state(now);
                    match b.admit(now) {
                        Admit::Probe => {
                            prop_assert!(!probe_out, "two probes out");
                            prop_assert_eq!(before, BreakerState::HalfOpen);
                            probe_out = true;
                            pending.push(true);
                        }
                        Admit::Yes => {
                            prop_assert_eq!(before, BreakerState::Closed);
                            pending.push(false);
                        }
                        Admit::No => prop_assert!(before != BreakerState::Closed),
                    }
                }
                Op::Ok | Op::Fail | Op::Abandon => {
                    let Some(probe) = pending.pop() else { continue };
                    match op {
                        Op::Ok => {
                            b.success(now, probe);
                            if probe {
                                prop_assert_eq!(b.state(now), BreakerState::Closed);
                            }
                        }
                        Op::Fail => {
                            b.failure(now, probe);
                            if probe {
                                let until = b.retry_at();
                                prop_assert!(until.is_some());
                                let wait = until.unwrap_or(now) - now;
                                prop_assert!(wait >= p.backoff && wait <= p.max_backoff);
                                prop_assert_eq!(wait, backoff(&p, b.trips()));
                            }
                        }
                        _ => b.abandon(probe),
                    }
                    if probe {
                        probe_out = false;
                    }
                }
            }
            if b.state(now) == BreakerState::Open {
                prop_assert!(!b.can_admit(now));
            }
            prop_assert!(b.consecutive_failures() < p.consecutive_failures);
        }
    }
}
