//! Deterministic speech audio in each of OpenAI's `response_format`s, and the duration of an
//! uploaded clip.
//! Owns audio bytes: real WAV and PCM (24 kHz s16le mono, a tone), real MP3 frames (MPEG-1
//! Layer III, silent), a FLAC stream header without frames, and placeholders for opus and aac
//! (their magic bytes and silence: not decodable). Must never read the clock or an RNG.

use std::io::Cursor;

use super::words::splitmix;

/// Sample rate of generated speech (OpenAI's `pcm` is 24 kHz).
pub(crate) const RATE: u32 = 24_000;
/// Speech length per input character, and its bounds.
const MS_PER_CHAR: u64 = 60;
const MIN_MS: u64 = 200;
const MAX_MS: u64 = 20_000;

/// An audio container the speech endpoint writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Mp3,
    Opus,
    Aac,
    Flac,
    Wav,
    Pcm,
}

impl Format {
    /// Parses a `response_format` word.
    pub(crate) fn parse(word: &str) -> Option<Format> {
        Some(match word {
            "mp3" => Format::Mp3,
            "opus" => Format::Opus,
            "aac" => Format::Aac,
            "flac" => Format::Flac,
            "wav" => Format::Wav,
            "pcm" => Format::Pcm,
            _ => return None,
        })
    }

    /// The Content-Type: `audio/mpeg` for mp3 is confirmed; the others are as clones send
    /// them (unconfirmed).
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Mp3 => "audio/mpeg",
            Format::Opus => "audio/opus",
            Format::Aac => "audio/aac",
            Format::Flac => "audio/flac",
            Format::Wav => "audio/wav",
            Format::Pcm => "audio/pcm",
        }
    }
}

/// How long the speech for `chars` input characters lasts at `speed`, in milliseconds.
pub(crate) fn speech_ms(chars: usize, speed: f64) -> u64 {
    let base = (chars as u64)
        .saturating_mul(MS_PER_CHAR)
        .clamp(MIN_MS, MAX_MS);
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    ((base as f64 / speed) as u64).clamp(MIN_MS / 4, MAX_MS * 4)
}

/// `ms` of a tone chosen by `seed`, as 24 kHz s16 mono samples.
fn samples(seed: u64, ms: u64) -> Vec<i16> {
    let mut s = seed;
    let freq = 200.0 + (splitmix(&mut s) % 600) as f64;
    let n = RATE as u64 * ms / 1000;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (f64::sin(t * freq * std::f64::consts::TAU) * 8000.0) as i16
        })
        .collect()
}

/// The speech audio for `seed` lasting `ms`, in `format`.
pub(crate) fn speech(format: Format, seed: u64, ms: u64) -> Vec<u8> {
    match format {
        Format::Pcm => samples(seed, ms)
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect(),
        Format::Wav => wav(&samples(seed, ms)),
        Format::Mp3 => mp3_silence(ms),
        Format::Flac => flac_header(RATE as u64 * ms / 1000),
        Format::Opus => placeholder(b"OggS\x00\x02", ms),
        Format::Aac => placeholder(b"\xff\xf1\x50\x80", ms),
    }
}

fn wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let written = hound::WavWriter::new(&mut out, spec).and_then(|mut w| {
        samples.iter().try_for_each(|s| w.write_sample(*s))?;
        w.finalize()
    });
    match written {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}

/// MPEG-1 Layer III frames at 44.1 kHz, 128 kbit/s, mono, no CRC: 417 bytes each (header,
/// zeroed side info and main data = silence), 1152 samples each.
fn mp3_silence(ms: u64) -> Vec<u8> {
    const FRAME: usize = 417;
    let frames = (ms * 44_100 / 1000).div_ceil(1152).max(1);
    let mut out = Vec::with_capacity(FRAME * frames as usize);
    for _ in 0..frames {
        out.extend_from_slice(&[0xff, 0xfb, 0x90, 0xc4]);
        out.resize(out.len() + FRAME - 4, 0);
    }
    out
}

/// A FLAC stream: `fLaC` and a STREAMINFO block (24 kHz, mono, 16 bit, `total` samples),
/// without audio frames.
fn flac_header(total: u64) -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    out.extend_from_slice(&4096u16.to_be_bytes());
    out.extend_from_slice(&4096u16.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    // 20 bits rate, 3 bits channels-1 (0: mono), 5 bits bits-1, 36 bits total samples.
    let packed: u64 = (u64::from(RATE) << 44) | (15 << 36) | (total & 0xf_ffff_ffff);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]);
    out
}

/// A placeholder: `magic`, then zeros at 16 kB/s.
fn placeholder(magic: &[u8], ms: u64) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.resize(magic.len() + (ms * 16) as usize, 0);
    out
}

/// The length of an uploaded clip in seconds: read from a WAV header when it is one, else
/// estimated from its size at 16 kB/s (128 kbit/s).
pub(crate) fn duration_secs(head: &[u8], size: u64) -> f64 {
    match hound::WavReader::new(Cursor::new(head)) {
        Ok(r) => {
            let spec = r.spec();
            f64::from(r.duration()) / f64::from(spec.sample_rate.max(1))
        }
        Err(_) => size as f64 / 16_000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_and_pcm_are_real() {
        let ms = speech_ms(10, 1.0);
        assert_eq!(ms, 600);
        let wav = speech(Format::Wav, 3, ms);
        let r = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        assert_eq!(r.spec().sample_rate, RATE);
        assert_eq!(r.duration(), 14_400);
        assert!((duration_secs(&wav[..64], wav.len() as u64) - 0.6).abs() < 1e-9);
        let pcm = speech(Format::Pcm, 3, ms);
        assert_eq!(pcm.len(), 28_800);
        assert_eq!(&wav[44..], &pcm[..]);
        assert_eq!(speech(Format::Pcm, 3, ms), pcm);
    }

    #[test]
    fn mp3_frames_and_flac_header() {
        let mp3 = speech(Format::Mp3, 1, 1000);
        assert_eq!(mp3.len() % 417, 0);
        assert!(mp3
            .chunks(417)
            .all(|f| f.starts_with(&[0xff, 0xfb, 0x90, 0xc4])));
        let flac = speech(Format::Flac, 1, 1000);
        assert!(flac.starts_with(b"fLaC"));
        assert_eq!(flac.len(), 42);
        assert_eq!(duration_secs(b"not a wav", 32_000), 2.0);
    }
}
