//! A sliding window of two counters, kept in a fixed ring of buckets.
//!
//! Owns: aging counts out as time passes (bucket granularity: a tenth of the window).
//! Must never: allocate per event, or read the clock itself (callers pass `now`).

use std::time::Duration;
use tokio::time::Instant;

const BUCKETS: usize = 10;

/// Counts of two kinds of events (`a`, `b`) over the last `window`.
#[derive(Clone, Debug)]
pub(super) struct Window {
    span: Duration,
    head: Instant,
    idx: usize,
    buckets: [(u64, u64); BUCKETS],
}

impl Window {
    pub(super) fn new(window: Duration, now: Instant) -> Self {
        let span = (window / BUCKETS as u32).max(Duration::from_millis(1));
        Self {
            span,
            head: now,
            idx: 0,
            buckets: [(0, 0); BUCKETS],
        }
    }

    fn advance(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.head);
        let steps = elapsed.as_nanos() / self.span.as_nanos();
        if steps == 0 {
            return;
        }
        if steps >= BUCKETS as u128 {
            self.buckets = [(0, 0); BUCKETS];
            self.idx = 0;
        } else {
            for _ in 0..steps {
                self.idx = (self.idx + 1) % BUCKETS;
                self.buckets[self.idx] = (0, 0);
            }
        }
        // steps < 2^64 for any window we accept; saturate rather than panic.
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        self.head = self
            .head
            .checked_add(self.span.saturating_mul(steps))
            .unwrap_or(now);
    }

    pub(super) fn add(&mut self, now: Instant, a: u64, b: u64) {
        self.advance(now);
        let bucket = &mut self.buckets[self.idx];
        bucket.0 += a;
        bucket.1 += b;
    }

    /// The sums of `a` and `b` over the window ending at `now`.
    pub(super) fn totals(&mut self, now: Instant) -> (u64, u64) {
        self.advance(now);
        self.buckets
            .iter()
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    }

    pub(super) fn clear(&mut self, now: Instant) {
        *self = Self::new(self.span * BUCKETS as u32, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_age_out_bucket_by_bucket() {
        let t0 = Instant::now();
        let mut w = Window::new(Duration::from_secs(10), t0);
        w.add(t0, 1, 0);
        w.add(t0 + Duration::from_secs(5), 0, 2);
        assert_eq!(w.totals(t0 + Duration::from_secs(9)), (1, 2));
        assert_eq!(w.totals(t0 + Duration::from_secs(10)), (0, 2));
        assert_eq!(w.totals(t0 + Duration::from_secs(15)), (0, 0));
        w.add(t0 + Duration::from_secs(100), 3, 3);
        assert_eq!(w.totals(t0 + Duration::from_secs(100)), (3, 3));
    }
}
