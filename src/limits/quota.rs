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
//!
//! Several instances: spend settled here also goes to `unpushed`, which the cluster's quota
//! push adds to the shared total in Redis (`pushing` while the call is out), and the shared
//! total read back lands in `shared`. Spend is then the larger of the two views: this store's
//! (committed + unflushed) and the cluster's (shared + unpushed + pushing); each counts every
//! unit once, the cluster's sees other instances' spend within one push interval.
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
    shared: AtomicI64,
    unpushed: AtomicI64,
    pushing: AtomicI64,
    /// Unix ms of the last reservation (the quota push reads totals of recent tokens only).
    last_used_ms: AtomicI64,
    /// A strict quota: units leased to this instance from the shared total, not reserved.
    lease: AtomicI64,
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
    /// Reserved, and spent (the larger view), loaded reserved-first and each view's fields in
    /// the reverse order of their writers (see the module docs).
    fn load(&self) -> (i64, i64) {
        let reserved = self.reserved.load(SeqCst);
        let unflushed = self.local_unflushed.load(SeqCst);
        let remote = self.remote_used.load(SeqCst);
        // `pushing` around `unpushed`: a take moves spend into `pushing` first, a failed push
        // back into `unpushed` first; the larger of the two reads covers either.
        let pushing_before = self.pushing.load(SeqCst);
        let unpushed = self.unpushed.load(SeqCst);
        let pushing = self.pushing.load(SeqCst).max(pushing_before);
        let shared = self.shared.load(SeqCst);
        let local_view = remote.saturating_add(unflushed);
        let cluster_view = shared.saturating_add(unpushed).saturating_add(pushing);
        (reserved, local_view.max(cluster_view))
    }

    /// Takes the spend not yet pushed to the shared total (it counts as `pushing` until
    /// [`QuotaCounters::pushed`] or [`QuotaCounters::push_failed`]).
    pub fn take_unpushed(&self) -> i64 {
        let d = self.unpushed.load(SeqCst);
        self.pushing.fetch_add(d, SeqCst);
        self.unpushed.fetch_sub(d, SeqCst);
        d
    }

    /// `units` reached the shared total, which is now `total`.
    pub fn pushed(&self, units: i64, total: i64) {
        self.shared.fetch_max(total, SeqCst);
        self.pushing.fetch_sub(units, SeqCst);
    }

    /// `units` did not reach the shared total: pushed again next time.
    pub fn push_failed(&self, units: i64) {
        self.unpushed.fetch_add(units, SeqCst);
        self.pushing.fetch_sub(units, SeqCst);
    }

    /// Reserves `estimate` from this instance's lease, if it holds that much.
    pub fn try_reserve_leased(self: &Arc<Self>, estimate: i64) -> Option<Reservation> {
        let estimate = estimate.max(0);
        loop {
            let lease = self.lease.load(SeqCst);
            if lease < estimate.max(1) {
                return None;
            }
            if self
                .lease
                .compare_exchange_weak(lease, lease - estimate, SeqCst, SeqCst)
                .is_ok()
            {
                self.reserved.fetch_add(estimate, SeqCst);
                return Some(Reservation {
                    counters: self.clone(),
                    estimate,
                    open: true,
                    leased: true,
                });
            }
        }
    }

    /// Units leased here and not reserved.
    pub fn lease(&self) -> i64 {
        self.lease.load(SeqCst)
    }

    /// `units` more leased from the shared total.
    pub fn add_lease(&self, units: i64) {
        self.lease.fetch_add(units.max(0), SeqCst);
    }

    /// Takes the whole unreserved lease (to give it back).
    pub fn take_lease(&self) -> i64 {
        self.lease.swap(0, SeqCst).max(0)
    }

    /// Settled spend not yet pushed to the shared total.
    pub fn unpushed(&self) -> i64 {
        self.unpushed.load(SeqCst)
    }

    /// The committed total as this instance knows it (the seed of a shared total Redis lost).
    pub fn remote(&self) -> i64 {
        self.remote_used.load(SeqCst)
    }

    /// Unix ms of the last reservation.
    pub fn last_used_ms(&self) -> i64 {
        self.last_used_ms.load(SeqCst)
    }

    /// Marks the token used now (the quota push then reads its shared total).
    pub fn touch(&self, now_ms: i64) {
        self.last_used_ms.fetch_max(now_ms, SeqCst);
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
                    leased: false,
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
    /// Taken from this instance's lease (a strict quota): what the estimate does not cost
    /// goes back to the lease.
    leased: bool,
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
        self.counters.unpushed.fetch_add(actual.max(0), SeqCst);
        self.counters.reserved.fetch_sub(self.estimate, SeqCst);
        if self.leased {
            // The shared total counts the real cost; the lease gets back what the estimate
            // did not cost (an answer beyond it is not taken from the lease again).
            self.counters
                .lease
                .fetch_add((self.estimate - actual.max(0)).max(0), SeqCst);
        }
        self.open = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            self.counters.reserved.fetch_sub(self.estimate, SeqCst);
            if self.leased {
                self.counters.lease.fetch_add(self.estimate, SeqCst);
            }
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
    fn the_cluster_view_counts_other_instances_once() {
        let c = Arc::new(QuotaCounters::default());
        c.observe_remote(100);
        c.try_reserve(1000, 50).unwrap().settle(50);
        assert_eq!(c.spent(), 150, "this store's view: committed + unflushed");
        let d = c.take_unpushed();
        assert_eq!((d, c.spent()), (50, 150));
        // The shared total holds what every instance pushed: 100 seeded + 50 here + 300 elsewhere.
        c.pushed(d, 450);
        assert_eq!(
            c.spent(),
            450,
            "the cluster's view is larger: other instances' spend"
        );
        c.committed(150, 50);
        assert_eq!(
            c.spent(),
            450,
            "a commit moves spend between fields, never counts it twice"
        );
        c.try_reserve(1000, 10).unwrap().settle(10);
        let d = c.take_unpushed();
        c.push_failed(d);
        assert_eq!(c.spent(), 460, "a failed push keeps the spend");
        assert_eq!(c.take_unpushed(), 10, "and pushes it next time");
        assert!(c.try_reserve(500, 41).is_err(), "the shared total refuses");
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
