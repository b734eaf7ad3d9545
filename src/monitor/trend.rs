//! The recent past: a bounded ring of readings and the growth per minute of each gauge.
//!
//! Owns: the sample ring (capacity fixed at start: window / interval + 1) and the least-squares
//! slope that turns it into a trend.
//! Must never: grow past its capacity, or call a gauge "growing" before the ring covers half
//! the window (a restart is not a leak).

use super::gauges::{Gauge, Reading};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the monitor started.
    pub at: f64,
    pub reading: Reading,
}

pub(super) struct Ring {
    capacity: usize,
    samples: VecDeque<Sample>,
}

impl Ring {
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Self {
            capacity,
            samples: VecDeque::with_capacity(capacity),
        }
    }

    pub(super) fn push(&mut self, s: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    pub(super) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(super) fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }

    /// Seconds between the oldest and the newest sample.
    pub(super) fn span(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) => b.at - a.at,
            _ => 0.0,
        }
    }

    /// Growth per minute of each gauge that has at least two values in the ring.
    pub(super) fn trend(&self) -> BTreeMap<&'static str, f64> {
        Gauge::ALL
            .iter()
            .filter_map(|g| {
                let points = self
                    .samples
                    .iter()
                    .filter_map(|s| s.reading.get(*g).map(|v| (s.at, v as f64)));
                slope(points).map(|per_sec| (g.name(), per_sec * 60.0))
            })
            .collect()
    }
}

/// The least-squares slope of `y` over `x`; `None` with fewer than two distinct `x`.
pub fn slope(points: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let points: Vec<(f64, f64)> = points.collect();
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in &points {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_of(values: &[u64], every: f64) -> Ring {
        let mut r = Ring::new(100);
        for (i, v) in values.iter().enumerate() {
            r.push(Sample {
                at: i as f64 * every,
                reading: Reading::default().with(Gauge::LiveTasks, *v),
            });
        }
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rising_gauge_has_its_growth_per_minute() {
        // +5 every 30 s = +10 per minute.
        let r = ring_of(&[100, 105, 110, 115, 120], 30.0);
        assert!(close(r.trend()["live_tasks"], 10.0));
    }

    #[test]
    fn flat_gauge_has_zero_trend() {
        let r = ring_of(&[42; 8], 30.0);
        assert!(close(r.trend()["live_tasks"], 0.0));
    }

    #[test]
    fn noisy_gauge_slope_is_the_least_squares_fit() {
        // Noise around a flat line: ±3 alternating; the fit is small, not ±6/min.
        let r = ring_of(&[50, 56, 50, 56, 50, 56, 50, 56, 50], 60.0);
        let t = r.trend()["live_tasks"];
        assert!(t.abs() < 0.5, "{t}");
        // Noise around a rising line still shows the rise: y = 2x ± 1.
        let y: Vec<u64> = (0..10).map(|i| 2 * i + 10 + (i % 2)).collect();
        let t = ring_of(&y, 60.0).trend()["live_tasks"];
        assert!((t - 2.0).abs() < 0.2, "{t}");
        // Exact value for a small case: points (0,1) (1,3) (2,2) have slope 0.5.
        assert_eq!(
            slope([(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)].into_iter()),
            Some(0.5)
        );
    }

    #[test]
    fn too_few_points_have_no_trend() {
        assert!(ring_of(&[1], 30.0).trend().is_empty());
        assert_eq!(slope([(1.0, 1.0), (1.0, 5.0)].into_iter()), None);
        // Gauges the platform cannot read have no trend.
        assert!(!ring_of(&[1, 2, 3], 30.0).trend().contains_key("open_fds"));
    }

    #[test]
    fn ring_is_bounded() {
        let mut r = Ring::new(3);
        for i in 0..10 {
            r.push(Sample {
                at: f64::from(i),
                reading: Reading::default(),
            });
        }
        assert_eq!(r.len(), 3);
        assert!(close(r.span(), 2.0));
        assert_eq!(r.samples().next().map(|s| s.at), Some(7.0));
    }
}
