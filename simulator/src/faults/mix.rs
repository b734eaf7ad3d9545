//! A seeded random mix of faults: `status=429:5%, cut=3:2%, reset:1%`.
//! Owns the mix grammar and the draw; must never keep an RNG itself (the caller seeds it).

use rand::Rng;

use super::spec::{FaultError, FaultSet};

/// Faults with the share of requests each gets; the rest get none.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    entries: Vec<(FaultSet, f64)>,
}

impl Mix {
    /// Parses `FAULT:PCT%, ...`; one entry may combine faults with `+`
    /// (`drip=1ms..2ms+cut=3:5%`). The percentages must add up to at most 100.
    pub fn parse(text: &str) -> Result<Mix, FaultError> {
        let mut entries = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (spec, pct) = item
                .rsplit_once(':')
                .ok_or_else(|| FaultError::BadMixEntry(item.to_owned()))?;
            let pct: f64 = pct
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse().ok())
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| FaultError::BadMixEntry(item.to_owned()))?;
            entries.push((FaultSet::parse(spec)?, pct));
        }
        let total: f64 = entries.iter().map(|(_, p)| p).sum();
        if total > 100.0 + 1e-9 {
            return Err(FaultError::MixOver100(total));
        }
        Ok(Mix { entries })
    }

    /// The faults for one request, from one uniform draw of `rng`.
    pub(crate) fn draw(&self, rng: &mut impl Rng) -> FaultSet {
        let x: f64 = rng.random_range(0.0..100.0);
        let mut acc = 0.0;
        for (set, pct) in &self.entries {
            acc += pct;
            if x < acc {
                return set.clone();
            }
        }
        FaultSet::default()
    }
}

impl std::str::FromStr for Mix {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Mix, FaultError> {
        Mix::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec::Fault;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn parses_and_draws_in_proportion() {
        let mix = Mix::parse("status=429:50%, cut=3+drip=1ms:25%").unwrap();
        let mut rng = SmallRng::seed_from_u64(42);
        let draws: Vec<FaultSet> = (0..4000).map(|_| mix.draw(&mut rng)).collect();
        let n429 = draws.iter().filter(|s| s.has(&Fault::Status(429))).count();
        let ncut = draws.iter().filter(|s| s.has(&Fault::Cut(3))).count();
        assert!((1800..2200).contains(&n429), "{n429}");
        assert!((850..1150).contains(&ncut), "{ncut}");
        let mut again = SmallRng::seed_from_u64(42);
        let replay: Vec<FaultSet> = (0..4000).map(|_| mix.draw(&mut again)).collect();
        assert_eq!(draws, replay);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Mix::parse("status=429"),
            Err(FaultError::BadMixEntry(_))
        ));
        assert!(matches!(
            Mix::parse("status=429:5"),
            Err(FaultError::BadMixEntry(_))
        ));
        assert!(matches!(
            Mix::parse("reset:60%, cut=1:50%"),
            Err(FaultError::MixOver100(_))
        ));
        assert!(matches!(Mix::parse("rest:1%"), Err(FaultError::Unknown(_))));
    }
}
