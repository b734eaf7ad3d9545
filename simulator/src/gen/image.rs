//! Deterministic images: a small real PNG whose colours come from a seed (the prompt's hash),
//! with the aspect ratio of the size asked for.
//! Owns image bytes; must never read the clock or an RNG.

use super::words::splitmix;

/// Longest side of a generated image, in pixels (whatever size the request names).
const SIDE: u32 = 32;

/// The pixel size of a generated image for a requested `WIDTHxHEIGHT` (or `auto`): the same
/// ratio, scaled so the longer side is [`SIDE`].
pub(crate) fn dimensions(size: &str) -> (u32, u32) {
    let parsed = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0);
    match parsed {
        Some((w, h)) if w >= h => (SIDE, (SIDE * h / w).max(1)),
        Some((w, h)) => ((SIDE * w / h).max(1), SIDE),
        None => (SIDE, SIDE),
    }
}

/// A `width` x `height` RGBA PNG: a two-colour diagonal gradient chosen by `seed`.
pub(crate) fn png(seed: u64, width: u32, height: u32) -> Vec<u8> {
    let mut s = seed;
    let a = splitmix(&mut s).to_le_bytes();
    let b = splitmix(&mut s).to_le_bytes();
    let span = (width + height).max(1);
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let t = (x + y) * 255 / span;
            for c in 0..3 {
                let mix = (u32::from(a[c]) * (255 - t) + u32::from(b[c]) * t) / 255;
                pixels.push(u8::try_from(mix).unwrap_or(u8::MAX));
            }
            pixels.push(255);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels));
    match written {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// The width and height of a PNG, read from its header (the first 24 bytes suffice).
pub(crate) fn png_size(head: &[u8]) -> Option<(u32, u32)> {
    if !head.starts_with(PNG_MAGIC) || head.len() < 24 || &head[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| {
        head.get(at..at + 4)?
            .try_into()
            .ok()
            .map(u32::from_be_bytes)
    };
    Some((be(16)?, be(20)?))
}

/// The first bytes of every PNG file.
pub(crate) const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_png_with_the_ratio() {
        assert_eq!(dimensions("1536x1024"), (32, 21));
        assert_eq!(dimensions("1024x1792"), (18, 32));
        assert_eq!(dimensions("auto"), (32, 32));
        let bytes = png(7, 32, 21);
        assert_eq!(bytes, png(7, 32, 21));
        assert_ne!(bytes, png(8, 32, 21));
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (32, 21));
        assert_eq!(png_size(&bytes), Some((32, 21)));
    }
}
