//! The choice among channels, as pure functions: highest priority tier with an eligible
//! channel, then a weighted power of two choices on in-flight load relative to weight; and, when
//! every channel is held back, panic mode's order past open circuits.
//!
//! Owns: the policy. Must never: pick an ineligible channel, or one already tried for this
//! request while an untried eligible one is left; panic past anything but an open circuit.

use super::channel::{Hold, Readiness};
use crate::config::PanicMode;
use rand::Rng;
use tokio::time::Instant;

/// One channel as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    pub priority: i32,
    pub weight: u32,
    pub in_flight: usize,
    /// Enabled, circuit not open, a usable key, below its concurrency cap.
    pub eligible: bool,
    /// Already failed this request.
    pub tried: bool,
}

/// The index of the chosen candidate, or `None` when none is eligible.
pub(super) fn choose<R: Rng + ?Sized>(cands: &[Candidate], rng: &mut R) -> Option<usize> {
    let fresh = cands.iter().any(|c| c.eligible && !c.tried);
    let ok = |c: &Candidate| c.eligible && (!fresh || !c.tried);
    let top = cands.iter().filter(|c| ok(c)).map(|c| c.priority).max()?;
    let tier: Vec<usize> = (0..cands.len())
        .filter(|&i| ok(&cands[i]) && cands[i].priority == top)
        .collect();
    let first = weighted(cands, &tier, rng)?;
    if tier.len() == 1 {
        return Some(first);
    }
    let rest: Vec<usize> = tier.into_iter().filter(|&i| i != first).collect();
    let second = weighted(cands, &rest, rng)?;
    // Prefer the second only when strictly less loaded per unit of weight: with equal loads
    // (an idle relay) the first, weighted pick stands, so traffic follows the weights.
    let (a, b) = (&cands[first], &cands[second]);
    let lighter =
        (b.in_flight as u128) * u128::from(a.weight) < (a.in_flight as u128) * u128::from(b.weight);
    Some(if lighter { second } else { first })
}

/// Panic mode: when every channel is held back and the mode allows it (`SingleChannel`: the
/// model has one enabled channel), the channels to try past their open circuit, the one whose
/// circuit opened longest ago first. Empty otherwise.
pub(super) fn panic_order(mode: PanicMode, states: &[Readiness]) -> Vec<usize> {
    let enabled = states
        .iter()
        .filter(|s| !matches!(s, Readiness::Held(Hold::Disabled(_))))
        .count();
    let allowed = match mode {
        PanicMode::Never => false,
        PanicMode::Always => true,
        PanicMode::SingleChannel => enabled == 1,
    };
    if !allowed || !states.iter().all(|s| matches!(s, Readiness::Held(_))) {
        return Vec::new();
    }
    let mut open: Vec<(Instant, usize)> = states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Readiness::Held(Hold::CircuitOpen { since, .. }) => Some((*since, i)),
            _ => None,
        })
        .collect();
    open.sort_unstable();
    open.into_iter().map(|(_, i)| i).collect()
}

