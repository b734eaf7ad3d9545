//! A WAV file around headerless 16-bit little-endian PCM (what Gemini's TTS models speak).
//!
//! Owns: the 44-byte RIFF/`fmt `/`data` header of mono s16le PCM at a given rate. Must never:
//! write a header whose sizes disagree with its data (a trailing half sample is dropped).

/// `pcm` (mono s16le at `rate` Hz) as a WAV file; `None` when it is too long for one (4 GiB).
pub(crate) fn wav(pcm: &[u8], rate: u32) -> Option<Vec<u8>> {
    let pcm = &pcm[..pcm.len() - pcm.len() % 2];
    let data = u32::try_from(pcm.len())
        .ok()
        .filter(|n| *n <= u32::MAX - 36)?;
    let byte_rate = rate.checked_mul(2)?;
    let mut out = Vec::with_capacity(44 + pcm.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.extend_from_slice(pcm);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    #[test]
    fn the_header_describes_its_data() {
        let pcm = [1u8, 0, 2, 0, 3];
        let w = wav(&pcm, 24_000).unwrap();
        assert_eq!(w.len(), 44 + 4);
        assert_eq!(&w[0..4], b"RIFF");
        assert_eq!(u32_at(&w, 4), 36 + 4);
        assert_eq!(&w[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(&w, 24), 24_000);
        assert_eq!(u32_at(&w, 28), 48_000);
        assert_eq!(&w[36..40], b"data");
        assert_eq!(u32_at(&w, 40), 4);
        assert_eq!(&w[44..], &pcm[..4]);
        assert_eq!(wav(&[], 24_000).unwrap().len(), 44);
    }
}
