//! What a media answer is billed by, beside tokens.
//!
//! Owns: [`MediaUsage`]: images made, seconds of audio heard or spoken, characters spoken.
//! Must never: guess: a count the answer (or, for speech, the request) does not give is 0.

/// The billable units of one media answer (its tokens, where it reports them, are [`super::Usage`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct MediaUsage {
    /// Images in the answer.
    pub images: u64,
    /// Seconds of audio: a transcription's input, or a speech answer's length where known.
    pub audio_seconds: f64,
    /// Characters of a speech request's `input`.
    pub characters: u64,
}

impl MediaUsage {
    pub fn is_empty(&self) -> bool {
        self.images == 0 && self.audio_seconds == 0.0 && self.characters == 0
    }
}
