//! The `[prices]` section: what a request costs, per model, in cost units.
//!
//! Owns: the price table's schema and its validation. Prices are written in currency units
//! (e.g. dollars) per 1M tokens, per image (one price, or one per size and quality), per 1M
//! characters spoken and per second of audio or video; the relay counts cost in *cost units*,
//! millionths of a currency unit, as integers (`1.00` = 1,000,000).
//! Must never: accept a price that is negative, not a number, an invalid glob, or an image key
//! that is not `WIDTHxHEIGHT` or `WIDTHxHEIGHT/QUALITY`.

use super::ConfigError;
use crate::wire::{ImageQuality, ImageSize};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesConfig {
    /// Output tokens assumed when a request sets no `max_tokens` and its price has no
    /// `max_output` (for the quota reservation and the tokens-per-minute estimate).
    pub default_max_output: u32,
    /// The lowest bitrate assumed of an audio upload, in bytes per second, for a
    /// transcription's estimate: its seconds are at most `upload bytes / this` (2000: 16 kbps).
    pub audio_bytes_per_second: u32,
    /// Seconds a transcription is estimated at when its upload's size is not announced.
    pub default_audio_seconds: u32,
    /// First match wins; a model no entry matches costs nothing.
    pub models: Vec<ModelPrice>,
}

impl Default for PricesConfig {
    fn default() -> Self {
        Self {
            default_max_output: 4096,
            audio_bytes_per_second: 2000,
            default_audio_seconds: 600,
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
    /// Per generated image of a size and quality `images` does not list.
    #[serde(default)]
    pub image: f64,
    /// Per generated image by size (`"1024x1024"`) or size and quality (`"1024x1792/hd"`);
    /// an image is priced at its size and quality, else its size, else `image`.
    #[serde(default)]
    pub images: BTreeMap<String, f64>,
    /// Per 1M characters of a speech request's `input`.
    #[serde(default)]
    pub characters: f64,
    /// Per second of audio.
    #[serde(default)]
    pub audio_second: f64,
    /// Per second of video of a size `video_sizes` does not list.
    #[serde(default)]
    pub video_second: f64,
    /// Per second of video by size (`"1792x1024"`): a video is priced per second at its size,
    /// else at `video_second`.
    #[serde(default)]
    pub video_sizes: BTreeMap<String, f64>,
    /// Per video made, whatever its length (beside its seconds).
    #[serde(default)]
    pub video: f64,
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
    fn prices(&self) -> [(&'static str, f64); 8] {
        [
            ("input", self.input),
            ("cached_input", self.cached_input.unwrap_or(0.0)),
            ("output", self.output),
            ("image", self.image),
            ("characters", self.characters),
            ("audio_second", self.audio_second),
            ("video_second", self.video_second),
            ("video", self.video),
        ]
    }
}

/// An `images` key: `WIDTHxHEIGHT` or `WIDTHxHEIGHT/QUALITY` (`standard`, `hd`, `low`,
/// `medium`, `high`).
pub fn image_key(text: &str) -> Option<(ImageSize, Option<ImageQuality>)> {
    match text.split_once('/') {
        None => Some((ImageSize::parse(text)?, None)),
        Some((size, quality)) => {
            Some((ImageSize::parse(size)?, Some(ImageQuality::parse(quality)?)))
        }
    }
}

fn check_price(i: usize, key: &str, value: f64) -> Result<(), ConfigError> {
    if !value.is_finite() || !(0.0..=MAX_PRICE).contains(&value) {
        return Err(ConfigError::Invalid(format!(
            "prices.models[{i}].{key} must be a number from 0 to {MAX_PRICE}"
        )));
    }
    Ok(())
}

/// A price in currency units as integer cost units.
pub fn to_units(price: f64) -> i64 {
    (price * UNITS_PER_CURRENCY).round() as i64
}

impl PricesConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("default_max_output", self.default_max_output),
            ("audio_bytes_per_second", self.audio_bytes_per_second),
            ("default_audio_seconds", self.default_audio_seconds),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!(
                    "prices.{key} must be above 0"
                )));
            }
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
                check_price(i, key, value)?;
            }
            for (key, value) in &entry.images {
                if image_key(key).is_none() {
                    return Err(ConfigError::Invalid(format!(
                        "prices.models[{i}].images: `{key}` is not WIDTHxHEIGHT or \
                         WIDTHxHEIGHT/QUALITY (standard, hd, low, medium, high)"
                    )));
                }
                check_price(i, &format!("images.\"{key}\""), *value)?;
            }
            for (key, value) in &entry.video_sizes {
                if ImageSize::parse(key).is_none() {
                    return Err(ConfigError::Invalid(format!(
                        "prices.models[{i}].video_sizes: `{key}` is not WIDTHxHEIGHT"
                    )));
                }
                check_price(i, &format!("video_sizes.\"{key}\""), *value)?;
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
            "audio_bytes_per_second = 0",
            "[[models]]\nmatch = [\"a\"]\nimages = { \"auto\" = 0.1 }",
            "[[models]]\nmatch = [\"a\"]\nimages = { \"1024x1024/ultra\" = 0.1 }",
            "[[models]]\nmatch = [\"a\"]\nimages = { \"1024x1024\" = -0.1 }",
            "[[models]]\nmatch = [\"a\"]\ncharacters = inf",
        ] {
            assert!(parse(bad).validate().is_err(), "{bad}");
        }
        assert!(
            toml::from_str::<PricesConfig>("[[models]]\nmatch = [\"a\"]\nper_image = 1.0").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn media_prices_parse_by_size_and_quality() {
        let p = parse(
            r#"
            [[models]]
            match = ["dall-e-3"]
            image = 0.04
            images = { "1024x1024" = 0.04, "1024x1792" = 0.08, "1024x1792/hd" = 0.12 }
            [[models]]
            match = ["tts-1"]
            characters = 15.0
            "#,
        );
        assert!(p.validate().is_ok());
        assert_eq!(p.models[0].images.len(), 3);
        assert_eq!(to_units(p.models[1].characters), 15_000_000);
        let (size, quality) = image_key("1024x1792/hd").unwrap();
        assert_eq!(
            (size.to_string(), quality),
            ("1024x1792".to_owned(), Some(ImageQuality::Hd))
        );
        assert_eq!(image_key("1024x1024").unwrap().1, None);
        assert_eq!(
            (p.audio_bytes_per_second, p.default_audio_seconds),
            (2000, 600)
        );
    }
}
