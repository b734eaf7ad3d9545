//! The price table at work: which price a model has, what a usage costs, what a request is
//! estimated to cost before it runs.
//!
//! Owns: compiled model globs (first match wins), cost arithmetic in integer cost units
//! (rounded up, so nothing priced is ever free), the per-image price by size and quality, the
//! rule between tokens and media units (a model priced by tokens whose answer reported tokens
//! is billed by its tokens alone; otherwise by its tokens and its units), and the estimates:
//! a text request's from its prompt's size and `max_tokens`, a media request's from what it
//! asks (see [`PriceTable::estimate_media`]).
//! Must never: overflow (128-bit intermediates, saturated), or guess a price for a model no
//! entry matches (it costs 0).

use crate::config::{image_key, to_units, PricesConfig};
use crate::wire::{BodyKind, Endpoint, Family, ImageQuality, ImageSize, MediaUsage};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::sync::Arc;

/// One `images` entry: a size, with or without a quality, and its price per image.
type ImagePrice = (ImageSize, Option<ImageQuality>, i64);

/// Prices in cost units: per 1M tokens, per image, per 1M characters, per second of audio or
/// video.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Price {
    pub input: i64,
    pub cached_input: i64,
    pub output: i64,
    /// Per image of a size and quality `images` does not list.
    pub image: i64,
    /// Per image by size and quality (shared: cloning a price is cheap).
    pub images: Arc<[ImagePrice]>,
    /// Per 1M characters spoken.
    pub characters: i64,
    pub audio_second: i64,
    /// Per second of video of a size `video_sizes` does not list.
    pub video_second: i64,
    /// Per second of video by size.
    pub video_sizes: Arc<[(ImageSize, i64)]>,
    /// Per video made.
    pub video: i64,
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
    /// The upstream reported the tokens (not the relay's estimate).
    pub tokens_reported: bool,
    pub images: u32,
    pub image_size: Option<ImageSize>,
    pub image_quality: Option<ImageQuality>,
    pub characters: u64,
    pub audio_ms: u64,
    pub video_ms: u64,
}

fn ceil_div(n: i128, d: i128) -> i128 {
    (n + d - 1) / d
}

fn saturated(total: i128) -> i64 {
    i64::try_from(total).unwrap_or(i64::MAX)
}

impl Price {
    /// Whether the entry prices tokens (then an answer's reported tokens are what it bills).
    pub fn by_tokens(&self) -> bool {
        self.input > 0 || self.cached_input > 0 || self.output > 0
    }

    /// One image's price: its size and quality's, else its size's, else `image`.
    pub fn image_price(&self, size: Option<ImageSize>, quality: Option<ImageQuality>) -> i64 {
        let Some(size) = size else {
            return self.image;
        };
        let find = |q: Option<ImageQuality>| {
            self.images
                .iter()
                .find(|(s, iq, _)| *s == size && *iq == q)
                .map(|(_, _, p)| *p)
        };
        quality
            .and_then(|q| find(Some(q)))
            .or_else(|| find(None))
            .unwrap_or(self.image)
    }

    fn token_cost(&self, u: &UsageCounts) -> i128 {
        let cached = u.cached_tokens.min(u.prompt_tokens);
        let tokens = i128::from(u.prompt_tokens - cached) * i128::from(self.input)
            + i128::from(cached) * i128::from(self.cached_input)
            + i128::from(u.completion_tokens) * i128::from(self.output);
        ceil_div(tokens, 1_000_000)
    }

    fn unit_cost(&self, u: &UsageCounts) -> i128 {
        let image = self.image_price(u.image_size, u.image_quality);
        i128::from(u.images) * i128::from(image)
            + ceil_div(
                i128::from(u.characters) * i128::from(self.characters),
                1_000_000,
            )
            + ceil_div(i128::from(u.audio_ms) * i128::from(self.audio_second), 1000)
            + self.video_cost(u)
    }

