//! The price table at work: which price a model has, what a usage costs, what a request is
//! estimated to cost before it runs.
//!
//! Owns: compiled model globs (first match wins), cost arithmetic in integer cost units
//! (rounded up, so nothing priced is ever free), and the estimate from the prompt's size and
//! `max_tokens`.
//! Must never: overflow (128-bit intermediates, saturated), or guess a price for a model no
//! entry matches (it costs 0).

use crate::config::{to_units, PricesConfig};
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Prices in cost units: per 1M tokens, per image, per second of audio or video.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Price {
    pub input: i64,
    pub cached_input: i64,
    pub output: i64,
    pub image: i64,
    pub audio_second: i64,
    pub video_second: i64,
    /// Output tokens assumed when a request sets no `max_tokens`; also caps the estimate.
    pub max_output: u64,
}

/// What a request used (or is estimated to use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    /// All input tokens, cached ones included.
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub images: u32,
    pub audio_ms: u64,
    pub video_ms: u64,
}

fn ceil_div(n: i128, d: i128) -> i128 {
    (n + d - 1) / d
}

impl Price {
    pub fn cost(&self, u: &UsageCounts) -> i64 {
        let cached = u.cached_tokens.min(u.prompt_tokens);
        let tokens = i128::from(u.prompt_tokens - cached) * i128::from(self.input)
            + i128::from(cached) * i128::from(self.cached_input)
            + i128::from(u.completion_tokens) * i128::from(self.output);
        let total = ceil_div(tokens, 1_000_000)
            + i128::from(u.images) * i128::from(self.image)
            + ceil_div(i128::from(u.audio_ms) * i128::from(self.audio_second), 1000)
            + ceil_div(i128::from(u.video_ms) * i128::from(self.video_second), 1000);
        i64::try_from(total).unwrap_or(i64::MAX)
    }
}

/// A request's estimate, before it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub images: u32,
    /// Cost units reserved from the token's quota.
    pub cost: i64,
}

impl Estimate {
    /// Tokens reserved from a tokens-per-minute limit.
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.output_tokens)
    }
}

/// Bytes of prompt per estimated token: 3 over-counts English (about 4) and most JSON, so the
/// reservation is rarely below the real count.
pub const BYTES_PER_TOKEN: u64 = 3;

pub struct PriceTable {
    entries: Vec<(GlobSet, Price)>,
    default_max_output: u64,
}

impl PriceTable {
    /// Compiles a validated `[prices]` section.
    pub fn new(config: &PricesConfig) -> Result<Self, globset::Error> {
        let default_max_output = u64::from(config.default_max_output);
        let mut entries = Vec::with_capacity(config.models.len());
        for m in &config.models {
            let mut set = GlobSetBuilder::new();
            for p in &m.patterns {
                set.add(Glob::new(p)?);
            }
            let price = Price {
                input: to_units(m.input),
                cached_input: to_units(m.cached_input.unwrap_or(m.input)),
                output: to_units(m.output),
                image: to_units(m.image),
                audio_second: to_units(m.audio_second),
                video_second: to_units(m.video_second),
                max_output: m.max_output.map_or(default_max_output, u64::from),
            };
            entries.push((set.build()?, price));
        }
        Ok(Self {
            entries,
            default_max_output,
        })
    }

    /// The first entry whose globs match `model`.
    pub fn price(&self, model: &str) -> Option<&Price> {
        self.entries
            .iter()
            .find(|(set, _)| set.is_match(model))
            .map(|(_, p)| p)
    }

