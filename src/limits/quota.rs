//! A token's quota counters and the reservation each request holds on them.
//!
//! Owns: `remote_used` (committed spend, the database's `token_totals`), `local_unflushed`
//! (settled here, not yet committed), `reserved` (estimates of requests in flight), the
//! admission test `limit − (remote_used + local_unflushed + reserved) ≥ estimate` as one
//! compare-and-swap on `reserved`, and the [`Reservation`] guard that settles on the real cost
//! or releases on drop.
//!
//! The in-flight bound: reservations alone can never take spend past the limit (the CAS
//! admits an estimate only while it fits). Spend can pass the limit only by what requests in
//! flight cost beyond their estimates: spent ≤ limit + Σ max(0, actual − estimate). With
//! `max_tokens` set (and a price's `max_output` at least the model's longest answer) the
//! estimate is an upper bound and the sum is 0.
//! Must never: read a clock or do I/O; under-count while a settle or commit is half done
//! (every two-step update moves the new value in before taking the old one out, and readers
//! load in the opposite order).

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct QuotaCounters {
    remote_used: AtomicI64,
    local_unflushed: AtomicI64,
    reserved: AtomicI64,
}

/// The quota had no room for the estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub limit: i64,
    /// Spent plus reserved, when refused.
    pub used: i64,
    pub estimate: i64,
}

impl QuotaCounters {
    /// Committed + unflushed + reserved, loaded reserved-first (see the module docs).
    fn load(&self) -> (i64, i64) {
        let reserved = self.reserved.load(SeqCst);
        let unflushed = self.local_unflushed.load(SeqCst);
        let remote = self.remote_used.load(SeqCst);
        (reserved, remote.saturating_add(unflushed))
    }

    /// Reserves `estimate` if it fits under `limit`.
    pub fn try_reserve(
        self: &Arc<Self>,
        limit: i64,
        estimate: i64,
    ) -> Result<Reservation, QuotaExceeded> {
        let estimate = estimate.max(0);
        loop {
            let (reserved, spent) = self.load();
            let used = spent.saturating_add(reserved);
            if limit.saturating_sub(used) < estimate || (estimate == 0 && used >= limit) {
                return Err(QuotaExceeded {
                    limit,
                    used,
                    estimate,
                });
            }
            if self
                .reserved
                .compare_exchange_weak(reserved, reserved + estimate, SeqCst, SeqCst)
                .is_ok()
            {
                return Ok(Reservation {
                    counters: self.clone(),
                    estimate,
                    open: true,
                });
            }
        }
    }

    /// A commit moved `local_units` of this process's unflushed spend into the database,
    /// whose total for the token is now `used_total`.
    pub fn committed(&self, used_total: i64, local_units: i64) {
        self.remote_used.fetch_max(used_total, SeqCst);
        self.local_unflushed.fetch_sub(local_units, SeqCst);
    }

    /// The database's total as read (totals only grow, so an older read never lowers it).
    pub fn observe_remote(&self, used_total: i64) {
        self.remote_used.fetch_max(used_total, SeqCst);
    }

    /// Committed plus settled-but-unflushed spend.
    pub fn spent(&self) -> i64 {
        self.load().1
    }

    pub fn reserved(&self) -> i64 {
        self.reserved.load(SeqCst)
    }
}

/// One request's hold on its token's quota: settled with the real cost, or released on drop
/// (an error, a panic, a request that never reached the upstream).
#[derive(Debug)]
pub struct Reservation {
    counters: Arc<QuotaCounters>,
    estimate: i64,
    open: bool,
}

impl Reservation {
    pub fn estimate(&self) -> i64 {
        self.estimate
    }

    /// Replaces the estimate by the real cost.
    pub fn settle(mut self, actual: i64) {
        self.counters
            .local_unflushed
            .fetch_add(actual.max(0), SeqCst);
        self.counters.reserved.fetch_sub(self.estimate, SeqCst);
        self.open = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            self.counters.reserved.fetch_sub(self.estimate, SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Barrier, Mutex};

    #[test]
    fn fifty_parallel_reservations_on_room_for_ten_admit_exactly_ten() {
        for _ in 0..20 {
            let counters = Arc::new(QuotaCounters::default());
            counters.observe_remote(90);
            let barrier = Arc::new(Barrier::new(50));
            let held = Arc::new(Mutex::new(Vec::new()));
            // Scoped threads: all joined before the scope ends.
            std::thread::scope(|s| {
                for _ in 0..50 {
                    let (c, b, h) = (counters.clone(), barrier.clone(), held.clone());
                    s.spawn(move || {
                        b.wait();
                        if let Ok(r) = c.try_reserve(100, 1) {
                            h.lock().unwrap().push(r);
                        }
                    });
                }
            });
            assert_eq!(
                held.lock().unwrap().len(),
                10,
                "the in-flight bound is 0 here"
            );
            assert_eq!(counters.reserved(), 10);
            held.lock().unwrap().clear();
            assert_eq!(counters.reserved(), 0, "dropped reservations release");
        }
    }

    #[test]
    fn settle_moves_the_estimate_to_the_real_cost() {
        let c = Arc::new(QuotaCounters::default());
        let r = c.try_reserve(100, 40).unwrap();
        assert!(c.try_reserve(100, 61).is_err());
        r.settle(25);
        assert_eq!((c.spent(), c.reserved()), (25, 0));
        c.committed(25, 25);
        assert_eq!(c.spent(), 25, "committed: the same spend, now remote");
        c.observe_remote(10);
        assert_eq!(c.spent(), 25, "an older total never lowers it");
        let e = c.try_reserve(30, 6).unwrap_err();
        assert_eq!((e.used, e.estimate), (25, 6));
        assert!(
            c.try_reserve(25, 0).is_err(),
            "nothing left: even a free estimate is refused"
        );
    }

    #[derive(Clone, Debug)]
    enum Step {
        Reserve(i64),
        Settle(usize, i64),
        Release(usize),
        Commit,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..30).prop_map(Step::Reserve),
            (0usize..8, 0i64..60).prop_map(|(i, a)| Step::Settle(i, a)),
            (0usize..8).prop_map(Step::Release),
            Just(Step::Commit),
        ]
    }

    proptest! {
        /// Whatever happens, spend never passes the limit by more than the settled excess
        /// over estimates.
        #[test]
        fn spend_stays_within_the_limit_plus_the_excess(
            limit in 0i64..200,
            steps in proptest::collection::vec(step(), 0..60),
        ) {
            let c = Arc::new(QuotaCounters::default());
            let mut open: Vec<Reservation> = Vec::new();
            let mut excess = 0;
            let mut unflushed = 0;
            let mut committed_total = 0;
            for s in steps {
                match s {
                    Step::Reserve(e) => {
                        if let Ok(r) = c.try_reserve(limit, e) {
                            open.push(r);
                        }
                    }
                    Step::Settle(i, actual) if i < open.len() => {
                        let r = open.remove(i);
                        excess += (actual - r.estimate()).max(0);
                        unflushed += actual;
                        r.settle(actual);
                    }
                    Step::Release(i) if i < open.len() => drop(open.remove(i)),
                    Step::Commit => {
                        committed_total += unflushed;
                        c.committed(committed_total, unflushed);
                        unflushed = 0;
                    }
                    _ => {}
                }
                let reserved: i64 = open.iter().map(Reservation::estimate).sum();
                prop_assert_eq!(c.reserved(), reserved);
                prop_assert!(c.spent() + c.reserved() <= limit + excess);
            }
        }
    }
}