    /// A video's price per second at `size`: its size's, else `video_second`.
    pub fn video_second_price(&self, size: Option<ImageSize>) -> i64 {
        size.and_then(|s| self.video_sizes.iter().find(|(vs, _)| *vs == s))
            .map_or(self.video_second, |(_, p)| *p)
    }

    /// A video's cost: its seconds at its size's price (a video record keeps its size in the
    /// image size field), and the per-video price once there is a video.
    fn video_cost(&self, u: &UsageCounts) -> i128 {
        if u.video_ms == 0 {
            return 0;
        }
        let per_second = self.video_second_price(u.image_size);
        ceil_div(i128::from(u.video_ms) * i128::from(per_second), 1000) + i128::from(self.video)
    }

    /// What `u` costs: its tokens alone when this entry prices tokens and the upstream
    /// reported them (gpt-image, gpt-4o-transcribe, gpt-4o-mini-tts's `usage`); otherwise its
    /// tokens and its media units (images, characters, audio and video seconds).
    pub fn cost(&self, u: &UsageCounts) -> i64 {
        let tokens = self.token_cost(u);
        let reported = u.tokens_reported && (u.prompt_tokens > 0 || u.completion_tokens > 0);
        if reported && self.by_tokens() {
            return saturated(tokens);
        }
        saturated(tokens + self.unit_cost(u))
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
    audio_bytes_per_second: u64,
    default_audio_seconds: u64,
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
            // Validated keys; one that does not read (never after validation) prices nothing.
            let images: Vec<ImagePrice> = m
                .images
                .iter()
                .filter_map(|(k, v)| image_key(k).map(|(s, q)| (s, q, to_units(*v))))
                .collect();
            let price = Price {
                input: to_units(m.input),
                cached_input: to_units(m.cached_input.unwrap_or(m.input)),
                output: to_units(m.output),
                image: to_units(m.image),
                images: images.into(),
                characters: to_units(m.characters),
                audio_second: to_units(m.audio_second),
                video_second: to_units(m.video_second),
                video_sizes: m
                    .video_sizes
                    .iter()
                    .filter_map(|(k, v)| ImageSize::parse(k).map(|s| (s, to_units(*v))))
                    .collect::<Vec<_>>()
                    .into(),
                video: to_units(m.video),
                max_output: m.max_output.map_or(default_max_output, u64::from),
            };
            entries.push((set.build()?, price));
        }
        Ok(Self {
            entries,
            default_max_output,
            audio_bytes_per_second: u64::from(config.audio_bytes_per_second.max(1)),
            default_audio_seconds: u64::from(config.default_audio_seconds),
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

    /// A media request's estimate: the larger of what its units and what its tokens would
    /// cost, so either way it is billed (tokens reported, or not), the estimate holds.
    ///
    /// - images: `n` images at the price of the size and quality asked; tokens (a model
    ///   priced by tokens): the prompt (a JSON body's bytes / 3; an upload's are mostly its
    ///   image and are not counted) and `max_output` output tokens per image;
    /// - speech: the `input` characters at the characters price; tokens: the body's bytes / 3
    ///   and `max_output` output tokens;
    /// - transcriptions and translations: at most `upload bytes / audio_bytes_per_second`
    ///   seconds (`default_audio_seconds` when the upload's size is not announced) at the
    ///   audio price; tokens: `max_output` output tokens (the audio's input tokens are not
    ///   estimated: the bytes say little of them);
    /// - moderations: the body's bytes / 3 input tokens.
    pub fn estimate_media(
        &self,
        endpoint: Endpoint,
        model: &str,
        prompt_bytes: usize,
        asked: Option<&MediaUsage>,
    ) -> Estimate {
        let asked = asked.copied().unwrap_or_default();
        let price = self.price(model);
        let cap = price.map_or(self.default_max_output, |p| p.max_output);
        let by_tokens = price.is_some_and(Price::by_tokens);
        let body_tokens = match endpoint.body_kind() {
            BodyKind::Json => (prompt_bytes as u64).div_ceil(BYTES_PER_TOKEN),
            BodyKind::Multipart => 0,
        };
        let mut units = UsageCounts::default();
        let (prompt_tokens, output_tokens) = match endpoint.family() {
            Family::Images => {
                let n = asked.images.max(1);
                units.images = u32::try_from(n).unwrap_or(u32::MAX);
                units.image_size = asked.size;
                units.image_quality = asked.quality;
                (body_tokens, cap.saturating_mul(n))
            }
            Family::Speech => {
                units.characters = asked.characters;
                (body_tokens, cap)
            }
            Family::Transcriptions => {
                let seconds = if prompt_bytes > 0 {
                    (prompt_bytes as u64).div_ceil(self.audio_bytes_per_second)
                } else {
                    self.default_audio_seconds
                };
                units.audio_ms = seconds.saturating_mul(1000);
                (0, cap)
            }
            Family::Moderations => (body_tokens, 0),
            // A video task: the seconds asked at its size's price, and the per-video price.
            Family::Videos => {
                units.video_ms = (asked.video_seconds.max(0.0) * 1000.0).ceil() as u64;
                units.image_size = asked.size;
                (0, 0)
            }
            Family::Chat
            | Family::Completions
            | Family::Embeddings
            | Family::Messages
            | Family::GenerateContent
            | Family::CountTokens
            | Family::EmbedContent
            | Family::Models => return self.estimate(model, prompt_bytes, None, 0),
        };
        // Tokens are reserved (and count against a tokens-per-minute limit) only where they
        // are priced.
        let (prompt_tokens, output_tokens) = if by_tokens {
            (prompt_tokens, output_tokens)
        } else {
            (0, 0)
        };
        let tokens = UsageCounts {
            prompt_tokens,
            completion_tokens: output_tokens,
            tokens_reported: true,
            ..UsageCounts::default()
        };
        let cost = price.map_or(0, |p| p.cost(&units).max(p.cost(&tokens)));
        Estimate {
            prompt_tokens,
            output_tokens,
            images: units.images,
            cost,
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
    fn a_video_is_priced_by_its_seconds_at_its_size_and_per_video() {
        let config: PricesConfig = toml::from_str(
            r#"
            [[models]]
            match = ["sora-2-pro"]
            video_second = 0.3
            video_sizes = { "1792x1024" = 0.5 }
            video = 0.01
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        let t = PriceTable::new(&config).unwrap();
        let p = t.price("sora-2-pro").unwrap();
        let at = |ms: u64, size: &str| {
            p.cost(&UsageCounts {
                video_ms: ms,
                image_size: ImageSize::parse(size),
                ..UsageCounts::default()
            })
        };
        // 4 s at 0.30 + 0.01; at 1792x1024, 4 s at 0.50 + 0.01.
        assert_eq!(at(4000, "720x1280"), 1_210_000);
        assert_eq!(at(4000, "1792x1024"), 2_010_000);
        assert_eq!(at(0, "1792x1024"), 0, "no video, no per-video price");
        let bad: PricesConfig =
            toml::from_str("[[models]]\nmatch = [\"x\"]\nvideo_sizes = { big = 1.0 }\n").unwrap();
        assert!(bad.validate().is_err());
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

    /// The media price table of the unit tests: OpenAI's published prices, in dollars.
    fn media_table() -> PriceTable {
        let config: PricesConfig = toml::from_str(
            r#"
            audio_bytes_per_second = 1000
            default_audio_seconds = 60
            [[models]]
            match = ["dall-e-3"]
            image = 0.04
            images = { "1024x1024" = 0.04, "1024x1024/hd" = 0.08, "1024x1792" = 0.08, "1024x1792/hd" = 0.12 }
            [[models]]
            match = ["gpt-image-1"]
            input = 5.0
            output = 40.0
            images = { "1024x1024/low" = 0.011, "1024x1024/high" = 0.167 }
            max_output = 4160
            [[models]]
            match = ["tts-1"]
            characters = 15.0
            [[models]]
            match = ["gpt-4o-mini-tts"]
            input = 0.6
            output = 12.0
            characters = 15.0
            max_output = 2000
            [[models]]
            match = ["whisper-1"]
            audio_second = 0.0001
            [[models]]
            match = ["gpt-4o-transcribe"]
            input = 6.0
            output = 10.0
            audio_second = 0.0001
            max_output = 1000
            [[models]]
            match = ["text-moderation-*"]
            input = 0.1
            "#,
        )
        .unwrap();
        PriceTable::new(&config).unwrap()
    }

    fn image(n: u32, size: &str, quality: Option<ImageQuality>) -> UsageCounts {
        UsageCounts {
            images: n,
            image_size: ImageSize::parse(size),
            image_quality: quality,
            ..UsageCounts::default()
        }
    }

    #[test]
    fn images_cost_their_size_and_quality_price_else_the_image_price() {
        let t = media_table();
        let p = t.price("dall-e-3").unwrap();
        assert_eq!(p.cost(&image(2, "1024x1024", None)), 80_000);
        assert_eq!(
            p.cost(&image(1, "1024x1792", Some(ImageQuality::Hd))),
            120_000
        );
        assert_eq!(
            p.cost(&image(1, "1024x1792", Some(ImageQuality::Standard))),
            80_000,
            "an unlisted quality takes its size's price"
        );
        assert_eq!(
            p.cost(&image(1, "1792x1024", None)),
            40_000,
            "unlisted size: `image`"
        );
        assert_eq!(p.cost(&image(1, "auto", None)), 40_000, "no size: `image`");
    }

    #[test]
    fn a_model_priced_by_tokens_is_billed_by_its_reported_tokens() {
        let t = media_table();
        let p = t.price("gpt-image-1").unwrap();
        let reported = UsageCounts {
            prompt_tokens: 50,
            completion_tokens: 4160,
            tokens_reported: true,
            ..image(1, "1024x1024", Some(ImageQuality::High))
        };
        // 50 × 5 / 1M + 4160 × 40 / 1M = 0.00025 + 0.1664 (the image price is not added)
        assert_eq!(p.cost(&reported), 250 + 166_400);
        let unreported = UsageCounts {
            tokens_reported: false,
            prompt_tokens: 0,
            completion_tokens: 0,
            ..reported
        };
        assert_eq!(p.cost(&unreported), 167_000, "no tokens: the image's price");
        let dalle = UsageCounts {
            tokens_reported: true,
            prompt_tokens: 10,
            ..image(1, "1024x1024", None)
        };
        assert_eq!(
            t.price("dall-e-3").unwrap().cost(&dalle),
            40_000,
            "a model not priced by tokens bills its units"
        );
    }

    #[test]
    fn speech_costs_its_characters_or_its_tokens() {
        let t = media_table();
        let chars = UsageCounts {
            characters: 1000,
            ..UsageCounts::default()
        };
        assert_eq!(t.price("tts-1").unwrap().cost(&chars), 15_000);
        let mini = t.price("gpt-4o-mini-tts").unwrap();
        assert_eq!(
            mini.cost(&chars),
            15_000,
            "a binary answer reports no tokens"
        );
        let sse = UsageCounts {
            prompt_tokens: 14,
            completion_tokens: 101,
            tokens_reported: true,
            ..chars
        };
        // 14 × 0.6 + 101 × 12 per 1M = 8.4 + 1212 → 1221 (rounded up)
        assert_eq!(mini.cost(&sse), 1_221);
    }

    #[test]
    fn transcriptions_cost_their_seconds_or_their_tokens() {
        let t = media_table();
        let nine = UsageCounts {
            audio_ms: 9_000,
            ..UsageCounts::default()
        };
        assert_eq!(t.price("whisper-1").unwrap().cost(&nine), 900);
        let tokens = UsageCounts {
            prompt_tokens: 14,
            completion_tokens: 3,
            tokens_reported: true,
            ..UsageCounts::default()
        };
        assert_eq!(t.price("gpt-4o-transcribe").unwrap().cost(&tokens), 84 + 30);
        assert_eq!(t.price("whisper-1").unwrap().cost(&tokens), 0);
    }

    /// What a transcription answer says (`media::usage::of_answer`), priced as the record
    /// prices it: whisper-1 by its `duration` seconds, gpt-4o-transcribe by its tokens.
    #[test]
    fn transcriptions_are_billed_from_their_answers() {
        use crate::media::usage::of_answer;
        let t = media_table();
        let counts = |body: &[u8]| {
            let (usage, media) = of_answer(Endpoint::Transcriptions, body);
            let usage = usage.unwrap_or_default();
            UsageCounts {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                tokens_reported: true,
                audio_ms: (media.audio_seconds * 1000.0).ceil() as u64,
                ..UsageCounts::default()
            }
        };
        let whisper = counts(br#"{"text":"hi","usage":{"type":"duration","seconds":9}}"#);
        assert_eq!(t.price("whisper-1").unwrap().cost(&whisper), 900);
        let verbose = counts(br#"{"task":"transcribe","duration":8.47,"text":"hi"}"#);
        assert_eq!(t.price("whisper-1").unwrap().cost(&verbose), 847);
        let tokens = counts(
            br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":3}}"#,
        );
        let p = t.price("gpt-4o-transcribe").unwrap();
        assert_eq!(p.cost(&tokens), 84 + 30, "tokens, not seconds");
        let text_only = counts(br#"{"text":"hi"}"#);
        assert_eq!(
            p.cost(&text_only),
            0,
            "an answer that says nothing costs nothing"
        );
    }

    #[test]
    fn media_estimates_cover_either_billing() {
        let t = media_table();
        let asked = MediaUsage {
            images: 2,
            size: ImageSize::parse("1024x1792"),
            quality: Some(ImageQuality::Hd),
            ..MediaUsage::default()
        };
        let e = t.estimate_media(Endpoint::ImageGenerations, "dall-e-3", 90, Some(&asked));
        assert_eq!((e.cost, e.images, e.tokens()), (240_000, 2, 0));
        let one = MediaUsage { images: 1, ..asked };
        let e = t.estimate_media(Endpoint::ImageGenerations, "gpt-image-1", 300, Some(&one));
        // tokens: 100 × 5 + 4160 × 40 per 1M = 0.1669 > the unlisted size's image price (0)
        assert_eq!((e.prompt_tokens, e.output_tokens), (100, 4160));
        assert_eq!(e.cost, 500 + 166_400);
        let speech = MediaUsage {
            characters: 2000,
            ..MediaUsage::default()
        };
        let e = t.estimate_media(Endpoint::Speech, "tts-1", 2100, Some(&speech));
        assert_eq!((e.cost, e.tokens()), (30_000, 0));
        let e = t.estimate_media(Endpoint::Speech, "gpt-4o-mini-tts", 2100, Some(&speech));
        // tokens: 700 × 0.6 + 2000 × 12 per 1M = 24_420 < characters: 30_000
        assert_eq!(e.cost, 30_000);
        let e = t.estimate_media(Endpoint::Transcriptions, "whisper-1", 120_000, None);
        assert_eq!(e.cost, 120 * 100, "120 kB at 1000 B/s: 120 s");
        let e = t.estimate_media(Endpoint::Transcriptions, "whisper-1", 0, None);
        assert_eq!(e.cost, 60 * 100, "no size: default_audio_seconds");
        let e = t.estimate_media(Endpoint::Transcriptions, "gpt-4o-transcribe", 0, None);
        assert_eq!(
            (e.prompt_tokens, e.output_tokens, e.cost),
            (0, 1000, 10_000)
        );
        let e = t.estimate_media(Endpoint::Moderations, "omni-moderation-latest", 300, None);
        assert_eq!(e.cost, 0, "unpriced moderations are free");
        let e = t.estimate_media(Endpoint::Moderations, "text-moderation-007", 300, None);
        assert_eq!(e.cost, 10);
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