    /// `prompt_bytes / 3` input tokens and `min(max_tokens, max_output)` output tokens
    /// (`max_output` when the request sets none), priced.
    pub fn estimate(
        &self,
        model: &str,
        prompt_bytes: usize,
        max_tokens: Option<u64>,
        images: u32,
    ) -> Estimate {
        let price = self.price(model);
        let cap = price.map_or(self.default_max_output, |p| p.max_output);
        let prompt_tokens = (prompt_bytes as u64).div_ceil(BYTES_PER_TOKEN);
        let output_tokens = max_tokens.map_or(cap, |m| m.min(cap));
        let counts = UsageCounts {
            prompt_tokens,
            completion_tokens: output_tokens,
            images,
            ..UsageCounts::default()
        };
        Estimate {
            prompt_tokens,
            output_tokens,
            images,
            cost: price.map_or(0, |p| p.cost(&counts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> PriceTable {
        let config: PricesConfig = toml::from_str(
            r#"
            default_max_output = 1000
            [[models]]
            match = ["gpt-4o-mini*"]
            input = 0.15
            cached_input = 0.075
            output = 0.6
            [[models]]
            match = ["gpt-4o*", "chatgpt-*"]
            input = 2.5
            output = 10.0
            max_output = 16384
            [[models]]
            match = ["dall-e-*"]
            image = 0.04
            [[models]]
            match = ["whisper-*", "sora-*"]
            audio_second = 0.0001
            video_second = 0.1
            "#,
        )
        .unwrap();
        PriceTable::new(&config).unwrap()
    }

    #[test]
    fn the_first_matching_glob_wins() {
        let t = table();
        assert_eq!(t.price("gpt-4o-mini-2024-07-18").unwrap().input, 150_000);
        assert_eq!(t.price("gpt-4o").unwrap().input, 2_500_000);
        assert_eq!(t.price("chatgpt-4o-latest").unwrap().output, 10_000_000);
        assert!(t.price("claude-3").is_none());
    }

    #[test]
    fn costs_use_every_price_and_round_up() {
        let t = table();
        let mini = t.price("gpt-4o-mini").unwrap();
        let u = UsageCounts {
            prompt_tokens: 1_000_000,
            cached_tokens: 400_000,
            completion_tokens: 100_000,
            ..UsageCounts::default()
        };
        // 600k × 0.15 + 400k × 0.075 + 100k × 0.6 = 0.09 + 0.03 + 0.06 = 0.18
        assert_eq!(mini.cost(&u), 180_000);
        let one = UsageCounts {
            completion_tokens: 1,
            ..UsageCounts::default()
        };
        assert_eq!(mini.cost(&one), 1, "a priced token is never free");
        let img = UsageCounts {
            images: 3,
            ..UsageCounts::default()
        };
        assert_eq!(t.price("dall-e-3").unwrap().cost(&img), 120_000);
        let av = UsageCounts {
            audio_ms: 60_000,
            video_ms: 5_500,
            ..UsageCounts::default()
        };
        assert_eq!(t.price("sora-2").unwrap().cost(&av), 6_000 + 550_000);
        assert_eq!(Price::default().cost(&u), 0);
    }

    #[test]
    fn estimates_take_the_prompt_size_and_max_tokens() {
        let t = table();
        let e = t.estimate("gpt-4o", 3000, Some(100), 0);
        assert_eq!((e.prompt_tokens, e.output_tokens), (1000, 100));
        assert_eq!(e.cost, 2_500 + 1_000);
        assert_eq!(t.estimate("gpt-4o", 0, None, 0).output_tokens, 16_384);
        assert_eq!(
            t.estimate("gpt-4o", 0, Some(1 << 40), 0).output_tokens,
            16_384
        );
        assert_eq!(t.estimate("unpriced", 10, None, 0).output_tokens, 1000);
        assert_eq!(t.estimate("unpriced", 10, None, 0).cost, 0);
        assert_eq!(t.estimate("gpt-4o", 30, Some(5), 0).tokens(), 15);
    }

    proptest! {
        #[test]
        fn cost_is_monotone_and_never_overflows(
            p in 0u64..u64::MAX / 2, c in 0u64..u64::MAX / 2, o in 0u64..u64::MAX / 2,
            extra in 0u64..1000,
        ) {
            let t = table();
            let price = t.price("gpt-4o").unwrap();
            let u = UsageCounts { prompt_tokens: p, cached_tokens: c, completion_tokens: o, ..UsageCounts::default() };
            let more = UsageCounts { completion_tokens: o + extra, ..u };
            let a = price.cost(&u);
            prop_assert!(a >= 0);
            prop_assert!(price.cost(&more) >= a);
        }
    }
}
