//! What a media request is billed by, beside tokens.
//!
//! Owns: [`MediaUsage`]: images made (or, on a request, asked for), seconds of audio heard or
//! spoken, characters spoken, and an image's size and quality (which pick its price);
//! [`ImageSize`] and [`ImageQuality`], their words, and merging what a request asked with what
//! its answer said ([`MediaUsage::billed`]).
//! Must never: guess: a count the answer (or, for speech, the request) does not give is 0, and
//! a size or quality that is absent, `auto` or not one of OpenAI's words is `None`.

use std::fmt;

/// An image's `WIDTHxHEIGHT` in pixels (`auto` is no size: the model chose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageSize {
    pub width: u16,
    pub height: u16,
}

impl ImageSize {
    /// `1024x1792`; anything else (`auto`, `1024`, `0x5`, an overflow) is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (w, h) = text.trim().split_once(['x', 'X'])?;
        let width: u16 = w.parse().ok()?;
        let height: u16 = h.parse().ok()?;
        (width > 0 && height > 0).then_some(Self { width, height })
    }
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl serde::Serialize for ImageSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An image's `quality`: dall-e-3's `standard`/`hd`, GPT image models' `low`/`medium`/`high`
/// (`auto` is no quality: the model chose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageQuality {
    Standard,
    Hd,
    Low,
    Medium,
    High,
}

impl ImageQuality {
    pub const ALL: [ImageQuality; 5] = [
        ImageQuality::Standard,
        ImageQuality::Hd,
        ImageQuality::Low,
        ImageQuality::Medium,
        ImageQuality::High,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageQuality::Standard => "standard",
            ImageQuality::Hd => "hd",
            ImageQuality::Low => "low",
            ImageQuality::Medium => "medium",
            ImageQuality::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(text))
    }
}

/// The billable units of one media request: what its answer made, and what the request asked
/// for where the answer does not say (speech's characters, an image's size and quality). Its
/// tokens, where the answer reports them, are [`super::Usage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct MediaUsage {
    /// Images in the answer (on a request: the `n` asked for, the estimate's count).
    pub images: u64,
    /// Seconds of audio: a transcription's input, or a speech answer's length where known.
    pub audio_seconds: f64,
    /// Characters of a speech request's `input`.
    pub characters: u64,
    /// The images' size, from the answer when it says (a GPT image model's `auto` resolved),
    /// else from the request.
    pub size: Option<ImageSize>,
    /// The images' quality, likewise.
    pub quality: Option<ImageQuality>,
    /// Seconds of video: a video task's, as asked (its charge at creation; the settlement
    /// corrects it to what was made).
    pub video_seconds: f64,
}

impl MediaUsage {
    pub fn is_empty(&self) -> bool {
        self.images == 0
            && self.audio_seconds == 0.0
            && self.characters == 0
            && self.size.is_none()
            && self.quality.is_none()
            && self.video_seconds == 0.0
    }

    /// Adds one more part of an answer (a stream's event): counts add up, a size or quality
    /// said later replaces one said before.
    pub fn add(&mut self, more: &MediaUsage) {
        self.images = self.images.saturating_add(more.images);
        self.audio_seconds += more.audio_seconds;
        self.characters = self.characters.saturating_add(more.characters);
        self.size = more.size.or(self.size);
        self.quality = more.quality.or(self.quality);
        self.video_seconds += more.video_seconds;
    }

    /// What a request is billed by, from what it `asked` and what its answer said
    /// (`answered`): images and audio seconds are the answer's (a request's `n` is only its
    /// estimate); characters are the request's (a speech answer does not count them); size
    /// and quality are the answer's where it says, else the request's.
    pub fn billed(asked: Option<MediaUsage>, answered: Option<MediaUsage>) -> Option<MediaUsage> {
        let asked = asked.unwrap_or_default();
        let answered = answered.unwrap_or_default();
        let billed = MediaUsage {
            images: answered.images,
            audio_seconds: answered.audio_seconds,
            characters: if answered.characters > 0 {
                answered.characters
            } else {
                asked.characters
            },
            size: answered.size.or(asked.size),
            quality: answered.quality.or(asked.quality),
            // A created task is charged the seconds asked (settled when it ends).
            video_seconds: if answered.video_seconds > 0.0 {
                answered.video_seconds
            } else {
                asked.video_seconds
            },
        };
        (!billed.is_empty()).then_some(billed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_qualities_read_openais_words_only() {
        let s = ImageSize::parse("1024x1792").unwrap();
        assert_eq!((s.width, s.height), (1024, 1792));
        assert_eq!(s.to_string(), "1024x1792");
        for bad in ["auto", "1024", "0x1024", "99999x1", "axb", ""] {
            assert_eq!(ImageSize::parse(bad), None, "{bad}");
        }
        for q in ImageQuality::ALL {
            assert_eq!(ImageQuality::parse(q.as_str()), Some(q));
        }
        assert_eq!(ImageQuality::parse("HD"), Some(ImageQuality::Hd));
        assert_eq!(ImageQuality::parse("auto"), None);
    }

    #[test]
    fn the_answer_counts_and_the_request_fills_in() {
        let asked = MediaUsage {
            images: 2,
            characters: 12,
            size: ImageSize::parse("1024x1024"),
            quality: None,
            ..MediaUsage::default()
        };
        let answered = MediaUsage {
            images: 1,
            quality: Some(ImageQuality::High),
            ..MediaUsage::default()
        };
        let b = MediaUsage::billed(Some(asked), Some(answered)).unwrap();
        assert_eq!(b.images, 1, "billed what was made, not what was asked");
        assert_eq!(b.characters, 12);
        assert_eq!(b.size, ImageSize::parse("1024x1024"));
        assert_eq!(b.quality, Some(ImageQuality::High));
        let failed = MediaUsage::billed(Some(asked), None).unwrap();
        assert_eq!(failed.images, 0, "no answer, no images");
        assert_eq!(MediaUsage::billed(None, None), None);
    }

    #[test]
    fn stream_parts_add_up() {
        let mut m = MediaUsage::default();
        let part = MediaUsage {
            images: 1,
            audio_seconds: 1.5,
            size: ImageSize::parse("1536x1024"),
            ..MediaUsage::default()
        };
        m.add(&part);
        m.add(&MediaUsage {
            images: 1,
            ..MediaUsage::default()
        });
        assert_eq!((m.images, m.audio_seconds), (2, 1.5));
        assert_eq!(m.size, ImageSize::parse("1536x1024"));
    }
}