fn weighted<R: Rng + ?Sized>(cands: &[Candidate], pool: &[usize], rng: &mut R) -> Option<usize> {
    let total: u64 = pool.iter().map(|&i| u64::from(cands[i].weight)).sum();
    if total == 0 {
        return pool.first().copied();
    }
    let mut r = rng.random_range(0..total);
    for &i in pool {
        let w = u64::from(cands[i].weight);
        if r < w {
            return Some(i);
        }
        r -= w;
    }
    pool.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn c(priority: i32, weight: u32) -> Candidate {
        Candidate {
            priority,
            weight,
            in_flight: 0,
            eligible: true,
            tried: false,
        }
    }

    #[test]
    fn prefers_the_highest_tier_and_falls_back_to_tried_ones() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut cands = [c(0, 1), c(5, 1), c(5, 1)];
        for _ in 0..50 {
            assert_ne!(choose(&cands, &mut rng), Some(0));
        }
        cands[1].eligible = false;
        cands[2].tried = true;
        assert_eq!(
            choose(&cands, &mut rng),
            Some(0),
            "untried lower tier first"
        );
        cands[0].eligible = false;
        assert_eq!(
            choose(&cands, &mut rng),
            Some(2),
            "a tried one when nothing else"
        );
        cands[2].eligible = false;
        assert_eq!(choose(&cands, &mut rng), None);
    }

    #[test]
    fn prefers_the_less_loaded_relative_to_weight() {
        let mut rng = SmallRng::seed_from_u64(2);
        let mut cands = [c(0, 1), c(0, 1)];
        cands[0].in_flight = 10;
        let picks = (0..200)
            .filter(|_| choose(&cands, &mut rng) == Some(1))
            .count();
        assert_eq!(picks, 200, "with two channels both are sampled every time");
    }

    fn candidate() -> impl Strategy<Value = Candidate> {
        (-2i32..3, 1u32..5, 0usize..20, any::<bool>(), any::<bool>()).prop_map(
            |(priority, weight, in_flight, eligible, tried)| Candidate {
                priority,
                weight,
                in_flight,
                eligible,
                tried,
            },
        )
    }

    #[test]
    fn panic_mode_tries_open_circuits_oldest_first_when_allowed() {
        let t0 = Instant::now();
        let open = |secs: u64| {
            Readiness::Held(Hold::CircuitOpen {
                since: t0 + std::time::Duration::from_secs(secs),
                probe_at: None,
            })
        };
        let off = Readiness::Held(Hold::Disabled(crate::routing::DisabledBy::Operator));
        let full = Readiness::Held(Hold::AtCapacity(4));
        let single = [open(0), off];
        assert_eq!(panic_order(PanicMode::SingleChannel, &single), [0]);
        assert!(panic_order(PanicMode::Never, &single).is_empty());
        let two = [open(5), full, open(1)];
        assert!(
            panic_order(PanicMode::SingleChannel, &two).is_empty(),
            "two enabled channels"
        );
        assert_eq!(panic_order(PanicMode::Always, &two), [2, 0]);
        let cooling = [
            open(0),
            Readiness::NotBefore(t0, super::super::channel::Cooling::RateLimited),
        ];
        assert!(
            panic_order(PanicMode::Always, &cooling).is_empty(),
            "a channel coming back: wait for it instead"
        );
        assert!(panic_order(PanicMode::Always, &[full, off]).is_empty());
    }

    proptest! {
        /// Never an ineligible channel; never a tried one while an untried eligible one is
        /// left; always the highest such tier; `None` only when nothing is eligible.
        #[test]
        fn selection_respects_eligibility_tries_and_tiers(
            cands in proptest::collection::vec(candidate(), 0..8),
            seed in any::<u64>(),
        ) {
            let mut rng = SmallRng::seed_from_u64(seed);
            match choose(&cands, &mut rng) {
                None => prop_assert!(cands.iter().all(|c| !c.eligible)),
                Some(i) => {
                    let got = cands[i];
                    prop_assert!(got.eligible);
                    let fresh = cands.iter().any(|c| c.eligible && !c.tried);
                    prop_assert!(!(fresh && got.tried));
                    let best = cands.iter()
                        .filter(|c| c.eligible && (!fresh || !c.tried))
                        .map(|c| c.priority).max();
                    prop_assert_eq!(Some(got.priority), best);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// At equal load, each channel's share follows its weight.
        #[test]
        fn weights_are_respected_in_distribution(
            weights in proptest::collection::vec(1u32..6, 1..5),
            seed in any::<u64>(),
        ) {
            let cands: Vec<Candidate> = weights.iter().map(|&w| c(0, w)).collect();
            let mut rng = SmallRng::seed_from_u64(seed);
            let n = 20_000;
            let mut hits = vec![0u32; cands.len()];
            for _ in 0..n {
                if let Some(i) = choose(&cands, &mut rng) {
                    hits[i] += 1;
                }
            }
            let total: u32 = weights.iter().sum();
            for (i, &w) in weights.iter().enumerate() {
                let want = f64::from(w) / f64::from(total);
                let got = f64::from(hits[i]) / f64::from(n);
                prop_assert!((got - want).abs() < 0.03, "channel {}: {} vs {}", i, got, want);
            }
        }
    }
}
