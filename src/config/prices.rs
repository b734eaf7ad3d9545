//! The `[prices]` section: what a request costs, per model, in cost units.
//!
//! Owns: the price table's schema and its validation. Prices are written in currency units
//! (e.g. dollars) per 1M tokens, per image and per second of audio or video; the relay counts
//! cost in *cost units*, millionths of a currency unit, as integers (`1.00` = 1,000,000).
//! Must never: accept a price that is negative, not a number, or an invalid glob.

use super::ConfigError;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesConfig {
    /// Output tokens assumed when a request sets no `max_tokens` and its price has no
    /// `max_output` (for the quota reservation and the tokens-per-minute estimate).
    pub default_max_output: u32,
    /// First match wins; a model no entry matches costs nothing.
    pub models: Vec<ModelPrice>,
}

impl Default for PricesConfig {
    fn default() -> Self {
        Self {
            default_max_output: 4096,
            models: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Model name globs (`gpt-4o*`, `claude-*`), matched against the client-facing model.
    #[serde(rename = "match")]
    pub patterns: Vec<String>,
    /// Per 1M input tokens (uncached).
    #[serde(default)]
    pub input: f64,
    /// Per 1M cached input tokens; unset: the input price.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Per 1M output tokens.
    #[serde(default)]
    pub output: f64,
    /// Per generated image.
    #[serde(default)]
    pub image: f64,
    /// Per second of audio.
    #[serde(default)]
    pub audio_second: f64,
    /// Per second of video.
    #[serde(default)]
    pub video_second: f64,
    /// Output tokens assumed when a request sets no `max_tokens`; also caps the estimate.
    #[serde(default)]
    pub max_output: Option<u32>,
}

/// Currency units to cost units (millionths).
pub(crate) const UNITS_PER_CURRENCY: f64 = 1_000_000.0;
/// The largest price accepted, in currency units, so cost arithmetic cannot overflow.
const MAX_PRICE: f64 = 1_000_000.0;

impl ModelPrice {
    /// Every price of the entry with its key, for validation.
    fn prices(&self) -> [(&'static str, f64); 6] {
        [
            ("input", self.input),
            ("cached_input", self.cached_input.unwrap_or(0.0)),
            ("output", self.output),
            ("image", self.image),
            ("audio_second", self.audio_second),
            ("video_second", self.video_second),
        ]
    }
}

/// A price in currency units as integer cost units.
pub fn to_units(price: f64) -> i64 {
    (price * UNITS_PER_CURRENCY).round() as i64
}

impl PricesConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.default_max_output == 0 {
            return Err(ConfigError::Invalid(
                "prices.default_max_output must be above 0".to_owned(),
            ));
        }
        for (i, entry) in self.models.iter().enumerate() {
            if entry.patterns.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "prices.models[{i}]: `match` lists no model"
                )));
            }
            for pattern in &entry.patterns {
                globset::Glob::new(pattern).map_err(|e| {
                    ConfigError::Invalid(format!("prices.models[{i}]: `{pattern}`: {e}"))
                })?;
            }
            for (key, value) in entry.prices() {
                if !value.is_finite() || !(0.0..=MAX_PRICE).contains(&value) {
                    return Err(ConfigError::Invalid(format!(
                        "prices.models[{i}].{key} must be a number from 0 to {MAX_PRICE}"
                    )));
                }
            }
            if entry.max_output == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "prices.models[{i}].max_output must be above 0"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PricesConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn parses_and_validates_a_table() {
        let p = parse(
            r#"
            [[models]]
            match = ["gpt-4o*"]
            input = 2.5
            output = 10.0
            "#,
        );
        assert!(p.validate().is_ok());
        assert_eq!(to_units(p.models[0].input), 2_500_000);
        assert_eq!(to_units(0.15), 150_000);
    }

    #[test]
    fn rejects_bad_prices_and_globs() {
        for bad in [
            "[[models]]\nmatch = [\"a\"]\ninput = -1.0",
            "[[models]]\nmatch = [\"a\"]\noutput = nan",
            "[[models]]\nmatch = [\"a[\"]",
            "[[models]]\nmatch = []",
            "default_max_output = 0",
        ] {
            assert!(parse(bad).validate().is_err(), "{bad}");
        }
    }
}
